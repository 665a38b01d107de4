"""Writing and reading the results database (DuckDB). One transaction per finished run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from clt_kit.jsonio import canonical
from clt_kit.results.schema import MIGRATIONS, PAPER_REFERENCE_CSV


LOCK_WAIT_SECONDS = 600.0


def _open(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    """Opens the file, waiting while another process holds it: DuckDB lets one process at a time
    open a file for writing, and the kit's processes hold it only for a lookup or one run's insert."""
    deadline, pause = time.monotonic() + wait, 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as e:
            if "lock" not in str(e).lower() or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


@contextmanager
def connect(path: Path, read_only: bool = False, wait: float = LOCK_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with the schema migrated to the newest version; waits up to `wait` seconds
    while another process has the file open."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only, wait)
    try:
        if not read_only:
            migrate(con)
        yield con
    finally:
        con.close()


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Applies pending migrations; returns the schema version."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP DEFAULT current_timestamp)")
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    for version, sql in enumerate(MIGRATIONS, start=1):
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        con.execute(sql.replace("$PAPER_REFERENCE_CSV", str(PAPER_REFERENCE_CSV).replace("'", "''")))
        con.execute("INSERT INTO schema_migrations (version) VALUES (?)", [version])
        con.execute("COMMIT")
    return len(MIGRATIONS)


def has_run(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    return con.execute("SELECT count(*) FROM runs WHERE run_id = ? AND status = 'done'", [run_id]).fetchone()[0] > 0


@dataclass
class RunRecord:
    run: dict[str, Any]  # the runs row
    manifest: dict[str, Any]
    manifest_sha256: str
    examples: list[dict[str, Any]]


def _json_columns(row: dict[str, Any]) -> dict[str, Any]:
    return {k: canonical(v) if isinstance(v, (dict, list)) else v for k, v in row.items()}


def insert_run(con: duckdb.DuckDBPyConnection, record: RunRecord) -> bool:
    """Stores a finished run, its manifest, its examples and per-language metrics, atomically.
    Returns False (and stores nothing) when the run is already there."""
    run = _json_columns(record.run)
    con.execute("BEGIN TRANSACTION")
    try:
        if has_run(con, run["run_id"]):
            con.execute("ROLLBACK")
            return False
        con.execute(
            "INSERT INTO manifests VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [record.manifest_sha256, record.manifest["spec"]["task"], record.manifest["spec"]["k"],
             record.manifest["set_fingerprint"], canonical(record.manifest)],
        )
        cols = list(run)
        con.execute(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", [run[c] for c in cols])
        columns = ["example_id", "task", "lang", "prompt", "output", "reference", "extracted", "rule", "score", "detected_lang"]
        con.executemany(
            f"INSERT INTO examples (run_id, {', '.join(columns)}) VALUES ({', '.join('?' * (len(columns) + 1))})",
            [[run["run_id"], *(e.get(c) for c in columns)] for e in record.examples],
        )
        con.execute(
            "INSERT INTO metrics SELECT run_id, task, lang, avg(score), count(*) FROM examples"
            " WHERE run_id = ? GROUP BY ALL",
            [run["run_id"]],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return True


def query(path: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of a read-only query."""
    with connect(path, read_only=True) as con:
        cur = con.execute(sql)
        return [d[0] for d in cur.description], cur.fetchall()
