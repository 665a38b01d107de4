"""Content hashes of the folders the kit caches and reuses (worlds, tokenizers, base models,
mixtures, finished runs), and the check that a folder still holds exactly what it recorded.

Every cached artifact records the sha256 of each of its files; before a run uses one, the files
are checked against that record: a file that changed, went missing or appeared is named, and the
artifact is not used. Hashing is the Rust core's streaming sha256 (of a file; this module
imports nothing of the stages, so every stage may import it).

A file's hash is remembered in the folder's stamp file (`.clt-stamps.json`) under its size,
mtime, ctime, device and inode: a file that was not written since is not read again before a run
(large weights at the paper scale), and any write changes its ctime, which no user can set back,
so a changed file is always hashed afresh. Each remembered entry is sealed with an HMAC of the
file's name, stamp and hash under a key that lives outside every folder (STAMP_KEY_ENV, else
the user's cache folder, readable by the user alone): an entry copied from another file, or
written by hand to map an edited file's new stamp to its old hash, does not match and the file
is hashed in full. Without a usable key nothing is remembered. `clt-kit verify` never reads the
stamps (`remembered=False`): it hashes every file in full.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path

from clt_kit._prep import sha256_file
from clt_kit.jsonio import InputError, canonical, folder_files, write_text_atomic

STAMPS = ".clt-stamps.json"  # bookkeeping (jsonio.BOOKKEEPING_PREFIX): never part of a folder's files
# The file holding the key that seals remembered hashes (default: the user's cache folder).
STAMP_KEY_ENV = "CLT_KIT_STAMP_KEY"


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino]


def stamp_key_path() -> Path:
    """Where the key that seals remembered hashes is kept: $CLT_KIT_STAMP_KEY, else
    $XDG_CACHE_HOME/clt-kit/stamp-key (~/.cache by default)."""
    if given := os.environ.get(STAMP_KEY_ENV):
        return Path(given)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "clt-kit" / "stamp-key"


@lru_cache(maxsize=4)
def _stamp_key(path: Path) -> bytes | None:
    """The sealing key kept at `path`, made (readable by the user alone) on first use; None when it
    can be neither read nor made (then no hash is remembered)."""
    try:
        if not path.is_file():  # written whole beside it, then linked into place: a reader never sees half a key
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process made it first: use theirs
            finally:
                tmp.unlink()
        key = path.read_bytes()
    except OSError:
        return None
    return key if len(key) >= 32 else None


def _seal(key: bytes, name: str, stamp: list[int], sha: str) -> str:
    return hmac.new(key, json.dumps([name, stamp, sha]).encode(), hashlib.sha256).hexdigest()


def _read_stamps(folder: Path) -> dict[str, list]:
    try:
        stamps = json.loads((folder / STAMPS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stamps if isinstance(stamps, dict) else {}


def hash_files(folder: Path, names: list[str] | None = None, remembered: bool = True) -> dict[str, str]:
    """{relative path: sha256} of `names` (default: every file of the folder). With `remembered`,
    the sealed hashes of files not written since are reused (see the module doc) and the new ones
    remembered; without, every file is read and hashed in full."""
    names = folder_files(folder) if names is None else names
    if not remembered:
        return {name: sha256_file(str(folder / name)) for name in names}
    key = _stamp_key(stamp_key_path())
    if key is None:
        return hash_files(folder, names, remembered=False)
    stamps, changed, hashes = _read_stamps(folder), False, {}
    for name in names:
        path = folder / name
        stamp = _stamp(path)
        known = stamps.get(name)
        if isinstance(known, list) and len(known) == 3 and known[0] == stamp and isinstance(known[1], str) \
                and isinstance(known[2], str) and hmac.compare_digest(known[2], _seal(key, name, stamp, known[1])):
            hashes[name] = known[1]
            continue
        hashes[name] = sha256_file(str(path))
        stamps[name] = [stamp, hashes[name], _seal(key, name, stamp, hashes[name])]
        changed = True
    if changed:
        try:
            write_text_atomic(folder / STAMPS, canonical(stamps) + "\n")
        except OSError:
            pass  # a read-only folder: hashes are simply computed again next time
    return hashes


def check_files(folder: Path, recorded: dict[str, str], what: str, record: str | None = None, remembered: bool = True) -> list[str]:
    """Problems of `folder` against `recorded` ({relative path: sha256}): files missing, changed,
    and files that no record names (`record`, the file holding the record, is expected there).
    Empty: the folder holds what it recorded. `what` names the artifact ("base model", "world");
    `remembered`: as in hash_files (False: every file hashed in full)."""
    if not folder.is_dir():
        return [f"{folder}: the {what} folder is missing"]
    present = set(folder_files(folder)) - {record}
    problems = [f"{folder / name}: a file of the {what} is missing" for name in sorted(recorded) if name not in present]
    actual = hash_files(folder, [name for name in sorted(recorded) if name in present], remembered)
    problems += [
        f"{folder / name}: sha256 {actual[name]}, but the {what} records {recorded[name]}; the file changed since it was written"
        for name in sorted(actual) if actual[name] != recorded[name]
    ]
    problems += [f"{folder / name}: a file the {what} does not record" for name in sorted(present - set(recorded))]
    return problems


def require_files(folder: Path, recorded: dict[str, str], what: str, record: str | None = None, remembered: bool = True) -> None:
    """check_files, raising CorruptArtifact with every problem when there is one."""
    if problems := check_files(folder, recorded, what, record, remembered):
        raise CorruptArtifact(problems)


class CorruptArtifact(InputError):
    """A cached artifact no longer holds what it recorded (its problems, one per line)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

