"""Content hashes of the folders the kit caches and reuses (worlds, tokenizers, base models,
mixtures, finished runs), and the check that a folder still holds exactly what it recorded.

Every cached artifact records the sha256 of each of its files; before a run uses one, the files
are checked against that record: a file that changed, went missing or appeared is named, and the
artifact is not used. Hashing is the Rust core's streaming sha256 (of a file; this module
imports nothing of the stages, so every stage may import it). A file's hash is remembered in
the folder's stamp file (`.clt-stamps.json`) under its size, mtime, ctime and inode: a file that
was not written since is not read again (large weights at the paper scale), and any write changes
its ctime, which no user can set back, so a changed file is always hashed afresh.
"""

from __future__ import annotations

import json
from pathlib import Path

from clt_kit._prep import sha256_file
from clt_kit.jsonio import InputError, canonical, folder_files, write_text_atomic

STAMPS = ".clt-stamps.json"  # bookkeeping (jsonio.BOOKKEEPING_PREFIX): never part of a folder's files


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _read_stamps(folder: Path) -> dict[str, list]:
    try:
        stamps = json.loads((folder / STAMPS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stamps if isinstance(stamps, dict) else {}


def hash_files(folder: Path, names: list[str] | None = None) -> dict[str, str]:
    """{relative path: sha256} of `names` (default: every file of the folder), reusing remembered
    hashes of files not written since (see the module doc) and remembering the new ones."""
    names = folder_files(folder) if names is None else names
    stamps, changed, hashes = _read_stamps(folder), False, {}
    for name in names:
        path = folder / name
        stamp = _stamp(path)
        known = stamps.get(name)
        if isinstance(known, list) and len(known) == 2 and known[0] == stamp:
            hashes[name] = known[1]
            continue
        hashes[name] = sha256_file(str(path))
        stamps[name] = [stamp, hashes[name]]
        changed = True
    if changed:
        try:
            write_text_atomic(folder / STAMPS, canonical(stamps) + "\n")
        except OSError:
            pass  # a read-only folder: hashes are simply computed again next time
    return hashes


def check_files(folder: Path, recorded: dict[str, str], what: str, record: str | None = None) -> list[str]:
    """Problems of `folder` against `recorded` ({relative path: sha256}): files missing, changed,
    and files that no record names (`record`, the file holding the record, is expected there).
    Empty: the folder holds what it recorded. `what` names the artifact ("base model", "world")."""
    if not folder.is_dir():
        return [f"{folder}: the {what} folder is missing"]
    present = set(folder_files(folder)) - {record}
    problems = [f"{folder / name}: a file of the {what} is missing" for name in sorted(recorded) if name not in present]
    actual = hash_files(folder, [name for name in sorted(recorded) if name in present])
    problems += [
        f"{folder / name}: sha256 {actual[name]}, but the {what} records {recorded[name]}; the file changed since it was written"
        for name in sorted(actual) if actual[name] != recorded[name]
    ]
    problems += [f"{folder / name}: a file the {what} does not record" for name in sorted(present - set(recorded))]
    return problems


def require_files(folder: Path, recorded: dict[str, str], what: str, record: str | None = None) -> None:
    """check_files, raising CorruptArtifact with every problem when there is one."""
    if problems := check_files(folder, recorded, what, record):
        raise CorruptArtifact(problems)


class CorruptArtifact(InputError):
    """A cached artifact no longer holds what it recorded (its problems, one per line)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

