"""Rows of a dataset, from the Hugging Face hub (through `datasets`) or from a local copy (JSONL,
a JSON array, Parquet or TSV files), each with where it came from ("file:line" or "hub[config/split]
row N"), so that a bad row is named in the error."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from clt_kit.jsonio import InputError, iter_jsonl, iter_parquet

Row = tuple[str, dict[str, Any]]  # (where, row)
DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".tsv")
# A hub dataset id: owner/name, each of letters, digits, '.', '_' and '-', not starting with '.' or '-'.
HUB_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*/[A-Za-z0-9_][A-Za-z0-9._-]*")
# Extensions that make a path a file's, whatever else it looks like.
FILE_SUFFIXES = (*DATA_SUFFIXES, ".csv", ".txt", ".arrow", ".gz", ".bz2", ".xz", ".zst", ".zip", ".tar")


def is_local(where: str) -> bool:
    """Whether `where` names a local file or folder, else a hub id: local when the path exists, or
    when it is not of the form owner/name, or has a data file's extension (a path that does not exist
    is then named as missing, never sent to the hub)."""
    if Path(where).expanduser().exists():
        return True
    return not HUB_ID.fullmatch(where) or Path(where).suffix.lower() in FILE_SUFFIXES


def decoded_text(data: bytes, path: Path) -> str:
    """A file's bytes as UTF-8 text (a UTF-8 byte order mark dropped), or InputError naming the line
    of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 (byte {e.start}: {data[e.start:e.start + 1]!r}); re-encode the file as UTF-8") from None


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
    """The rows of one local file, by its suffix; a file without rows is an error naming it."""
    empty = True
    for row in _file_rows(path, tsv_columns):
        empty = False
        yield row
    if empty:
        raise InputError(f"{path}: no rows in this file; give a copy with its data (or leave the file out)")


def _file_rows(path: Path, tsv_columns: Sequence[str]) -> Iterator[Row]:
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
        text = io.StringIO(decoded_text(path.read_bytes(), path), newline="")
        lines = enumerate(csv.reader(text, delimiter="\t", quoting=csv.QUOTE_NONE), 1)
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
        data = json.loads(decoded_text(path.read_bytes(), path))
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

    try:
        ds = datasets.load_dataset(hub_id, config, split=split, revision=revision)
    except Exception as e:  # noqa: BLE001 - the hub's, the network's and `datasets`' own failures alike
        reason = " ".join(str(e).split())[:300]
        raise InputError(f"{hub_id}: cannot load it from the Hugging Face hub ({type(e).__name__}: {reason}); check the id"
                         " and the network, or give a local copy (a path starting with ./ or /)") from None
    label = f"{hub_id}[{config or 'default'}/{split}]"
    for i, row in enumerate(ds):
        yield f"{label} row {i}", row
