"""A short check of the paper scale's path on a GPU machine, in a few minutes: a few steps of the
paper's recipe (global batch 64, LR 1e-5, bf16) on a small model of a real architecture (Llama,
built from its config: nothing is downloaded), then batched greedy generation in bf16 with the
prompts whole, as `reproduce --scale paper` and `clt-kit eval` run them. It prints the device,
tokens per second of training and of generation, and the peak GPU memory.

    .venv/bin/python scripts/gpu_check.py                    # one GPU (or the CPU, slowly)
    accelerate launch --config_file configs/accelerate/8gpu-fsdp.yaml scripts/gpu_check.py

The data is the smoke world's (generated in seconds); the tokenizer is the bundled Llama
analogue's. Where vLLM's environment is (`make vllm-env`, or $CLT_KIT_VLLM_PYTHON), the same
prompts are answered by the vLLM backend too (the fine-tuned model saved, then served), with its
tokens per second and how many of its answers are the kit's, text for text (in bf16 the two
backends' kernels may round differently, so a few greedy answers can part).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from clt_kit.evaluate.generate import generate, place
from clt_kit.evaluate.vllm_backend import VllmModel, vllm_python
from clt_kit.jsonio import InputError, read_jsonl
from clt_kit.prep import MixtureSpec, build_mixture
from clt_kit.scales import PAPER, SMOKE
from clt_kit.train.pretrain import BUNDLED
from clt_kit.train.sft import sft
from clt_kit.world import generate_world


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=1024, help="hidden size of the model (default: 1024, about 100M parameters with --layers 8)")
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps of the paper's global batch of 64")
    parser.add_argument("--micro-batch", type=int, default=16, help="examples per forward pass and process")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    return parser.parse_args()


def _model(folder: Path, hidden: int, layers: int) -> Path:
    """A randomly initialized Llama model with the bundled Llama analogue's tokenizer, saved in `folder`."""
    tokenizer = AutoTokenizer.from_pretrained(next(BUNDLED.glob("base-8b-*")))
    heads = max(1, hidden // 64)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=4 * hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=2048,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def main() -> None:
    args = _arguments()
    work = Path(tempfile.mkdtemp(prefix="clt-gpu-check-"))
    try:
        world = generate_world(work / "world", 0, SMOKE.world, SMOKE.name)
        build_mixture(MixtureSpec("SM", 16, 8, 0), world.train("SM"), world.test("SM"), work / "mix", lenient=True)
        base = _model(work / "base", args.hidden, args.layers)
        records = read_jsonl(work / "mix" / "mixture.jsonl")
        recipe = dataclasses.replace(PAPER.sft, steps=args.steps, micro_batch=args.micro_batch, eval_every=args.steps)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        result = sft(base, records, recipe, seed=0)
        train_seconds = time.perf_counter() - started
        if not result.is_main_process:
            return
        tokenizer = result.tokenizer
        tokens_per_example = sum(len(tokenizer(r["prompt"] + r["response"])["input_ids"]) for r in records) / len(records)
        report = {
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
            "processes": result.determinism["processes"], "precision": result.determinism["mixed_precision"],
            "parameters": sum(p.numel() for p in result.model.parameters()),
            "train": {"steps": args.steps, "seconds": round(train_seconds, 2), "seq_len": result.recipe["seq_len"],
                      "tokens_per_second": round(args.steps * recipe.batch * tokens_per_example / train_seconds)},
        }
        model = place(result.model, PAPER.eval.precision)
        prompts = [item["prompt"] for item in read_jsonl(world.test("SM"))]
        started = time.perf_counter()
        answers = generate(model, tokenizer, prompts, args.max_new_tokens, PAPER.eval.batch, PAPER.eval.seq_len)
        seconds = time.perf_counter() - started
        answer_tokens = _answer_tokens(tokenizer, answers)
        report["generate"] = {"prompts": len(prompts), "answer_tokens": answer_tokens, "seconds": round(seconds, 2),
                              "tokens_per_second": round(answer_tokens / seconds), "dtype": str(next(model.parameters()).dtype)}
        if torch.cuda.is_available():
            report["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        report["vllm"] = _vllm(result, tokenizer, prompts, answers, args.max_new_tokens, work)
        for name, value in report.items():
            print(f"{name}: {json.dumps(value)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _answer_tokens(tokenizer: Any, answers: list[str]) -> int:
    """The answers' tokens, counted by tokenizing the answers again (about the tokens generated)."""
    return sum(len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers)


def _vllm(result: Any, tokenizer: Any, prompts: list[str], answers: list[str], max_new_tokens: int, work: Path) -> Any:
    """The vLLM backend on the same prompts: tokens per second and answers equal to the kit's."""
    try:
        python = vllm_python()
    except InputError as e:
        return f"not compared: {e}"
    saved = work / "fine-tuned"
    result.model.save_pretrained(saved)
    tokenizer.save_pretrained(saved)
    started = time.perf_counter()  # vLLM's start included: what an `eval --backend vllm` costs
    try:
        served = generate(place(VllmModel(str(saved), python), PAPER.eval.precision), tokenizer, prompts, max_new_tokens, PAPER.eval.batch,
                          PAPER.eval.seq_len)
    except RuntimeError as e:  # reported with the rest, not in place of it
        return f"failed: {str(e)[-1500:]}"
    seconds = time.perf_counter() - started
    tokens = _answer_tokens(tokenizer, served)
    return {"seconds_with_start": round(seconds, 2), "tokens_per_second_with_start": round(tokens / seconds),
            "answers_equal_to_the_kit": f"{sum(a == b for a, b in zip(served, answers))} of {len(answers)}"}


if __name__ == "__main__":
    main()
