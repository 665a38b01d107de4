"""Writing and reading the results database (DuckDB). One transaction per finished run.

DuckDB lets one process at a time open a file for writing (and none while another holds it for
writing; read-only openers share it). The kit's processes hold it only for a lookup or one run's
insert, and wait for each other; a lock held by someone else (a duckdb shell left open) is named
in the error (DatabaseLocked), and the runs the kit could not load stay in their run folders
(results/runs.py) until `clt-kit ingest` or the next `reproduce` loads them.

New files are written in the storage format of DuckDB 1.5 (STORAGE_COMPATIBILITY), which the
`duckdb` command the kit installs (the duckdb-cli package, 1.5) reads.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from clt_kit.jsonio import InputError, canonical
from clt_kit.results.schema import MIGRATIONS, PAPER_REFERENCE_CSV


LOCK_WAIT_SECONDS = 600.0
STORAGE_COMPATIBILITY = "v1.5.0"
# What `clt-kit sql` may not do, whatever the query: read or write files other than the results
# database, attach other databases, install or load extensions, or change these settings back.
LOCKED_DOWN = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


class DatabaseLocked(InputError):
    """The results database is held open by another process for longer than the kit waits."""


def lock_holder(e: BaseException) -> str | None:
    """The process DuckDB names as holding the file's lock ("/usr/bin/duckdb (PID 123)"), if it does."""
    found = re.search(r"Conflicting lock is held in (.+? \(PID \d+\))", str(e))
    return found.group(1) if found else None


def _open(path: Path, read_only: bool, wait: float, config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """Opens the file, waiting up to `wait` seconds while another process holds it."""
    deadline, pause = time.monotonic() + wait, 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.IOException as e:
            if "lock" not in str(e).lower():
                raise
            if time.monotonic() > deadline:
                holder = lock_holder(e) or "another process"
                raise DatabaseLocked(
                    f"{path}: held open by {holder} for more than {wait:.0f} s; close it (a duckdb shell or Python"
                    " connection, or open it with -readonly / read_only=True) and run again"
                ) from e
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


@contextmanager
def connect(path: Path, read_only: bool = False, wait: float = LOCK_WAIT_SECONDS, locked_down: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with the schema migrated to the newest version; waits up to `wait` seconds
    while another process has the file open. `locked_down`: read-only and no access to anything
    but this file (LOCKED_DOWN), for SQL from the user."""
    config: dict[str, Any] = {} if read_only else {"storage_compatibility_version": STORAGE_COMPATIBILITY}
    if locked_down:
        read_only, config = True, dict(LOCKED_DOWN)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only, wait, config)
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
        with transaction(con):
            con.execute(sql.replace("$PAPER_REFERENCE_CSV", str(PAPER_REFERENCE_CSV).replace("'", "''")))
            con.execute("INSERT INTO schema_migrations (version) VALUES (?)", [version])
    return len(MIGRATIONS)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN ... COMMIT, rolled back on any error; the error raised is the one that happened (a
    rollback that fails too, as on a full disk, does not hide it)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise


def run_kinds(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """The (scale, seed) of the finished runs the database holds, sorted."""
    return [(scale, seed) for scale, seed in con.execute("SELECT DISTINCT scale, seed FROM runs WHERE status = 'done' ORDER BY ALL").fetchall()]


def has_run(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    return con.execute("SELECT count(*) FROM runs WHERE run_id = ? AND status = 'done'", [run_id]).fetchone()[0] > 0


@dataclass
class RunRecord:
    run: dict[str, Any]  # the runs row
    manifest: dict[str, Any]
    manifest_sha256: str
    examples: list[dict[str, Any]]
    # checkpoint_metrics rows: {"step", "task", "lang", "score", "n"} (none for runs from before)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)


def _json_columns(row: dict[str, Any]) -> dict[str, Any]:
    return {k: canonical(v) if isinstance(v, (dict, list)) else v for k, v in row.items()}


def with_study_axes(run: dict[str, Any]) -> dict[str, Any]:
    """A runs row with the study's axes (schema migration 7); a row saved by an earlier kit (a
    run folder from before them) has none, and was a single-task run on the full mixture."""
    return {"setting": "single", "mixture": "all", "tasks": [run["task"]], **run}


def insert_run(con: duckdb.DuckDBPyConnection, record: RunRecord) -> bool:
    """Stores a finished run, its manifest, its examples and per-language metrics, atomically.
    Returns False (and stores nothing) when the run is already there."""
    run = _json_columns(with_study_axes(record.run))
    if has_run(con, run["run_id"]):
        return False
    with transaction(con):
        con.execute(
            "INSERT INTO manifests VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [record.manifest_sha256, record.manifest["spec"]["task"], record.manifest["spec"]["k"],
             record.manifest["set_fingerprint"], canonical(record.manifest)],
        )
        cols = list(run)
        con.execute(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", [run[c] for c in cols])
        columns = ["example_id", "task", "lang", "prompt", "output", "reference", "extracted", "rule", "score", "detected_lang",
                   "strict_score", "flexible_score", "judge"]
        con.executemany(
            f"INSERT INTO examples (run_id, {', '.join(columns)}) VALUES ({', '.join('?' * (len(columns) + 1))})",
            [[run["run_id"], *_json_columns({c: e.get(c) for c in columns}).values()] for e in record.examples],
        )
        con.execute(
            "INSERT INTO metrics SELECT run_id, task, lang, avg(score), count(*) FROM examples"
            " WHERE run_id = ? GROUP BY ALL",
            [run["run_id"]],
        )
        if record.checkpoints:
            con.executemany(
                "INSERT INTO checkpoint_metrics (run_id, step, task, lang, score, n) VALUES (?, ?, ?, ?, ?, ?)",
                [[run["run_id"], c["step"], c["task"], c["lang"], c["score"], c["n"]] for c in record.checkpoints],
            )
    return True


def query(path: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of a query from the user, on a locked-down read-only connection
    (LOCKED_DOWN); what it may not do fails with DuckDB's own error."""
    with connect(path, locked_down=True) as con:
        cur = con.execute(sql)
        if cur is None or cur.description is None:  # an empty query (spaces, ";", comments) returns nothing
            raise InputError(f"{sql!r}: no query to run; give one, e.g. SELECT * FROM runs LIMIT 5")
        return [d[0] for d in cur.description], cur.fetchall()
