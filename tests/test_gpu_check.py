"""scripts/gpu_check.py, the short check of the paper scale's path for a GPU machine, runs here on
the CPU at a tiny size: the recipe's steps, generation, and its report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_check_runs_the_paper_recipe_and_reports_throughput() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--hidden", "64", "--layers", "1", "--steps", "2",
                           "--max-new-tokens", "8"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    report = {line.split(": ", 1)[0]: json.loads(line.split(": ", 1)[1]) for line in done.stdout.splitlines() if ": " in line}
    assert report["device"] == "cpu" and report["processes"] == 1
    assert report["train"]["steps"] == 2 and report["train"]["tokens_per_second"] > 0
    assert report["generate"]["prompts"] == 24 and report["generate"]["tokens_per_second"] > 0
    assert report["vllm"] in ("not installed", "installed (the kit has no vLLM backend yet: not compared)")
