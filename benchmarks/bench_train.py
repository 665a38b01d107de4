"""Training and generation speed of the kit against plain transformers, measured in one run.

1. SFT tokens/s: the kit's loop with packing vs a plain `transformers.Trainer` that pads each batch
   (DataCollatorForSeq2Seq), same base model, examples, batch size (in examples), learning rate,
   constant schedule, number of steps, one CPU thread each. Tokens are the real (non-padding)
   tokens of the examples trained on; the padding share of what each one computed is reported.
2. Generation tokens/s: the kit's batched greedy generation (KV cache, left padding) vs the same
   prompts one at a time, new tokens counted up to each answer's end.
3. Where a training step's time goes: the step `reproduce` trains (padded batches) in FLOP/s
   (torch's FLOP counter) against one matrix product of the model's MLP shape timed alone on the
   same thread, and the same step under bf16 autocast against fp32 (what a faster implementation
   of the same training could gain).

    .venv/bin/python benchmarks/bench_train.py [--steps 40] [--prompts 128]

Uses the mini world and its 7B-analogue base model (built or reused under results/).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode
from accelerate import Accelerator
from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments
from transformers.utils import logging as hf_logging

from clt_kit.evaluate.generate import generate
from clt_kit.jsonio import read_jsonl
from clt_kit.layout import Layout
from clt_kit.pipeline import RunPlan, plan_figure, prepare
from clt_kit.study import study
from clt_kit.scales import MINI
from clt_kit.train.loop import optimize
from clt_kit.train.pretrain import load_base
from clt_kit.train.sft import IGNORE, _epochs, encode


def _batches(examples: list, pad_id: int, packed: bool) -> Iterator[list[dict]]:
    """The mini recipe's batches in the order of fine-tuning seed 0: packed into rows of its
    seq_len, or padded to their longest example (as `reproduce` trains)."""
    return _epochs(examples, MINI.sft.batch, pad_id, 0, packed_len=MINI.sft.seq_len if packed else None)


def _kit(base: Path, examples: list, steps: int) -> tuple[float, int, int]:
    """(seconds, real tokens, computed tokens) of the kit's loop with packing."""
    model, tok = load_base(base)
    batches = _batches(examples, tok.pad_token_id, packed=True)
    seen = [b for _ in range(steps) for b in next(batches)]  # the same batches again, to count their tokens
    real = sum(b["input_ids"].numel() - _padding(b, tok.pad_token_id) for b in seen)
    computed = sum(b["input_ids"].numel() for b in seen)
    start = time.perf_counter()  # packing happens inside the timed loop, as the Trainer's collation does
    optimize(model, _batches(examples, tok.pad_token_id, packed=True), steps, MINI.sft.lr, Accelerator(cpu=True))
    return time.perf_counter() - start, real, computed


def _padding(batch: dict, pad_id: int) -> int:
    """Padding tokens of a packed batch: the tail segment of each row (labels ignored, pad ids)."""
    return int(((batch["input_ids"] == pad_id) & (batch["labels"] == IGNORE)).sum())


class _Rows(torch.utils.data.Dataset):
    def __init__(self, examples: list) -> None:
        self.rows = [{"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labs} for ids, labs in examples]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return self.rows[i]


def _trainer(base: Path, examples: list, steps: int, out: Path) -> tuple[float, int, int]:
    """(seconds, real tokens, computed tokens) of transformers.Trainer with a padding collator."""
    model, tok = load_base(base)
    args = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=MINI.sft.batch, learning_rate=MINI.sft.lr,
        lr_scheduler_type="constant", max_steps=steps, report_to=[], save_strategy="no", logging_strategy="no",
        use_cpu=True, seed=0, dataloader_num_workers=0, disable_tqdm=True, weight_decay=0.0,
    )
    collator = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=IGNORE)
    trainer = Trainer(model=model, args=args, train_dataset=_Rows(examples), data_collator=collator)
    loader = trainer.get_train_dataloader()
    seen = [b for _, b in zip(range(steps), loader)]
    real = sum(int(b["attention_mask"].sum()) for b in seen)
    computed = sum(b["input_ids"].numel() for b in seen)
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start, real, computed


def _generation(base: Path, prompts: list[str]) -> tuple[float, float]:
    """(batched tokens/s, one-at-a-time tokens/s) of new tokens."""
    model, tok = load_base(base)
    model.eval()
    rates = []
    for batch in (MINI.eval.batch, 1):
        start = time.perf_counter()
        outs = generate(model, tok, prompts, MINI.eval.max_new_tokens, batch, MINI.eval.seq_len)
        seconds = time.perf_counter() - start
        new = sum(len(tok(o, add_special_tokens=False)["input_ids"]) + 1 for o in outs)
        rates.append(new / seconds)
    return rates[0], rates[1]


