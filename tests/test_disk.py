"""A full disk and a read-only results folder, for real: small tmpfs file systems mounted for the
test (root is needed to mount them; CI runs as root, and elsewhere these tests say why they skip)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from clt_kit.cli import os_error_line
from clt_kit.results import db


def _mount(point: Path, size: str) -> None:
    point.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    point = tmp_path / "fs"
    _mount(point, "4m")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _fill(fs: Path, leave: int) -> None:
    """Fills the file system up to `leave` bytes."""
    st = os.statvfs(fs)
    (fs / "filler").write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clt_kit.cli", *args], capture_output=True, text=True, timeout=600)


def test_prep_on_a_full_disk_keeps_the_old_mixture_and_says_no_space(smoke_world, small_fs: Path) -> None:
    pool, test = smoke_world.train("MR"), smoke_world.test("MR")
    out = small_fs / "mix"
    args = ["prep", "--task", "MR", "--pool", str(pool), "--test", str(test), "--english", "16", "--seed", "1", "--lenient", "--out", str(out)]
    assert _cli(*args, "--k", "4").returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    _fill(small_fs, leave=4096)
    done = _cli(*args, "--k", "8")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: no space left on the device"), done.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in small_fs.iterdir()) == ["filler", "mix"]  # no temporary folder or file left


def test_a_full_disk_under_the_database_reports_the_full_disk(small_fs: Path) -> None:
    """Not a rollback error hiding it (a failed COMMIT leaves no transaction to roll back)."""
    path = small_fs / "clt.duckdb"
    with db.connect(path):
        pass
    _fill(small_fs, leave=20_000)
    run = {"run_id": "r", "scale": "smoke", "model": "7b", "task": "SM", "k": 0, "seed": 0, "status": "done", "spec": {},
           "environment": {}, "base_weights_sha256": "b", "weights_sha256": "w", "best_step": 1, "validation_losses": {},
           "mixture_manifest_sha256": "m", "train_seconds": 1.0, "eval_seconds": 1.0, "finished_at": datetime(2026, 1, 1)}
    examples = [{"example_id": f"e{i}", "task": "SM", "lang": "en", "prompt": "p" * 2000, "output": "o" * 2000,
                 "reference": "r", "extracted": None, "rule": "rouge_l", "score": 1.0, "detected_lang": "en"} for i in range(500)]
    record = db.RunRecord(run=run, manifest={"spec": {"task": "SM", "k": 0}, "set_fingerprint": "f"}, manifest_sha256="m", examples=examples)
    with pytest.raises(Exception) as e:
        with db.connect(path) as con:
            db.insert_run(con, record)
    assert "No space left on device" in str(e.value), e.value
    assert (os_error_line(e.value) or "").startswith("no space left on the device")


def test_a_read_only_results_folder_is_one_line_naming_it(small_fs: Path) -> None:
    (small_fs / "results").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    done = _cli("reproduce", "--figure", "2", "--scale", "smoke", "--results", str(small_fs / "results"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith(f"error: a read-only file system writing {small_fs / 'results'}"), done.stderr



@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Makes paths immutable (`chattr +i`: even root may not write them), made mutable again after the test."""
    made: list[Path] = []

    def make(path: Path) -> None:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i needs root and a file system with immutable files: {done.stderr.strip()}")
        made.append(path)

    yield make
    for path in reversed(made):
        subprocess.run(["chattr", "-i", str(path)], check=False)


def _one_error_line(done: subprocess.CompletedProcess, start: str) -> None:
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {start}") and "chattr -i" in errors[0], done.stderr


def test_an_immutable_database_is_one_line_naming_it(tmp_path: Path, immutable: Callable[[Path], None]) -> None:
    results = tmp_path / "results"
    with db.connect(results / "clt.duckdb"):
        pass
    immutable(results / "clt.duckdb")
    _one_error_line(_cli("ingest", "--results", str(results)), f"operation not permitted on {results / 'clt.duckdb'} ")


@pytest.mark.slow
def test_reproduce_into_an_immutable_database_is_one_line_naming_it(tmp_path: Path, immutable: Callable[[Path], None]) -> None:
    """After its first run (kept in its folder), when it loads it: a minute or more."""
    results = tmp_path / "results"
    with db.connect(results / "clt.duckdb"):
        pass
    immutable(results / "clt.duckdb")
    _one_error_line(_cli("reproduce", "--figure", "2", "--scale", "smoke", "--k", "0", "--results", str(results)),
                    f"operation not permitted on {results / 'clt.duckdb'} ")
    assert any((results / "work" / "runs").glob("*/run.json"))  # the run is kept for a later ingest


def test_an_immutable_results_folder_is_one_line_naming_it(tmp_path: Path, immutable: Callable[[Path], None]) -> None:
    results = tmp_path / "results"
    results.mkdir()
    immutable(results)
    _one_error_line(_cli("ingest", "--results", str(results)), f"operation not permitted on {results / 'clt.duckdb'} ")
    _one_error_line(_cli("reproduce", "--figure", "2", "--scale", "smoke", "--results", str(results)),
                    f"operation not permitted on {results / 'work'} ")
