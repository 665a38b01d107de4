"""Canonical JSON and JSONL I/O (and the rows of a Parquet file) with errors that name the file,
the line and the fix; atomic writes, atomic folders and advisory file locks for processes that
share a results folder."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ErrorHandler = Callable[[str, str], None]  # (reason, message)


class InputError(ValueError):
    """Bad input data: the message names the file, the line and what to do."""


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no insignificant whitespace, UTF-8 kept as is."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write_json(path: Path, obj: Any) -> None:
    """Writes canonical JSON (plus a newline) atomically: a reader never sees half a file."""
    write_text_atomic(path, canonical(obj) + "\n")


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Writes one canonical JSON object per line, atomically."""
    write_text_atomic(path, "".join(canonical(r) + "\n" for r in rows))


def write_text_atomic(path: Path, text: str) -> None:
    """Writes `text` to a temporary file beside `path`, then renames it over `path`: a reader sees
    the old file or the new one, and a failed write (a full disk) leaves the old one and no
    temporary file behind. The temporary name is this writer's own (process, thread and a random
    part, created exclusively), so writers of one file at once, threads too, never share one: the
    last rename wins and each reader sees one whole version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}-{secrets.token_hex(4)}")
    try:
        with tmp.open("x", encoding="utf-8") as f:  # "x": never another writer's file, the umask's mode as before
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# A folder being built beside its final place: `.<final name>-building-<pid>-<random>`. Its builder
# holds a lock (flock) on the folder itself for as long as it lives, so a temporary folder whose
# lock can be taken is one whose builder is gone (killed, even by SIGKILL), whatever its pid now names.
_BUILDING = re.compile(r"^\..+-building-\d+-[0-9a-f]{8}$")
# A folder being replaced: `.<final name>-old-<pid>`, renamed and removed under the parent's lock.
_REPLACED = re.compile(r"^\.(.+)-old-\d+$")
# The scratch folders this process builds in ((device, inode) of each): their lock is already ours.
_BUILDING_HERE: set[tuple[int, int]] = set()


@contextmanager
def publish_dir(final: Path) -> Iterator[Path]:
    """A scratch folder beside `final` that replaces `final` only when the block succeeds:
    readers see the old complete folder or the new complete one, never half of one. Processes
    that publish into the same parent folder at once take turns (a lock on that folder), so two
    that make the same cached folder both succeed and one copy stays. The scratch folders of
    builders that died (killed half way) are removed first; a live builder's never are. The
    published folder and its files have the modes the umask gives (755/644 under umask 022,
    775/664 under 002), however its writers made them."""
    _refuse_a_file(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(final.parent):
        remove_abandoned(final.parent)
        tmp, lock = _building_dir(final)
    try:
        yield tmp
        follow_umask(tmp)
        with _folder_lock(final.parent):
            _replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        _BUILDING_HERE.discard(_identity(lock))
        os.close(lock)


def _refuse_a_file(final: Path) -> None:
    if final.exists() and not final.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(final))


def _building_dir(final: Path) -> tuple[Path, int]:
    """A new scratch folder for `final` (made with the umask's mode), and the open descriptor
    holding its builder's lock; made under the parent's lock, so no sweep sees it unlocked."""
    while True:
        tmp = final.with_name(f".{final.name}-building-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            tmp.mkdir(mode=0o777)
            break
        except FileExistsError:
            continue
    fd = os.open(tmp, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _BUILDING_HERE.add(_identity(fd))
    return tmp, fd


def _identity(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _replace(tmp: Path, final: Path) -> None:
    """Puts the finished scratch folder `tmp` in place of `final` (under the parent's lock)."""
    _refuse_a_file(final)
    if final.exists() and _same_tree(tmp, final):  # nothing new: keep the folder readers may be using
        shutil.rmtree(tmp)
        return
    if final.exists():
        old = final.with_name(f".{final.name}-old-{os.getpid()}")
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old)
    else:
        tmp.rename(final)


def remove_abandoned(parent: Path) -> list[Path]:
    """Removes the scratch folders in `parent` that no live process is building (their builder was
    killed), and folders left half replaced; returns them. Call it holding the parent's lock
    (_folder_lock), as publish_dir does: a folder being replaced is then always abandoned, and a
    scratch folder is locked by its builder from its first moment."""
    removed = []
    for entry in sorted(parent.iterdir()):
        if (replaced := _REPLACED.match(entry.name)) and entry.is_dir() and not entry.is_symlink():
            final = parent / replaced.group(1)
            if final.exists():
                shutil.rmtree(entry, ignore_errors=True)
            else:  # killed between the two renames: the old folder is the only complete one
                entry.rename(final)
            removed.append(entry)
        elif _BUILDING.match(entry.name) and entry.is_dir() and not entry.is_symlink():
            try:
                fd = os.open(entry, os.O_RDONLY)
            except FileNotFoundError:  # its builder published or removed it meanwhile
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its builder lives
                continue
            finally:
                os.close(fd)
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def current_umask() -> int:
    """This process's umask, read without changing it (Linux /proc); os.umask as a fallback."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(folder: Path) -> None:
    """Gives `folder`, its folders and its files the modes a plain mkdir or open gives under the
    umask (a folder from tempfile, or a file copied with its source's mode, may have others):
    folders and executable files 0o777, other files 0o666, less the umask."""
    mask = current_umask()
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        full = 0o777 if path.is_dir() or mode & 0o100 else 0o666
        if stat.S_IMODE(mode) != full & ~mask:
            path.chmod(full & ~mask)


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive flock on a folder itself (no lock file is left anywhere); a scratch folder this
    process builds in is locked already (publish_dir into a folder being published)."""
    fd = os.open(folder, os.O_RDONLY)
    if _identity(fd) in _BUILDING_HERE:
        os.close(fd)
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# Names in a folder that belong to the kit's bookkeeping (remembered hashes), never to its content.
BOOKKEEPING_PREFIX = ".clt-"


def folder_files(folder: Path) -> list[str]:
    """Every file below `folder` (relative POSIX paths, sorted), the kit's bookkeeping left out."""
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(BOOKKEEPING_PREFIX) for part in p.relative_to(folder).parts)
    )


