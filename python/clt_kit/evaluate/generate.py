"""Batched greedy generation: left padding, KV cache, stop at end-of-sequence."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from clt_kit.train.tokenizer import prompt_text


@torch.no_grad()
def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    max_prompt_tokens: int,
) -> list[str]:
    """Greedy answers to `prompts`, in order. Prompts are batched by length to limit padding."""
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    encoded = [tokenizer(prompt_text(p), add_special_tokens=False)["input_ids"][-max_prompt_tokens:] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: (len(encoded[i]), i))
    answers: list[str] = [""] * len(prompts)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, return_tensors="pt").to(device)
        out = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            use_cache=True,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        new = out[:, batch["input_ids"].shape[1] :]
        for i, text in zip(idx, tokenizer.batch_decode(new, skip_special_tokens=True)):
            answers[i] = text.strip()
    return answers
