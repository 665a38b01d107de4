"""Reading training records (JSONL, Parquet or a saved HF dataset) with validation that names
the file and the line (or row) and the fix."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clt_kit.jsonio import InputError, iter_jsonl, iter_parquet
from clt_kit.world.lexicon import available

REQUIRED_FIELDS = ("id", "lang", "prompt", "response")


LENIENT_HINT = "fix the record or pass --lenient to skip it"


@dataclass
class ReadResult:
    records: list[dict[str, Any]]
    where: list[str] = field(default_factory=list)  # "file:line" (or "file:row N") of each record
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count (lenient mode)

    @property
    def lines(self) -> int:
        """Every record read, usable or skipped."""
        return len(self.records) + sum(self.skipped.values())


def _problem(obj: dict[str, Any], known: set[str]) -> tuple[str, str] | None:
    """(reason, message) when a record is unusable, else None."""
    for name in REQUIRED_FIELDS:
        if name not in obj or obj[name] is None:
            return "missing_field", f"missing field {name!r} (each record needs {', '.join(REQUIRED_FIELDS)})"
        if not isinstance(obj[name], str):
            return "bad_field", f"field {name!r} must be a string, got {type(obj[name]).__name__}"
    if obj["lang"] not in known:
        return "unknown_language", f"unknown language code {obj['lang']!r}; known: {', '.join(sorted(known))}"
    if not obj["prompt"].strip():
        return "empty_text", "empty prompt"
    return None


def _rows(path: Path, on_error: Any, fix: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) for every record of a file, in file order."""
    if path.is_dir():
        import datasets

        try:
            ds = datasets.load_from_disk(str(path))
        except Exception as e:  # noqa: BLE001 - any failure here means "not a saved dataset"
            raise InputError(f"{path}: not a saved Hugging Face dataset ({e}); save one with Dataset.save_to_disk") from e
        if isinstance(ds, datasets.DatasetDict):
            raise InputError(f"{path}: a DatasetDict with splits {list(ds)}; pass one split's folder, e.g. {path}/train")
        for i, row in enumerate(ds):
            yield f"row {i}", row
    elif path.suffix == ".parquet":
        for i, row in iter_parquet(path):
            yield f"row {i}", row
    else:
        for lineno, obj in iter_jsonl(path, on_error=on_error, fix=fix):
            yield str(lineno), obj


def read_records(path: Path, lenient: bool = False, fix: str = LENIENT_HINT) -> ReadResult:
    """All records of a file. A bad record stops with InputError (ending with `fix`: what to do,
    where --lenient does not apply, say so), or is counted when lenient."""
    if not path.exists():
        raise InputError(f"{path}: no such file; run `clt-kit world` first or pass the right path")
    known = set(available())
    result = ReadResult(records=[])

    def skip(reason: str, _message: str) -> None:
        result.skipped[reason] += 1

    for where, obj in _rows(path, skip if lenient else None, fix):
        problem = _problem(obj, known)
        if problem is None:
            result.records.append(obj)
            result.where.append(f"{path}:{where}")
        elif lenient:
            skip(*problem)
        else:
            raise InputError(f"{path}:{where}: {problem[1]}; {fix}")
    return result
