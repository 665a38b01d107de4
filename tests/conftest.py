from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from clt_kit.scales import MINI, SMOKE
from clt_kit.world import generate_world

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def smoke_world(tmp_path_factory: pytest.TempPathFactory):
    """One smoke world (seed 1) shared by the tests that only read it."""
    return generate_world(tmp_path_factory.mktemp("world") / "w", 1, SMOKE.world, SMOKE.name)


@pytest.fixture(scope="session")
def mini_world(tmp_path_factory: pytest.TempPathFactory):
    """The default scale's world (seed 0), for the slow tests that only read it."""
    return generate_world(tmp_path_factory.mktemp("mini") / "w", 0, MINI.world, MINI.name)


# Tests marked `started_early(commands=f)` wait on long subprocesses (the bundled bases' rebuild
# from scratch: tens of minutes of one-threaded pretraining). Their commands start as soon as the
# tests are collected, at the lowest CPU priority, so that they run on the core the rest of the
# suite leaves idle (most tests train on one thread), and the tests themselves run last.
EARLY = pytest.StashKey[list]()
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _skipped(item: pytest.Item) -> bool:
    return any(m.args and m.args[0] is True for m in item.iter_markers("skipif")) or item.get_closest_marker("skip") is not None


@pytest.hookimpl(trylast=True)  # after -m / -k have deselected what they deselect
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.option.collectonly:
        return
    early = [item for item in items if item.get_closest_marker("started_early")]
    for item in early:  # all of them last, skipped or not, so that the waiting ones end the run
        items.remove(item)
        items.append(item)
        if _skipped(item):
            continue
        logs = Path(tempfile.mkdtemp(prefix="clt-early-"))
        item.stash[EARLY] = [_start_niced(command, logs / f"{n}.log")
                             for n, command in enumerate(item.get_closest_marker("started_early").kwargs["commands"]())]


def _niced_and_tied_to_us() -> None:
    os.nice(19)
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # killed with pytest, however pytest ends


def _start_niced(command: list[str], log: Path) -> tuple[subprocess.Popen, Path]:
    with open(log, "w") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True, preexec_fn=_niced_and_tied_to_us), log


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop what a started-early test did not wait for (a run stopped early, or the test failed)."""
    for item in session.items:
        for proc, _ in item.stash.get(EARLY, []):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def early_processes(request: pytest.FixtureRequest) -> list[tuple[subprocess.Popen, Path]]:
    """The started-early test's processes (each with the file its output goes to), still running or done."""
    return request.node.stash[EARLY]
