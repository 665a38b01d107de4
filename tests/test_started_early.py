"""The `started_early` mark (conftest.py): its commands run at the lowest CPU priority, started
before the suite's other tests, and the tests that wait on them run last."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest


def _niceness_commands() -> list[list[str]]:
    return [[sys.executable, "-c", "import os; print('niceness', os.nice(0))"]]


def _skipped_marker() -> Path:
    """A file that the skipped test's command would write; named after this pytest process."""
    return Path(tempfile.gettempdir()) / f"clt-early-skipped-{os.getpid()}"


def _marker_commands() -> list[list[str]]:
    return [[sys.executable, "-c", f"open({str(_skipped_marker())!r}, 'w').close()"]]


# Skipped as the bases' rebuild is on a CPU kind other than theirs; it comes before the test below
# in this file, and must still run after every unmarked test, its command never started.
@pytest.mark.skipif(True, reason="a started-early test that is skipped starts nothing")
@pytest.mark.started_early(commands=_marker_commands)
def test_a_skipped_started_early_test_starts_nothing() -> None:
    raise AssertionError("skipped")


@pytest.mark.started_early(commands=_niceness_commands)
def test_started_early_commands_run_niced_and_their_tests_last(early_processes, request: pytest.FixtureRequest) -> None:
    [(proc, log)] = early_processes
    assert proc.wait(timeout=60) == 0
    assert log.read_text().split() == ["niceness", "19"]
    items = request.session.items
    first_early = next(i for i, item in enumerate(items) if item.get_closest_marker("started_early"))
    assert all(item.get_closest_marker("started_early") for item in items[first_early:])
    assert request.node in items[first_early:]
    assert not _skipped_marker().exists()
