"""Rows of a dataset, from the Hugging Face hub (through `datasets`) or from a local copy (JSONL,
a JSON array, Parquet or TSV files), each with where it came from ("file:line" or "hub[config/split]
row N"), so that a bad row is named in the error."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from clt_kit.jsonio import InputError, iter_jsonl, iter_parquet

Row = tuple[str, dict[str, Any]]  # (where, row)
DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".tsv")


def is_local(where: str) -> bool:
    """Whether `where` names a local file or folder (else it is a hub id)."""
    return Path(where).exists() or where.startswith((".", "/", "~"))


def local_files(root: Path, patterns: Sequence[str]) -> list[Path]:
    """The data files of a local copy: `root` itself when it is a file, else the files under it that
    match the first of `patterns` that matches any (sorted: the order rows are read in)."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"{root}: no such file or folder; give a local copy's path or a hub id")
    for pattern in patterns:
        if found := sorted(p for p in root.glob(pattern) if p.is_file() and p.suffix in DATA_SUFFIXES):
            return found
    raise InputError(f"{root}: no data file matching {' or '.join(patterns)}; is it a copy of the right dataset?")


def file_rows(path: Path, tsv_columns: Sequence[str] = ()) -> Iterator[Row]:
    """The rows of one local file, by its suffix. A TSV file with `tsv_columns` has no header (they
    name its columns, as MGSM's files need); without, its first line is its header."""
    if path.suffix == ".jsonl":
        for lineno, obj in iter_jsonl(path, fix="fix the line or pass a clean copy"):
            yield f"{path}:{lineno}", obj
    elif path.suffix == ".json":
        yield from _json_rows(path)
    elif path.suffix == ".parquet":
        for i, row in iter_parquet(path):
            yield f"{path}:row {i}", row
    elif path.suffix == ".tsv":
        with path.open(encoding="utf-8", newline="") as f:
            lines = enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1)
            columns = tuple(tsv_columns) or tuple(next(lines, (0, []))[1])
            if not columns:
                raise InputError(f"{path}: an empty TSV file, without even a header line")
            for lineno, cells in lines:
                if len(cells) != len(columns):
                    where = "declared" if tsv_columns else "in its header"
                    raise InputError(f"{path}:{lineno}: {len(cells)} tab-separated columns, expected {len(columns)} ({', '.join(columns)},"
                                     f" {where}){'' if tsv_columns else '; a file without a header line needs `columns` in its source'}")
                yield f"{path}:{lineno}", dict(zip(columns, cells))
    else:
        raise InputError(f"{path}: unknown data file type {path.suffix!r}; use one of {', '.join(DATA_SUFFIXES)}")


def _json_rows(path: Path) -> Iterator[Row]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); a .json file holds one array of records") from e
    if not isinstance(data, list):
        raise InputError(f"{path}: a .json file must hold an array of records, this one holds a {type(data).__name__}")
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise InputError(f"{path}: record {i} is a {type(row).__name__}, not an object")
        yield f"{path}:record {i}", row


def hub_rows(hub_id: str, config: str | None, split: str, revision: str | None = None) -> Iterator[Row]:
    """The rows of a hub dataset (downloaded by `datasets`: the paper scale's one use of the network for data)."""
    import datasets

    ds = datasets.load_dataset(hub_id, config, split=split, revision=revision)
    label = f"{hub_id}[{config or 'default'}/{split}]"
    for i, row in enumerate(ds):
        yield f"{label} row {i}", row