def _step(base: Path, examples: list, steps: int, bf16: bool) -> float:
    """Seconds per step of the kit's SFT loop over its first `steps` padded batches (as `reproduce`
    trains), fp32 or under CPU bf16 autocast, after two warm-up steps."""
    model, tok = load_base(base)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        optimize(model, _batches(examples, tok.pad_token_id, packed=False), 2, MINI.sft.lr, Accelerator(cpu=True))
        start = time.perf_counter()
        optimize(model, _batches(examples, tok.pad_token_id, packed=False), steps, MINI.sft.lr, Accelerator(cpu=True))
    return (time.perf_counter() - start) / steps


def _step_flops(base: Path, examples: list, steps: int) -> float:
    """FLOPs per step of the kit's SFT loop over the same batches as `_step` (matrix products and
    attention, forward and backward, as torch's FLOP counter counts them)."""
    model, tok = load_base(base)
    counter = FlopCounterMode(display=False)
    with counter:
        optimize(model, _batches(examples, tok.pad_token_id, packed=False), steps, MINI.sft.lr, Accelerator(cpu=True))
    return counter.get_total_flops() / steps


def _matmul_rate(rows: int, hidden: int, intermediate: int, repeats: int = 30) -> float:
    """FLOP/s of one fp32 matrix product of the MLP's shape, (rows x hidden) by (hidden x intermediate)."""
    a, w = torch.randn(rows, hidden), torch.randn(intermediate, hidden)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ w.T
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * rows * hidden * intermediate / best


def _plan() -> RunPlan:
    """The 7B analogue's SM run at the largest k of the mini grid: the longest examples."""
    return next(p for p in plan_figure(2, MINI) if p.model == "7b" and p.task == "SM" and p.k == max(study().k_grid("single", MINI.name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args()
    hf_logging.set_verbosity_error()
    torch.set_num_threads(1)
    setup, runs = prepare([_plan()], MINI, 0, Layout(args.results), progress=True)
    run = runs[0]
    _, tok = load_base(run.base)
    records = read_jsonl(run.mixture / "mixture.jsonl")
    examples = [encode(tok, r["prompt"], r["response"], MINI.sft.seq_len) for r in records]

    kit_s, kit_real, kit_computed = _kit(run.base, examples, args.steps)
    hf_s, hf_real, hf_computed = _trainer(run.base, examples, args.steps, args.results / "bench-trainer")
    print(f"SFT, {args.steps} steps of {MINI.sft.batch} examples ({len(examples)} SM k={run.plan.k} examples, 7b analogue, 1 thread)")
    print(f"  kit, packed:        {kit_real / kit_s:8.0f} tokens/s  padding {1 - kit_real / kit_computed:5.1%}  ({kit_s:.1f} s)")
    print(f"  Trainer, padded:    {hf_real / hf_s:8.0f} tokens/s  padding {1 - hf_real / hf_computed:5.1%}  ({hf_s:.1f} s)")
    print(f"  ratio: {(kit_real / kit_s) / (hf_real / hf_s):.2f}x (target 1.5x)")

    prompts = [t["prompt"] for t in read_jsonl(setup.world.test("SM"))][: args.prompts]
    batched, single = _generation(run.base, prompts)
    print(f"generation, {len(prompts)} SM prompts, up to {MINI.eval.max_new_tokens} new tokens")
    print(f"  batched ({MINI.eval.batch}):  {batched:8.0f} new tokens/s")
    print(f"  one at a time: {single:8.0f} new tokens/s")
    print(f"  ratio: {batched / single:.2f}x (target 5x)")

    flops = _step_flops(run.base, examples, args.steps // 2)
    fp32 = min(_step(run.base, examples, args.steps // 2, bf16=False) for _ in range(2))
    bf16 = min(_step(run.base, examples, args.steps // 2, bf16=True) for _ in range(2))
    size = next(m for m in MINI.models if m.name == run.plan.model)
    rows = next(_batches(examples, tok.pad_token_id, packed=False))[0]["input_ids"].numel()  # a batch's positions
    matmul = _matmul_rate(rows, size.hidden, size.intermediate)
    print(f"SFT step as reproduce trains (padded batches), {args.steps // 2} steps (the shorter of 2 timings), {flops / 1e9:.1f} GFLOP a step")
    print(f"  fp32:           {fp32:.3f} s/step  {flops / fp32 / 1e9:6.1f} GFLOP/s")
    print(f"  matrix product ({rows}x{size.hidden} by {size.hidden}x{size.intermediate}) alone: {matmul / 1e9:6.1f} GFLOP/s")
    print(f"  ratio, step / matrix product: {flops / fp32 / matmul:.2f}")
    print(f"  bf16 autocast:  {bf16:.3f} s/step; ratio fp32 / bf16: {fp32 / bf16:.2f}x")


if __name__ == "__main__":
    main()
