"""Files are replaced whole or not at all: nothing already stored is lost on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clt_kit.jsonio import InputError, file_lock, iter_jsonl, publish_dir


def test_publish_dir_replaces_on_success_and_keeps_the_old_folder_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "out"
    with publish_dir(final) as tmp:
        (tmp / "a.txt").write_text("v1")
    assert (final / "a.txt").read_text() == "v1"
    with pytest.raises(RuntimeError):
        with publish_dir(final) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("killed midway")
    assert (final / "a.txt").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no scratch folder left behind
    with publish_dir(final) as tmp:
        (tmp / "b.txt").write_text("v2")
    assert sorted(p.name for p in final.iterdir()) == ["b.txt"]


def test_iter_jsonl_names_the_line_or_reports_it(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\n[1]\n{"b": 2}\n')
    with pytest.raises(InputError, match=rf"{path}:3: expected a JSON object"):
        list(iter_jsonl(path))
    seen: list[tuple[str, str]] = []
    rows = list(iter_jsonl(path, on_error=lambda reason, message: seen.append((reason, message))))
    assert [n for n, _ in rows] == [1, 4]
    assert seen == [("malformed_json", f"{path}:3: expected a JSON object, got list")]


def test_publish_dir_keeps_an_identical_folder_in_place(tmp_path: Path) -> None:
    final = tmp_path / "out"
    for _ in range(2):
        with publish_dir(final) as tmp:
            (tmp / "a.txt").write_text("same")
    inode = (final / "a.txt").stat().st_ino
    with publish_dir(final) as tmp:
        (tmp / "a.txt").write_text("same")
    assert (final / "a.txt").stat().st_ino == inode  # not replaced: a reader's open files stay valid
    with publish_dir(final) as tmp:
        (tmp / "a.txt").write_text("new")
    assert (final / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_file_lock_is_exclusive_across_processes_and_dies_with_its_holder(tmp_path: Path) -> None:
    import subprocess
    import sys

    lock = tmp_path / "x.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from clt_kit.jsonio import file_lock\n"
        "with file_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)"
    ), str(lock)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with file_lock(lock, blocking=False) as mine:
        assert not mine
    holder.kill()  # killed, not released: the lock goes with the process
    holder.wait()
    with file_lock(lock, blocking=False) as mine:
        assert mine


def _publish(args: tuple[str, int]) -> None:
    """Publishes the same folder content as every other worker, after a worker-dependent pause."""
    import time

    from clt_kit.jsonio import publish_dir

    final, worker = Path(args[0]), args[1]
    for attempt in range(30):  # many publishes in a row, so that the workers' renames overlap
        with publish_dir(final) as tmp:
            (tmp / "a.txt").write_text("same content", encoding="utf-8")
            (tmp / ".clt-stamps.json").write_text(f"bookkeeping of worker {worker}, {attempt}", encoding="utf-8")
            (tmp / ("b.txt" if attempt % 2 else "c.txt")).write_text("changes", encoding="utf-8")
            time.sleep(0.001 * (worker % 3))


def test_processes_publishing_the_same_folder_at_once_all_succeed(tmp_path: Path) -> None:
    """Two processes making one cached folder (say, the tokenizer every base model needs) at once:
    each publishes, none fails on the other's rename, one complete copy stays."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    final = tmp_path / "tokenizer-x"
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_publish, [(str(final), w) for w in range(8)]))  # re-raises a worker's error
    assert (final / "a.txt").read_text(encoding="utf-8") == "same content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer-x"]  # no scratch or old copy left


def test_threads_writing_one_file_at_once_all_succeed(tmp_path: Path) -> None:
    """Writers of one file in one process once shared a temporary name (the process id), so one
    renamed another's temporary file away: FileNotFoundError. Every writer now succeeds and the
    file is one writer's whole text."""
    from concurrent.futures import ThreadPoolExecutor

    from clt_kit.jsonio import write_json

    path = tmp_path / "entry.json"
    texts = [{"writer": n, "text": "x" * 20_000} for n in range(16)]
    for _ in range(20):
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda obj: write_json(path, obj), texts))
        assert json.loads(path.read_text()) in texts
    assert [p.name for p in tmp_path.iterdir()] == ["entry.json"]  # no temporary file left behind
