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

What covers a run folder (run_problems; `ingest` and `clt-kit verify` refuse a folder that fails
any of it): its spec hashes to its run id, which is the folder's name; every field of the run
that the spec also states (scale, model, setting, mixture, task, k, seed, hashes of the base and
the mixture manifest) equals the spec's, and its tasks are the setting's; the mixture manifest it
keeps hashes to the sha256 the spec names; every other file of the folder is recorded with its
sha256 (none missing, none extra); and the record as a whole hashes to its `record_sha256`, so
no field of run.json (an outcome such as weights_sha256 or a score's checkpoint row included) is
changed unnoticed. A forged k must change the id, hence the folder's name, and no longer match
the k of the mixture manifest the id covers. A record without `record_sha256` is accepted only in the
shape of the kit's first release (a spec without "setting"), whose id still covers its spec.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from clt_kit.integrity import CorruptArtifact, check_files, hash_files
from clt_kit.jsonio import canonical, publish_dir, read_json, read_jsonl, write_json, write_jsonl
from clt_kit.layout import Layout
from clt_kit.results import db

RUN_RECORD, EXAMPLES = "run.json", "examples.jsonl"
SEAL = "record_sha256"  # the sha256 of run.json's canonical JSON without this field
log = logging.getLogger("clt_kit")


def run_id(spec: dict[str, Any]) -> str:
    """A run's id: the hash of its spec, everything that determines the run."""
    return hashlib.sha256(canonical(spec).encode()).hexdigest()[:16]


def _seal(stored: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in stored.items() if k != SEAL}).encode()).hexdigest()


def is_finished(run_dir: Path) -> bool:
    return (run_dir / RUN_RECORD).is_file()


def save_run(record: db.RunRecord, run_dir: Path) -> None:
    """Writes a finished run's folder (atomically: complete or absent)."""
    with publish_dir(run_dir) as tmp:
        write_jsonl(tmp / EXAMPLES, record.examples)
        run = {**record.run, "finished_at": record.run["finished_at"].isoformat()}
        stored = {
            "run": run, "manifest": record.manifest, "manifest_sha256": record.manifest_sha256,
            "checkpoints": record.checkpoints, "files": hash_files(tmp, [EXAMPLES]),
        }
        write_json(tmp / RUN_RECORD, {**stored, SEAL: _seal(stored)})


def _spec_scale(spec: dict[str, Any]) -> Any:
    return spec["scale"]["name"] if isinstance(spec["scale"], dict) else spec["scale"]


def record_problems(run_dir: Path, stored: dict[str, Any]) -> list[str]:
    """Where run.json (`stored`) is not covered by its id and its seal (see the module doc)."""
    from clt_kit.study import study

    path, run, spec = run_dir / RUN_RECORD, stored["run"], stored["run"]["spec"]
    problems = []
    if len({run_id(spec), run["run_id"], run_dir.name}) != 1:
        problems.append(f"{path}: its spec hashes to run {run_id(spec)}, it records run_id {run['run_id']!r}, its folder is"
                        f" {run_dir.name!r}: the record was changed (a changed spec is another run, made by running it)")
    mirrored = {key: spec[key] for key in spec if key in run and key not in ("scale", "spec")} | {"scale": _spec_scale(spec)}
    problems += [f"{path}: run.{key} is {run.get(key)!r} but its spec (hashed into its id) says {value!r}"
                 for key, value in sorted(mirrored.items()) if run.get(key) != value]
    if "setting" in run:
        try:
            tasks = list(study().tasks_of(run["setting"], run["task"]))
        except KeyError:
            tasks = None
        if run.get("tasks") != tasks:
            problems.append(f"{path}: run.tasks is {run.get('tasks')!r} but a run of setting {run['setting']!r} trains on {tasks!r}")
    sha = hashlib.sha256((canonical(stored["manifest"]) + "\n").encode()).hexdigest()
    if not sha == stored["manifest_sha256"] == spec["mixture_manifest_sha256"]:
        problems.append(f"{path}: the mixture manifest it keeps hashes to {sha}, it records {stored['manifest_sha256']}, its spec"
                        f" names {spec['mixture_manifest_sha256']}")
    kept = {key: stored["manifest"]["spec"].get(key) for key in ("task", "k")}
    problems += [f"{path}: its spec says {key} {spec[key]!r}, but the mixture it trained on (the manifest it keeps) has {key} {value!r}"
                 for key, value in kept.items() if spec.get(key) != value]
    if SEAL in stored:
        if (actual := _seal(stored)) != stored[SEAL]:
            problems.append(f"{path}: the record hashes to {actual}, but its {SEAL} is {stored[SEAL]}: a field of it was changed")
    elif "setting" in spec:
        problems.append(f"{path}: records no {SEAL}, so its outcome (weights, losses, checkpoints) is covered by nothing;"
                        " remove the folder and run it again")
    return problems


def run_problems(run_dir: Path, remembered: bool = True) -> list[str]:
    """Everything wrong with a finished run folder: its record (record_problems) and its files
    against the hashes it records (`remembered`: as in integrity.hash_files)."""
    stored = read_json(run_dir / RUN_RECORD)
    if not isinstance(stored, dict):
        return [f"{run_dir / RUN_RECORD}: not a run record (a JSON object with run, manifest and files)"]
    try:
        if EXAMPLES not in stored["files"]:
            return [f"{run_dir / RUN_RECORD}: records no sha256 of {EXAMPLES}"]
        return record_problems(run_dir, stored) + check_files(run_dir, stored["files"], "run", RUN_RECORD, remembered)
    except (KeyError, TypeError, AttributeError) as e:
        return [f"{run_dir / RUN_RECORD}: malformed run record ({type(e).__name__}: {e}); remove the folder and run it again"]


def load_run(run_dir: Path) -> db.RunRecord:
    """The record of a finished run folder, once run_problems finds nothing wrong with it."""
    if problems := run_problems(run_dir):
        raise CorruptArtifact(problems)
    stored = read_json(run_dir / RUN_RECORD)
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
