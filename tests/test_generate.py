"""Batched greedy generation (evaluate/generate.py) gives transformers' own greedy answers, with
finished rows leaving the batch: for both families of the kit's base models and for GPT-2, whose
tokenizer pads with its end-of-sequence token."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from clt_kit.evaluate.generate import generate, greedy
from clt_kit.train.pretrain import BUNDLED, load_base
from clt_kit.train.tokenizer import prompt_text

PROMPTS = [
    "Summarize the text.\nIn June, Paris in France held a festival. The festival lasted 5 days.",
    "Write a short note about the moon.\nWrap the whole answer in double quotes.",
    "Mia has 3 plates. Mia gets 4 more plates. How many plates does Mia have?",
    "Écris une courte note sur l'automne.",
    "请写一段关于港口的短文。",
    "Write a short note about winter.\nAnswer as a list of exactly 3 lines starting with \"- \".\nUse the word \"lamp\".",
    "Hi",
]


def _transformers_answers(model, tokenizer, prompts: list[str], max_new_tokens: int) -> list[str]:
    """transformers' generate, greedy, with the kit's prompt format and left padding, in one batch."""
    tokenizer.padding_side = "left"
    batch = tokenizer.pad({"input_ids": [tokenizer(prompt_text(p), add_special_tokens=False)["input_ids"] for p in prompts]}, return_tensors="pt")
    out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return [t.strip() for t in tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)]


def _bundled(size: str) -> Path:
    return next(BUNDLED.glob(f"base-{size}-*"))


@pytest.mark.parametrize("size", ["7b", "8b"])  # Cohere and Llama
def test_batched_answers_are_transformers_greedy_answers(size: str) -> None:
    model, tokenizer = load_base(_bundled(size))
    model.eval()
    ours = generate(model, tokenizer, PROMPTS, 40, 4, 256)
    # One prompt at a time, no padding: what any batching must reproduce.
    assert ours == [_transformers_answers(model, tokenizer, [p], 40)[0] for p in PROMPTS]
    assert ours == _transformers_answers(model, tokenizer, PROMPTS, 40)


def test_rows_leave_the_batch_when_they_end_and_others_run_to_the_limit() -> None:
    model, tokenizer = load_base(_bundled("7b"))
    model.eval()
    tokenizer.padding_side = "left"
    batch = tokenizer.pad({"input_ids": [tokenizer(prompt_text(p), add_special_tokens=False)["input_ids"] for p in PROMPTS]}, return_tensors="pt")
    new = greedy(model, batch["input_ids"], batch["attention_mask"], 40, tokenizer.eos_token_id)
    ended = [tokens for tokens in new if tokens[-1] == tokenizer.eos_token_id]
    assert ended and all(len(t) < 40 for t in ended)
    assert len({len(t) for t in new}) > 1 and max(len(t) for t in new) <= 40
    assert all(tokenizer.eos_token_id not in t[:-1] for t in new)


def test_a_gpt2_model_padding_with_its_end_token_gets_the_same_answers() -> None:
    _, tokenizer = load_base(_bundled("7b"))
    tokenizer.pad_token = tokenizer.eos_token  # as load_base does for a tokenizer without one
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=32, n_layer=2, n_head=2,
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    model = GPT2LMHeadModel(config).eval()
    assert generate(model, tokenizer, PROMPTS, 12, 3, 256) == [_transformers_answers(model, tokenizer, [p], 12)[0] for p in PROMPTS]


# Stop strings per prompt (None: none), chosen on the bundled 7B analogue's answers to PROMPTS so
# that each is met mid-answer and most span tokens: "5,3" ends inside the token "300", "3 - 4"
# spans five, "おもちゃを" is multi-byte.
STOPS = [["5,3"], None, ["3 - 4", "never written"], None, ["おもちゃを"], ["\n-"], ["Hi there, never"]]


def test_stop_strings_end_each_row_where_transformers_stop_strings_do() -> None:
    """Each row stops at the token that completes one of its stop strings, decoded across token
    boundaries, and its answer is cut before the string; the rows around it go on, unchanged.
    The oracle: transformers' own generate with `stop_strings`, one prompt at a time."""
    model, tokenizer = load_base(_bundled("7b"))
    model.eval()
    stops = [s or [] for s in STOPS]
    free = generate(model, tokenizer, PROMPTS, 40, 4, 256)
    ours = generate(model, tokenizer, PROMPTS, 40, 4, 256, stops)
    for prompt, stop, answer, unstopped in zip(PROMPTS, stops, ours, free):
        ids = tokenizer(prompt_text(prompt), add_special_tokens=False, return_tensors="pt")["input_ids"]
        options = {"stop_strings": stop, "tokenizer": tokenizer} if stop else {}
        out = model.generate(ids, max_new_tokens=40, do_sample=False, eos_token_id=tokenizer.eos_token_id,
                             pad_token_id=tokenizer.pad_token_id, **options)
        text = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        assert answer == text[: min([text.find(s) for s in stop if s in text] or [len(text)])].strip(), prompt
        if not any(s in unstopped for s in stop):
            assert answer == unstopped  # a row without a met stop string runs as before
    assert sum(a != u for a, u in zip(ours, free)) >= 3  # the stops were met
    assert ours[2] == free[2][: free[2].index("3 - 4")].strip()


def test_cut_at_stop_takes_the_first_stop_string() -> None:
    from clt_kit.evaluate.generate import cut_at_stop

    assert cut_at_stop("The answer is 3.\n\nQuestion: x. The answer is 1000.", ["Question:"]) == "The answer is 3.\n\n"
    assert cut_at_stop("a Q: b 問題：c", ["問題：", "Q:"]) == "a "
    assert cut_at_stop("nothing", ["Question:"]) == "nothing" and cut_at_stop("x", []) == "x"
