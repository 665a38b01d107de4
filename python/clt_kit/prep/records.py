"""Reading training records (JSONL) with validation that names the file and line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clt_kit.jsonio import InputError, iter_jsonl
from clt_kit.world.lexicon import available

REQUIRED_FIELDS = ("id", "lang", "prompt", "response")


@dataclass
class ReadResult:
    records: list[dict[str, Any]]
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count (lenient mode)


def _problem(obj: dict[str, Any], known: set[str]) -> tuple[str, str] | None:
    """(reason, message) when a record is unusable, else None."""
    for name in REQUIRED_FIELDS:
        if name not in obj:
            return "missing_field", f"missing field {name!r} (each record needs {', '.join(REQUIRED_FIELDS)})"
        if not isinstance(obj[name], str):
            return "bad_field", f"field {name!r} must be a string, got {type(obj[name]).__name__}"
    if obj["lang"] not in known:
        return "unknown_language", f"unknown language code {obj['lang']!r}; known: {', '.join(sorted(known))}"
    if not obj["prompt"].strip():
        return "empty_text", "empty prompt"
    return None


def read_records(path: Path, lenient: bool = False) -> ReadResult:
    """All records of a JSONL file. A bad record stops with InputError, or is counted when lenient."""
    if not path.exists():
        raise InputError(f"{path}: no such file; run `clt-kit world` first or pass the right path")
    known = set(available())
    result = ReadResult(records=[])

    def skip(reason: str, _message: str) -> None:
        result.skipped[reason] += 1

    for lineno, obj in iter_jsonl(path, on_error=skip if lenient else None):
        problem = _problem(obj, known)
        if problem is None:
            result.records.append(obj)
        elif lenient:
            skip(*problem)
        else:
            raise InputError(f"{path}:{lineno}: {problem[1]}; fix the record or pass --lenient to skip it")
    return result
