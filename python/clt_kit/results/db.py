"""Writing and reading the results database (DuckDB). One transaction per finished run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from clt_kit.jsonio import canonical
from clt_kit.results.schema import MIGRATIONS


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with the schema migrated to the newest version."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
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
        con.execute(sql)
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


def insert_run(con: duckdb.DuckDBPyConnection, record: RunRecord) -> None:
    """Stores a finished run, its manifest, its examples and per-language metrics, atomically."""
    run = _json_columns(record.run)
    con.execute("BEGIN TRANSACTION")
    try:
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


def query(path: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of a read-only query."""
    with connect(path, read_only=True) as con:
        cur = con.execute(sql)
        return [d[0] for d in cur.description], cur.fetchall()
