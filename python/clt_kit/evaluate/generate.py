"""Batched greedy generation: left padding, KV cache, stop at end-of-sequence, at the chat
template's end-of-turn token and at the task's stop strings (as lm-evaluation-harness's `until`).

A row leaves its batch, and the KV cache, as soon as it writes the end-of-sequence token, so a
batch costs what its unfinished rows cost: with transformers' `generate`, every row of a batch is
computed until the longest answer ends (or `max_new_tokens`), and a few long answers made a batch
of 64 little faster than one prompt at a time (benchmarks/bench_train.py). The answers are those
of `generate` with greedy decoding (tested). vLLM can run the forward passes instead
(evaluate/vllm_backend.py): same prompt tokens, same decoding, same stop rule, its answers tested equal.

The stop rule: a row ends at a stop token (`stop_token_ids`: end-of-sequence, and the end-of-turn
token a chat template writes after an answer), or at the token that completes one of its prompt's
stop strings in the decoded answer (a few-shot MGSM prompt's: the label of the next question,
"Question:", "問題："); its answer is then cut before the first stop string. A stop string may
span tokens; each row is checked on its own, and the batch goes on for the others.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

import torch
from tqdm import tqdm
from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerBase

from clt_kit.evaluate.vllm_backend import VllmModel, greedy_vllm
from clt_kit.jsonio import InputError
from clt_kit.train.loop import forward_takes
from clt_kit.train.tokenizer import prompt_ids, prompt_template

log = logging.getLogger("clt_kit")


@torch.no_grad()
def generate(
    model: PreTrainedModel | VllmModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    max_prompt_tokens: int | None,
    stops: Sequence[Sequence[str]] | None = None,
    progress: bool = False,
) -> list[str]:
    """Greedy answers to `prompts`, in order, each ended by the stop rule (module docstring) with
    `stops[i]`, prompt i's stop strings (None: none), and cut before the first of them. Prompts are
    batched by length to limit padding; a prompt longer than `max_prompt_tokens` keeps its end
    (counted in a warning). With `max_prompt_tokens` None prompts are never cut: a prompt that
    does not fit the model's context (model_context) with a token of answer is an error
    (InputError), not an answer to a cut prompt, and an answer ends where the context does.
    `model` is a transformers model, or a VllmModel: vLLM then runs the forward passes (in its own environment, all prompts at once), on the same prompt tokens,
    decoded and stopped the same way. `progress`: a bar of prompts answered, with the new tokens
    per second and the time left (transformers only)."""
    strings = [tuple(s) for s in stops] if stops is not None else [() for _ in prompts]
    if len(strings) != len(prompts):
        raise ValueError(f"{len(strings)} lists of stop strings for {len(prompts)} prompts")
    encoded = [prompt_ids(tokenizer, p) for p in prompts]
    if max_prompt_tokens is not None and (cut := sum(len(e) > max_prompt_tokens for e in encoded)):
        log.warning("%d of %d prompts are longer than %d tokens and lose their beginning", cut, len(prompts), max_prompt_tokens)
        encoded = [e[-max_prompt_tokens:] for e in encoded]
    context = None if max_prompt_tokens is not None else model_context(model)
    if context is not None:
        refuse_long_prompts([len(e) for e in encoded], context)
    stop_ids = stop_token_ids(tokenizer)
    if isinstance(model, VllmModel):
        new = greedy_vllm(model, encoded, max_new_tokens, stop_ids, strings)
    else:
        new = _batched(model, tokenizer, encoded, max_new_tokens, batch_size, stop_ids, strings, progress, context)
    return [cut_at_stop(_decoded(tokenizer, tokens), s).strip() for tokens, s in zip(new, strings)]


def model_context(model: PreTrainedModel | VllmModel) -> int | None:
    """The most tokens (prompt and answer) a transformers model's positions hold, as its config
    says (None: no limit stated, or a vLLM model, whose server checks it)."""
    if isinstance(model, VllmModel):
        return None
    config = model.config
    found = [getattr(config, name, None) for name in ("max_position_embeddings", "n_positions")]
    return next((int(n) for n in found if isinstance(n, int) and n > 0), None)


def refuse_long_prompts(lengths: Sequence[int], context: int) -> None:
    """Stops an evaluation whose prompts are never cut (the paper scale's) when a prompt leaves no
    room in the model's `context` for a token of answer: scored, its answer would be that of a
    cut prompt (or of a model past its positions)."""
    if too_long := [n for n in lengths if n >= context]:
        raise InputError(f"{len(too_long)} of {len(lengths)} prompts (the longest {max(too_long)} tokens) do not fit the"
                         f" model's context of {context} tokens; prompts are not cut at this scale: evaluate a model with a"
                         " longer context or give fewer shots (`shots` in the data config)")


def _decoded(tokenizer: PreTrainedTokenizerBase, tokens: list[int]) -> str:
    """An answer's text, as it is stored and as stop strings are looked for in it."""
    return tokenizer.decode(tokens, skip_special_tokens=True)


def cut_at_stop(text: str, strings: Sequence[str]) -> str:
    """`text` up to the first of `strings` it holds (all of it when it holds none)."""
    return text[: min((i for s in strings if (i := text.find(s)) >= 0), default=len(text))]


def stop_token_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, ...]:
    """The tokens that end an answer: end-of-sequence, and for a tokenizer with a chat template
    (prompt_template "chat") the special token the template writes right after an assistant's
    answer, its end of turn ("<|im_end|>", "<|eot_id|>", "<|END_OF_TURN_TOKEN|>"). The kit's own
    format ends an answer with end-of-sequence alone; so does a plain base model's."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    if prompt_template(tokenizer) == "chat":
        marker = "\u2063ANSWER\u2063"
        text = tokenizer.apply_chat_template([{"role": "user", "content": "?"}, {"role": "assistant", "content": marker}], tokenize=False)
        after = tokenizer(text.split(marker, 1)[1], add_special_tokens=False)["input_ids"] if marker in text else []
        special = {i for i, t in tokenizer.added_tokens_decoder.items() if t.special} | set(tokenizer.all_special_ids)
        if after and after[0] in special and after[0] not in ids:
            ids.append(after[0])
    return tuple(ids)


def stop_rule(tokenizer: PreTrainedTokenizerBase, stops_by_lang: dict[str, Sequence[str]]) -> dict[str, Any]:
    """The stop rule an evaluation ran under, as its record keeps it: the stop tokens (ids and
    text) and each language's stop strings."""
    ids = stop_token_ids(tokenizer)
    return {"token_ids": list(ids), "tokens": tokenizer.convert_ids_to_tokens(list(ids)),
            "strings": {lang: list(s) for lang, s in sorted(stops_by_lang.items())}}


