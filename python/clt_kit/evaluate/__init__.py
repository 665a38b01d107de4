"""Evaluation: batched greedy generation and the paper's three metrics, one row per example."""
