"""Evaluation throughput on a real model and real prompts, measured in one run: SmolLM2-135M-Instruct
(tests/real_model.py) answers real 8-shot MGSM prompts (the kit's own, benchmarks/smollm2_mgsm_answers.py;
the same problems in en, es, fr, ja and zh) greedily, in its chat template, with the same stop rule,
by three generators:

1. the kit's generation (evaluate/generate.py: batches by length, rows leaving the batch and the
   KV cache as they stop);
2. plain transformers `generate` with the same prompt tokens, batch size, left padding, greedy
   decoding, the same stop tokens (`eos_token_id`) and the same stop strings (`stop_strings`);
3. vLLM (CPU build where there is no GPU), through the kit's vLLM backend, where `.venv-vllm` exists
   (`make vllm-env`); otherwise it says it skipped it.

Tokens/s is answer tokens (each answer as kept, before its stop string, re-tokenized: the same count
for every generator) over wall time, one CPU thread each; answers that differ from the kit's are counted.

    python benchmarks/bench_eval_real.py [--per-lang 2] [--max-new-tokens 128] [--batch 16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402

from clt_kit.evaluate.generate import cut_at_stop, generate, stop_token_ids  # noqa: E402
from clt_kit.evaluate.vllm_backend import DEFAULT_ENV, VllmModel, vllm_python  # noqa: E402
from clt_kit.jsonio import InputError  # noqa: E402
from clt_kit.train.pretrain import load_base  # noqa: E402
from clt_kit.train.tokenizer import prompt_ids  # noqa: E402
from smollm2_mgsm_answers import aligned_test_set  # noqa: E402
from tests.real_model import MGSM, MGSM_ABSENT, smollm2  # noqa: E402


def plain_generate(model, tokenizer, prompts: list[str], stops: list[list[str]], max_new_tokens: int, batch: int) -> list[str]:  # noqa: ANN001
    """transformers' own `generate`, greedy, left-padded batches in the prompts' order, stopping at
    the kit's stop tokens and at the prompts' stop strings (one list per batch: a batch holds one language)."""
    tokenizer.padding_side = "left"
    answers = []
    for start in range(0, len(prompts), batch):
        chunk = list(range(start, min(start + batch, len(prompts))))
        strings = sorted({s for i in chunk for s in stops[i]})
        encoded = tokenizer.pad({"input_ids": [prompt_ids(tokenizer, prompts[i]) for i in chunk]}, return_tensors="pt")
        out = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=list(stop_token_ids(tokenizer)),
                             pad_token_id=tokenizer.pad_token_id, stop_strings=strings or None, tokenizer=tokenizer)
        for i, row in zip(chunk, out[:, encoded["input_ids"].shape[1]:].tolist()):
            answers.append(cut_at_stop(tokenizer.decode(row, skip_special_tokens=True), stops[i]).strip())
    return answers


def _timed(run: Callable[[], list[str]]) -> tuple[list[str], float]:
    started = time.perf_counter()
    answers = run()
    return answers, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-lang", type=int, default=2, help="MGSM rows 0..N-1 of every language")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args(argv)
    if not MGSM.is_dir():
        print(f"skipped: {MGSM_ABSENT}")
        return 0
    torch.set_num_threads(1)
    info = smollm2()
    model, tokenizer = load_base(str(info.path))
    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        tests = aligned_test_set(list(range(args.per_lang)), Path(tmp))
    prompts, stops = [t["prompt"] for t in tests], [t["stop"] for t in tests]
    n_prompt = sum(len(prompt_ids(tokenizer, p)) for p in prompts)
    print(f"SmolLM2-135M-Instruct ({info.package} {info.version}), {len(prompts)} real 8-shot MGSM prompts"
          f" ({n_prompt} prompt tokens), answers up to {args.max_new_tokens} tokens, batch {args.batch}, 1 CPU thread")

    def count(answers: list[str]) -> int:
        return sum(len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers)

    with torch.no_grad():
        kit, kit_s = _timed(lambda: generate(model, tokenizer, prompts, args.max_new_tokens, args.batch, None, stops))
        plain, plain_s = _timed(lambda: plain_generate(model, tokenizer, prompts, stops, args.max_new_tokens, args.batch))
    rate = count(kit) / kit_s
    print(f"kit generate: {count(kit)} answer tokens in {kit_s:.1f} s = {rate:.1f} tokens/s")
    print(f"transformers generate (same stop strings): {count(plain)} answer tokens in {plain_s:.1f} s ="
          f" {count(plain) / plain_s:.1f} tokens/s; kit/transformers {rate / (count(plain) / plain_s):.2f}x;"
          f" {sum(a != b for a, b in zip(kit, plain))} of {len(kit)} answers differ from the kit's")
    try:
        python = vllm_python(None)
    except InputError:
        print(f"vLLM: skipped (no vLLM environment at {DEFAULT_ENV}/; `make vllm-env` builds it)")
        return 0
    vllm_model = VllmModel(str(info.path), python)
    served, served_s = _timed(lambda: generate(vllm_model, tokenizer, prompts, args.max_new_tokens, args.batch, None, stops))
    print(f"vLLM ({python}, start-up included): {count(served)} answer tokens in {served_s:.1f} s = {count(served) / served_s:.1f} tokens/s;"
          f" kit/vLLM {rate / (count(served) / served_s):.2f}x; {sum(a != b for a, b in zip(kit, served))} of {len(kit)} answers differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