def _batched(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, encoded: list[list[int]], max_new_tokens: int,
             batch_size: int, stop_ids: Collection[int], strings: Sequence[tuple[str, ...]],
             progress: bool = False, context: int | None = None) -> list[list[int]]:
    """`greedy` over batches of prompts of similar length; the new tokens in the prompts' order.
    `progress`: a bar of prompts answered, new tokens per second and the time left. `context`:
    answers end where the model's context does (None: at `max_new_tokens` only)."""
    tokenizer.padding_side = "left"
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i]), i))
    new: list[list[int]] = [[] for _ in encoded]
    # mininterval=0: every batch redraws the bar (a batch takes far longer than a redraw), so its last state is shown.
    bar = tqdm(total=len(encoded), desc="answers", unit=" prompts", disable=not progress, smoothing=0, leave=False, mininterval=0)
    started, written = time.perf_counter(), 0
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, return_tensors="pt")
        ended = None
        if any(strings[i] for i in idx):
            ended = lambda row, tokens: any(s in _decoded(tokenizer, tokens) for s in strings[idx[row]])  # noqa: E731
        room = max_new_tokens if context is None else min(max_new_tokens, context - max(len(encoded[i]) for i in idx))
        for i, tokens in zip(idx, greedy(model, batch["input_ids"], batch["attention_mask"], room, stop_ids, ended)):
            new[i] = tokens
            written += len(tokens)
        bar.set_postfix_str(f"{written / max(time.perf_counter() - started, 1e-9):.1f} tokens/s", refresh=False)
        bar.update(len(idx))
    bar.close()
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


PRECISIONS = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


def precision_of(model: PreTrainedModel | VllmModel) -> str:
    """The precision `model` generates in, as `place` left it ("fp32", "bf16", ...)."""
    if isinstance(model, VllmModel):
        return model.precision
    dtype = next(model.parameters()).dtype
    return PRECISIONS.get(dtype, str(dtype).removeprefix("torch."))


def greedy(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int,
           stop_ids: int | Collection[int], ended: Callable[[int, list[int]], bool] | None = None) -> list[list[int]]:
    """The new tokens of each left-padded row (the stop token included, if written), up to
    `max_new_tokens`; a row ends at one of `stop_ids` or when `ended(row, its new tokens)` says so
    (its stop strings), and leaves the batch and the cache."""
    stops = torch.tensor(sorted({stop_ids} if isinstance(stop_ids, int) else set(stop_ids)), dtype=torch.long)
    device = next(model.parameters()).device
    mask = attention_mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: each prompt starts at position 0
    cache = DynamicCache(config=model.config)
    options = _forward_options(model, cache)
    logits = model(input_ids=input_ids.to(device), attention_mask=mask, position_ids=positions, **options).logits
    rows = torch.arange(len(input_ids), device=device)  # which input row each batch row is
    position = positions[:, -1:]
    stops = stops.to(device)
    new: list[list[int]] = [[] for _ in range(len(input_ids))]
    for step in range(max_new_tokens):
        token = logits[:, -1].argmax(-1)
        for row, t in zip(rows.tolist(), token.tolist()):
            new[row].append(t)
        going = ~torch.isin(token, stops)
        if ended is not None:
            going &= torch.tensor([not ended(row, new[row]) for row in rows.tolist()], device=device)
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
