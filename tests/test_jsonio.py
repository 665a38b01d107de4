"""Files are replaced whole or not at all: nothing already stored is lost on failure."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
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


# A builder of a cached folder, in a process of its own: it writes a file into its scratch folder,
# says so, and waits to be killed (or told to finish by a line on stdin).
_BUILDER = """
import sys
from pathlib import Path
from clt_kit.jsonio import publish_dir
with publish_dir(Path(sys.argv[1])) as tmp:
    (tmp / "half.bin").write_bytes(b"x" * 1000)
    print(tmp, flush=True)
    sys.stdin.readline()
"""


def _builder(final: Path) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen([sys.executable, "-c", _BUILDER, str(final)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    tmp = Path(proc.stdout.readline().strip())
    assert tmp.is_dir() and tmp.parent == final.parent and str(proc.pid) in tmp.name, tmp
    return proc, tmp


def test_a_killed_builders_scratch_folder_is_removed_by_the_next_builder_and_a_live_ones_never(tmp_path: Path) -> None:
    final = tmp_path / "world-smoke-s0"
    killed, abandoned = _builder(final)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert abandoned.is_dir()  # what a SIGKILL leaves
    live, building = _builder(final)
    try:
        assert not abandoned.exists()  # the next builder of the same folder removed it
        with publish_dir(final) as tmp:  # a third builder, meanwhile: the live one's folder stays
            (tmp / "done.txt").write_text("v1")
        assert building.is_dir() and (building / "half.bin").is_file()
        live.stdin.write("\n")
        live.stdin.flush()
        assert live.wait(timeout=60) == 0
    finally:
        live.kill()
        live.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world-smoke-s0"]
    assert sorted(p.name for p in final.iterdir()) == ["half.bin"]  # the live builder published last


def test_a_folder_left_half_replaced_is_restored_or_removed(tmp_path: Path) -> None:
    """A kill between renaming the old folder away and the new one in leaves `.<name>-old-<pid>`,
    the only complete copy: the next publish puts it back; beside a complete folder it is removed."""
    final = tmp_path / "runs" / "r1"
    with publish_dir(final) as tmp:
        (tmp / "run.json").write_text("{}")
    final.rename(final.with_name(".r1-old-99999"))
    with publish_dir(tmp_path / "runs" / "r2") as tmp:
        (tmp / "run.json").write_text("{}")
    assert (final / "run.json").is_file()
    shutil.copytree(final, final.with_name(".r1-old-99998"))
    with publish_dir(tmp_path / "runs" / "r3") as tmp:
        (tmp / "run.json").write_text("{}")
    assert sorted(p.name for p in final.parent.iterdir()) == ["r1", "r2", "r3"]


def test_a_file_where_the_folder_goes_is_refused_and_kept(tmp_path: Path) -> None:
    final = tmp_path / "out"
    final.write_text("mine")
    with pytest.raises(NotADirectoryError) as e:
        with publish_dir(final) as tmp:
            (tmp / "a.txt").write_text("v1")
    assert e.value.filename == str(final) and final.read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


_UMASKED = """
import os, sys
from pathlib import Path
from clt_kit.jsonio import publish_dir
os.umask(int(sys.argv[2], 8))
with publish_dir(Path(sys.argv[1])) as tmp:
    (tmp / "sub").mkdir()
    (tmp / "sub" / "a.txt").write_text("a")
    fd = os.open(tmp / "private.txt", os.O_WRONLY | os.O_CREAT, 0o600)  # as tempfile.mkstemp makes them
    os.close(fd)
    (tmp / "tool.sh").write_text("#!/bin/sh")
    (tmp / "tool.sh").chmod(0o700)
"""


@pytest.mark.parametrize(("umask", "folder", "file", "executable"), [("022", 0o755, 0o644, 0o755), ("002", 0o775, 0o664, 0o775)])
def test_a_published_folder_follows_the_umask(tmp_path: Path, umask: str, folder: int, file: int, executable: int) -> None:
    """A results folder shared with a group is readable by it: the published folder, its folders
    and files have the umask's modes, not the 0700 of a temporary folder or 0600 of a temporary file."""
    final = tmp_path / "out"
    subprocess.run([sys.executable, "-c", _UMASKED, str(final), umask], check=True)
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [final, *final.rglob("*")]}
    assert modes == {"out": folder, "out/sub": folder, "out/sub/a.txt": file, "out/private.txt": file, "out/tool.sh": executable}


@pytest.mark.parametrize(("umask", "folder", "file"), [(0o022, 0o755, 0o644), (0o002, 0o775, 0o664)])
def test_a_world_made_by_the_cli_follows_the_umask(tmp_path: Path, umask: int, folder: int, file: int) -> None:
    out = tmp_path / "w"
    done = subprocess.run([sys.executable, "-m", "clt_kit.cli", "world", "--scale", "smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, preexec_fn=lambda: os.umask(umask))
    assert done.returncode == 0, done.stderr
    paths = [out, *out.rglob("*")]
    assert {stat.S_IMODE(p.stat().st_mode) for p in paths if p.is_dir()} == {folder}
    assert {stat.S_IMODE(p.stat().st_mode) for p in paths if p.is_file()} == {file}
