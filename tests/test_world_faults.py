"""Prep against the world's ground truth: every kind of injected fault is caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from clt_kit.study import TASKS
from clt_kit.prep import MixtureSpec, build_mixture
from clt_kit.prep.audit import fault_recall


@pytest.mark.parametrize("task", TASKS)
def test_prep_catches_injected_faults(smoke_world, tmp_path: Path, task: str) -> None:
    build_mixture(MixtureSpec(task, 8, 4, 1), smoke_world.train(task), smoke_world.test(task), tmp_path, lenient=True)
    report = fault_recall(smoke_world.faults, tmp_path)
    assert report["exact_duplicate"]["recall"] == 1.0, report
    assert report["near_duplicate"]["recall"] >= 0.9, report
    assert report["wrong_language"]["recall"] >= 0.9, report
    assert report["test_leak"]["recall"] == 1.0, report
    assert report["broken"]["recall"] == 1.0, report
    assert all(report[k]["injected"] > 0 for k in ("exact_duplicate", "near_duplicate", "wrong_language", "test_leak")), report
