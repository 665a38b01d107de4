"""Training dynamics: a fixed subsample of each test set, scored at every checkpoint of a run.

The subsample is the same at every checkpoint and for every run of a seed: per task and
language, the `per_lang` test items with the smallest seeded tickets. Its per-language means,
stored with their step (the checkpoint_metrics table), show how the seen and the unseen
languages move during one run (Table 2 correlates them). Only the checkpoint with the lowest
validation loss gets the full evaluation that the figures use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clt_kit.evaluate.judge import Judge
from clt_kit.evaluate.tasks import evaluate_items, language_means
from clt_kit.scales import EvalConfig
from clt_kit.seeding import derive_seed


def subsample(items: list[dict[str, Any]], per_lang: int, seed: int) -> list[dict[str, Any]]:
    """The `per_lang` items of each language with the smallest tickets of (seed, item id), in
    (language, ticket) order; independent of the items' order."""
    by_lang: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_lang.setdefault(item["lang"], []).append(item)
    ticket = lambda item: (derive_seed(seed, "dynamics", item["id"]), item["id"])  # noqa: E731
    return [item for lang in sorted(by_lang) for item in sorted(by_lang[lang], key=ticket)[:per_lang]]


@dataclass
class CheckpointScores:
    """An `on_checkpoint` for sft(): scores the subsample of each task's test items at each
    checkpoint and keeps the checkpoint_metrics rows ({"step", "task", "lang", "score", "n"}).
    IF answers are rated by `judge` where there is one, as in the full evaluation."""

    tests: dict[str, list[dict[str, Any]]]  # task -> its subsample
    config: EvalConfig
    judge: Judge | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, tests: dict[str, list[dict[str, Any]]], config: EvalConfig, seed: int, judge: Judge | None = None) -> CheckpointScores:
        return cls({task: subsample(items, config.dynamics_per_lang, seed) for task, items in tests.items()}, config, judge)

    def __call__(self, model: Any, tokenizer: Any, step: int) -> None:
        for task, items in self.tests.items():
            if not items:
                continue
            scored = evaluate_items(model, tokenizer, items, task, self.config, self.judge)
            counts = {lang: sum(r["lang"] == lang for r in scored) for lang in {r["lang"] for r in scored}}
            self.rows += [{"step": step, "task": task, "lang": lang, "score": mean, "n": counts[lang]}
                          for lang, mean in language_means(scored).items()]
