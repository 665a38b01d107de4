"""Tiny causal LMs from transformers model classes, and content hashes of their weights."""

from __future__ import annotations

import hashlib

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedModel

from clt_kit.scales import ModelSize


def build_model(size: ModelSize, vocab_size: int, seq_len: int, seed: int) -> PreTrainedModel:
    """A freshly initialized model of `size`, its weights drawn from `seed`."""
    if size.architecture != "llama":
        raise ValueError(f"unknown architecture {size.architecture!r}; supported: llama")
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        intermediate_size=size.intermediate,
        max_position_embeddings=seq_len + 64,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def weights_hash(model: torch.nn.Module) -> str:
    """sha256 over every parameter and buffer, in name order (identical weights, identical hash)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()


def set_determinism(seed: int, cpu_threads: int) -> dict[str, object]:
    """Seeds torch, fixes its CPU thread count (CPU results depend on it) and asks for
    deterministic kernels; returns the flags to store with a run."""
    torch.set_num_threads(cpu_threads)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return {"torch_seed": seed, "deterministic_algorithms": True, "threads": torch.get_num_threads()}
