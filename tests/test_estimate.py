"""`reproduce --dry-run`: the plan of the paper's full grid has the paper's run counts, and its
steps and GPU-hour estimate follow from the stated recipe and assumptions."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from clt_kit.cli import main
from clt_kit.estimate import MFU, PARAMETERS, PEAK_FLOPS, TOKENS_PER_EXAMPLE, gpu_hours, plan_runs
from clt_kit.scales import PAPER
from clt_kit.study import study


def test_the_paper_grid_has_the_papers_run_counts() -> None:
    runs = plan_runs([*study().figures.values(), *study().tables.values()], PAPER)
    keys = Counter((r.key.setting, r.key.mixture, r.key.model) for r in runs)
    # single-task, all seen languages: 3 tasks x 8 k values for each of the three models
    assert [keys[("single", "all", m)] for m in ("7b", "35b", "8b")] == [3 * 8, 3 * 8, 3 * 8]
    # the script mixtures, 7B only: 3 tasks x 7 k values > 0 each (k=0 is the shared English-only run)
    assert keys[("single", "latin", "7b")] == keys[("single", "non_latin", "7b")] == 3 * 7
    # multi-task: one joint run per k (0, 100, 500, 1000, ..., 7000) for 7B and 35B
    assert [keys[("multi", "all", m)] for m in ("7b", "35b")] == [16, 16] and len(runs) == 72 + 42 + 32


def test_steps_and_gpu_hours_follow_the_recipe_and_the_stated_assumptions() -> None:
    run = next(r for r in plan_runs([study().figure(10)], PAPER) if r.key.task == "MR" and r.key.k == 5000)
    assert run.base == "meta-llama/Llama-3.1-8B" and run.examples == {"MR": 10000 + 4 * 5000}
    assert run.steps == math.ceil(30000 * (1 - PAPER.sft.validation_share) / 64)
    assert gpu_hours(run, PAPER) == 6 * PARAMETERS["8b"] * 30000 * TOKENS_PER_EXAMPLE["MR"] * (run.steps * 64 / 30000) / (PEAK_FLOPS * MFU) / 3600
    joint = next(r for r in plan_runs([study().figure(4)], PAPER) if r.key.model == "7b" and r.key.k == 100)
    assert joint.examples == {"IF": 5400, "SM": 5400, "MR": 5400}  # 5,000 English per task plus 100 per seen language


def test_the_dry_run_prints_the_plan_and_does_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["reproduce", "--all", "--scale", "paper", "--dry-run", "--results", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "146 runs (single 114, multi 32)" in result.output and "GPU-hours" in result.output
    assert "downloads: CohereForAI/aya-23-35B, CohereForAI/aya-23-8B, meta-llama/Llama-3.1-8B" in result.output
    assert not (tmp_path / "r").exists()
