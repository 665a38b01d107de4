"""benchmarks/bench_train.py's pieces: the run it measures and the FLOP count of a training step.
(The benchmarks themselves run with `make bench`; they are timings, not tests.)"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from clt_kit.jsonio import read_json
from clt_kit.train.pretrain import BUNDLED, load_base
from clt_kit.train.sft import encode

ROOT = Path(__file__).resolve().parents[1]


def _bench_train():
    spec = importlib.util.spec_from_file_location("bench_train", ROOT / "benchmarks" / "bench_train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_training_benchmark_measures_the_7b_analogues_sm_run_at_the_largest_k() -> None:
    plan = _bench_train()._plan()
    assert (plan.model, plan.task, plan.k, plan.setting) == ("7b", "SM", 200, "single")


def test_a_steps_flops_count_every_layers_matrix_products_forward_and_backward() -> None:
    bench = _bench_train()
    base = next(b.parent for b in sorted(BUNDLED.glob("*/base.json")) if read_json(b)["key"]["size"]["name"] == "7b")
    _, tok = load_base(base)
    examples = [encode(tok, f"Summarise: the market opened at {i} o'clock.", f"It opened at {i}.", 64) for i in range(bench.MINI.sft.batch)]
    flops = bench._step_flops(base, examples, 1)
    model, _ = load_base(base)
    tokens = next(bench._batches(examples, tok.pad_token_id, packed=False))[0]["input_ids"].numel()
    layers = sum(p.numel() for n, p in model.named_parameters() if p.dim() == 2 and "embed" not in n and "lm_head" not in n)
    assert 6 * layers * tokens <= flops < 2 * 6 * sum(p.numel() for p in model.parameters()) * tokens
    assert bench._matmul_rate(64, 16, 32, repeats=2) > 0


@pytest.mark.slow
def test_the_training_benchmark_runs_through_and_prints_each_ratio(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_train.py"), "--results", str(tmp_path), "--steps", "4", "--prompts", "4"],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    for label in ("target 1.5x", "target 5x", "ratio, step / matrix product:", "ratio fp32 / bf16:"):
        assert sum(label in line for line in done.stdout.splitlines()) == 1, (label, done.stdout)
    assert "GFLOP a step" in done.stdout