def _same_tree(a: Path, b: Path) -> bool:
    """Whether two folders hold the same files with the same bytes (bookkeeping left out)."""
    files_a, files_b = folder_files(a), folder_files(b)
    return files_a == files_b and all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)


@contextmanager
def file_lock(path: Path, blocking: bool = True) -> Iterator[bool]:
    """An exclusive advisory lock (flock) on `path`, held for the block; yields whether it was
    taken (always True when blocking). The system releases it if the process dies, so a killed
    process never leaves a stale lock behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 (invalid byte at {e.start}); fix or regenerate the file") from e
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); fix or regenerate the file") from e


def iter_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yields (row number from 0, row) for each row of a Parquet file; an unreadable file raises
    InputError naming it."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - any failure means an unreadable file
        raise InputError(f"{path}: not a readable Parquet file ({e})") from e
    yield from enumerate(table.to_pylist())


def iter_jsonl(path: Path, on_error: ErrorHandler | None = None, fix: str = "fix or regenerate the file") -> Iterator[tuple[int, dict[str, Any]]]:
    """Yields (line number, object) for each non-empty line.

    A bad line raises InputError naming the file and line, and ending with `fix` (what to do),
    unless `on_error` is given: then it is called with (reason, message) and the line is skipped
    (the `--lenient` mode).
    """
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            problem: tuple[str, str] | None = None
            obj: Any = None
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")  # a byte order mark dropped
                if not line.strip():
                    continue
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    problem = ("malformed_json", f"expected a JSON object, got {type(obj).__name__}")
            except UnicodeDecodeError as e:
                problem = ("invalid_utf8", f"invalid UTF-8 at byte {e.start}; re-encode the file as UTF-8")
            except json.JSONDecodeError as e:
                problem = ("malformed_json", f"malformed JSON ({e.msg}); each line must be one JSON object")
            if problem is None:
                yield lineno, obj
                continue
            message = f"{path}:{lineno}: {problem[1]}"
            if on_error is None:
                raise InputError(f"{message}; {fix}")
            on_error(problem[0], message)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [obj for _, obj in iter_jsonl(path)]
