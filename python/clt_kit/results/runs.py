"""Finished runs on disk: each run's results in a folder of its own, written before anything
goes into DuckDB, so that nothing trained is ever lost to a database that cannot be written.

A run folder (`work/runs/<run_id>/`) holds:
    run.json        the runs row, the mixture manifest it trained on, the per-language scores at
                    each checkpoint (training dynamics), and the sha256 of examples.jsonl
    examples.jsonl  one scored test example per line

It is written beside its final place and renamed into it when complete (jsonio.publish_dir): a
folder with run.json is a finished run, and a run killed half way leaves nothing that looks
finished. `ingest` loads finished folders into the database; a run already there is skipped, so
ingesting twice, or from two processes, stores each run once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from clt_kit.integrity import hash_files, require_files
from clt_kit.jsonio import publish_dir, read_json, read_jsonl, write_json, write_jsonl
from clt_kit.layout import Layout
from clt_kit.results import db

RUN_RECORD, EXAMPLES = "run.json", "examples.jsonl"
log = logging.getLogger("clt_kit")


def is_finished(run_dir: Path) -> bool:
    return (run_dir / RUN_RECORD).is_file()


def save_run(record: db.RunRecord, run_dir: Path) -> None:
    """Writes a finished run's folder (atomically: complete or absent)."""
    with publish_dir(run_dir) as tmp:
        write_jsonl(tmp / EXAMPLES, record.examples)
        run = {**record.run, "finished_at": record.run["finished_at"].isoformat()}
        write_json(tmp / RUN_RECORD, {
            "run": run, "manifest": record.manifest, "manifest_sha256": record.manifest_sha256,
            "checkpoints": record.checkpoints, "files": hash_files(tmp, [EXAMPLES]),
        })


def load_run(run_dir: Path) -> db.RunRecord:
    """The record of a finished run folder, its examples checked against their recorded hash."""
    stored = read_json(run_dir / RUN_RECORD)
    require_files(run_dir, stored["files"], "run", RUN_RECORD)
    run = {**stored["run"], "finished_at": datetime.fromisoformat(stored["run"]["finished_at"])}
    return db.RunRecord(run=run, manifest=stored["manifest"], manifest_sha256=stored["manifest_sha256"],
                        examples=read_jsonl(run_dir / EXAMPLES), checkpoints=stored.get("checkpoints", []))


@dataclass
class Ingested:
    """What one ingest did: runs loaded now, runs the database had already, folders it refused."""

    loaded: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)  # one problem line per refused folder


def finished_runs(runs_root: Path) -> list[Path]:
    """Every finished run folder under `runs_root` (sorted by run id)."""
    return sorted(p.parent for p in runs_root.glob(f"*/{RUN_RECORD}")) if runs_root.is_dir() else []


def ingest(db_path: Path, run_dirs: list[Path], wait: float = db.LOCK_WAIT_SECONDS) -> Ingested:
    """Loads finished run folders into the database (each run in one transaction). Raises
    db.DatabaseLocked when the file stays held by another process for `wait` seconds: the folders
    stay as they are, to be loaded later."""
    done = Ingested()
    with db.connect(db_path, wait=wait) as con:
        for run_dir in run_dirs:
            try:
                record = load_run(run_dir)
            except ValueError as e:  # InputError, CorruptArtifact: name it and go on
                done.damaged.append(str(e))
                continue
            (done.loaded if db.insert_run(con, record) else done.present).append(record.run["run_id"])
    for problem in done.damaged:
        log.warning("%s; not loaded (run it again by removing the folder)", problem)
    return done


def ingest_finished(layout: Layout, wait: float = db.LOCK_WAIT_SECONDS) -> Ingested:
    """Loads every finished run folder the database lacks (`clt-kit ingest`; also the end of every
    sweep, before its figure is drawn). Raises db.DatabaseLocked, saying the runs are safe, when
    the database stays held by another process."""
    dirs = finished_runs(layout.runs)
    try:
        return ingest(layout.db, dirs, wait=wait)
    except db.DatabaseLocked as e:
        raise db.DatabaseLocked(f"{e}. Nothing is lost: the {len(dirs)} finished run(s) are kept in {layout.runs};"
                                " `clt-kit ingest` (or the same `reproduce` again) loads them") from e
