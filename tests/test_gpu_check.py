"""scripts/gpu_check.py, the short check of the paper scale's path for a GPU machine, runs here on
the CPU at a tiny size: the recipe's steps, generation, and its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_check_runs_the_paper_recipe_and_reports_throughput(tmp_path: Path) -> None:
    no_vllm = {**os.environ, "CLT_KIT_VLLM_PYTHON": str(tmp_path / "none")}  # tests/test_vllm.py checks the vLLM backend
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--hidden", "64", "--layers", "1", "--steps", "2",
                           "--max-new-tokens", "8"], capture_output=True, text=True, timeout=600, cwd=ROOT, env=no_vllm)
    assert done.returncode == 0, done.stderr[-3000:]
    report = {line.split(": ", 1)[0]: json.loads(line.split(": ", 1)[1]) for line in done.stdout.splitlines() if ": " in line}
    assert report["device"] == "cpu" and report["processes"] == 1
    assert report["train"]["steps"] == 2 and report["train"]["tokens_per_second"] > 0
    assert report["generate"]["prompts"] == 24 and report["generate"]["tokens_per_second"] > 0
    assert report["vllm"].startswith("not compared: no vLLM environment") and "make vllm-env" in report["vllm"]
