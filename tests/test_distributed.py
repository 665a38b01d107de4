"""SFT in 2 CPU processes (gloo) matches 1 process on the same global batch.

The processes are started by torchrun with ACCELERATE_USE_CPU=true, the environment `accelerate
launch --cpu` sets up; accelerate's own multi-CPU launcher needs mpirun, which is not installed here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from clt_kit.prep import MixtureSpec, build_mixture
from clt_kit.scales import SMOKE
from clt_kit.train.pretrain import ensure_base_model

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5  # max |weight difference|; only the order of the gradient all-reduce differs


def _train(base: Path, mixture: Path, out: Path, launcher: list[str]) -> dict:
    cmd = [*launcher, "-m", "clt_kit.cli", "train", "--base", str(base), "--mixture", str(mixture),
           "--scale", "smoke", "--seed", "1", "--out", str(out)]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "sft.json").read_text())


def test_two_cpu_processes_match_one(smoke_world, tmp_path: Path) -> None:
    base = ensure_base_model(SMOKE.models[0], smoke_world, SMOKE.pretrain, 1, tmp_path / "models")
    build_mixture(MixtureSpec("SM", 16, 8, 1), smoke_world.train("SM"), smoke_world.test("SM"), tmp_path / "mix", lenient=True)
    one = _train(base, tmp_path / "mix", tmp_path / "one", [sys.executable])
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533"]
    two = _train(base, tmp_path / "mix", tmp_path / "two", torchrun)
    assert one["determinism"]["processes"] == 1 and two["determinism"]["processes"] == 2
    a, b = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    assert a.keys() == b.keys()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= TOLERANCE
    assert one["best_step"] == two["best_step"]


def test_a_job_in_two_processes_is_written_once_by_the_main_one(tmp_path: Path) -> None:
    """`clt-kit execute` under a multi-process launch (what a Slurm job with several GPUs runs):
    both processes train, the main one alone evaluates and publishes the run folder."""
    from clt_kit.cluster.jobs import write_job
    from clt_kit.layout import Layout
    from clt_kit.pipeline import RunPlan, prepare
    from clt_kit.results import runs as run_store

    layout = Layout(tmp_path / "results")
    setup, (run,) = prepare([RunPlan("7b", "single", "all", "SM", 4)], SMOKE, 1, layout, progress=False)
    job = write_job(run, setup, layout)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29534"]
    done = subprocess.run([*torchrun, "-m", "clt_kit.cli", "execute", str(job)], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, env={**os.environ, "ACCELERATE_USE_CPU": "true"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("clt-kit: run finished") == 1
    stored = run_store.load_run(layout.run_dir(run.run_id))
    assert stored.run["environment"]["determinism"]["processes"] == 2 and stored.examples
    assert [p.name for p in layout.runs.iterdir()] == [run.run_id]  # nothing half-written beside it
