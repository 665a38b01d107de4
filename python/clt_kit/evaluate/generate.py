"""Batched greedy generation: left padding, KV cache, stop at end-of-sequence.

A row leaves its batch, and the KV cache, as soon as it writes the end-of-sequence token, so a
batch costs what its unfinished rows cost: with transformers' `generate`, every row of a batch is
computed until the longest answer ends (or `max_new_tokens`), and a few long answers made a batch
of 64 little faster than one prompt at a time (benchmarks/bench_train.py). The answers are those
of `generate` with greedy decoding (tested). vLLM can run the forward passes instead
(evaluate/vllm_backend.py): same prompt tokens, same decoding, its answers tested equal.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import torch
from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerBase

from clt_kit.evaluate.vllm_backend import VllmModel, greedy_vllm
from clt_kit.train.loop import forward_takes
from clt_kit.train.tokenizer import prompt_ids

log = logging.getLogger("clt_kit")


@torch.no_grad()
def generate(
    model: PreTrainedModel | VllmModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    max_prompt_tokens: int | None,
) -> list[str]:
    """Greedy answers to `prompts`, in order. Prompts are batched by length to limit padding; a
    prompt longer than `max_prompt_tokens` keeps its end (counted in a warning; None: never cut).
    `model` is a transformers model, or a VllmModel: vLLM then runs the forward passes (in its
    own environment, all prompts at once), on the same prompt tokens, decoded the same way."""
    encoded = [prompt_ids(tokenizer, p) for p in prompts]
    if max_prompt_tokens is not None and (cut := sum(len(e) > max_prompt_tokens for e in encoded)):
        log.warning("%d of %d prompts are longer than %d tokens and lose their beginning", cut, len(prompts), max_prompt_tokens)
        encoded = [e[-max_prompt_tokens:] for e in encoded]
    if isinstance(model, VllmModel):
        new = greedy_vllm(model, encoded, max_new_tokens)
    else:
        new = _batched(model, tokenizer, encoded, max_new_tokens, batch_size)
    return [tokenizer.decode(tokens, skip_special_tokens=True).strip() for tokens in new]


def _batched(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, encoded: list[list[int]], max_new_tokens: int,
             batch_size: int) -> list[list[int]]:
    """`greedy` over batches of prompts of similar length; the new tokens in the prompts' order."""
    tokenizer.padding_side = "left"
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i]), i))
    new: list[list[int]] = [[] for _ in encoded]
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, return_tensors="pt")
        for i, tokens in zip(idx, greedy(model, batch["input_ids"], batch["attention_mask"], max_new_tokens, tokenizer.eos_token_id)):
            new[i] = tokens
    return new


def place(model: PreTrainedModel | VllmModel, precision: str) -> PreTrainedModel | VllmModel:
    """A loaded model on the GPU when there is one (in bf16 when `precision` says so), else as it is
    on the CPU, in eval mode. Not for a model in training: it stays where its trainer put it.
    A VllmModel runs by the same rule: in `precision` on a GPU, in fp32 on a CPU (in bf16 there,
    4 of 24 of gpu_check's answers parted from the kit's fp32 ones)."""
    if isinstance(model, VllmModel):
        return dataclasses.replace(model, precision=precision if torch.cuda.is_available() else "fp32")
    if torch.cuda.is_available():
        model = model.to("cuda", dtype=torch.bfloat16 if precision == "bf16" else model.dtype)
    return model.eval()


def backend_of(model: PreTrainedModel | VllmModel) -> dict[str, Any]:
    """What generates with `model`, as an evaluation records it."""
    return model.describe() if isinstance(model, VllmModel) else {"backend": "transformers"}


def greedy(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int, eos_id: int) -> list[list[int]]:
    """The new tokens of each left-padded row (its end-of-sequence token included, if written),
    up to `max_new_tokens`; finished rows are dropped from the batch and the cache."""
    device = next(model.parameters()).device
    mask = attention_mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: each prompt starts at position 0
    cache = DynamicCache(config=model.config)
    options = _forward_options(model, cache)
    logits = model(input_ids=input_ids.to(device), attention_mask=mask, position_ids=positions, **options).logits
    rows = torch.arange(len(input_ids), device=device)  # which input row each batch row is
    position = positions[:, -1:]
    new: list[list[int]] = [[] for _ in range(len(input_ids))]
    for step in range(max_new_tokens):
        token = logits[:, -1].argmax(-1)
        for row, t in zip(rows.tolist(), token.tolist()):
            new[row].append(t)
        going = token != eos_id
        if step == max_new_tokens - 1 or not going.any():
            break
        if not going.all():
            keep = going.nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            rows, token, mask, position = rows[keep], token[keep], mask[keep], position[keep]
        mask = torch.cat([mask, mask.new_ones(len(rows), 1)], dim=1)
        position = position + 1
        logits = model(input_ids=token[:, None], attention_mask=mask, position_ids=position, **options).logits
    return new


def _forward_options(model: PreTrainedModel, cache: DynamicCache) -> dict[str, Any]:
    """The forward's arguments for a step with the KV cache: it is `cache` from transformers 5.24
    (which deprecates `past_key_values`, the name before; the lock gives Python 3.10 transformers
    5.20); logits at the last position only, where the model takes `logits_to_keep`."""
    options: dict[str, Any] = {"cache" if forward_takes(model, "cache") else "past_key_values": cache, "use_cache": True}
    if forward_takes(model, "logits_to_keep"):
        options["logits_to_keep"] = 1
    return options
