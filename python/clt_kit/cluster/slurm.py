"""The Slurm executor: a sweep's missing runs submitted as Slurm jobs, one job per run.

Each run gets a job folder (`work/jobs/<run_id>/`): its job file (cluster/jobs.py), the sbatch
script `job.sh`, `submissions.jsonl` (one line per sbatch: the job id and when) and the jobs'
logs (`slurm-<job id>.log`). A job runs `clt-kit execute` on its job file, under `accelerate
launch` when it has GPUs, and publishes the run folder with an atomic rename when the run is
complete. Jobs never touch the DuckDB file; the submitting command (and `clt-kit ingest`) loads
finished run folders into it, one process at a time.

A run's state is read from the run folders and from `squeue` (asked first, so that a job that
ends in between is seen finished, not failed): finished (its run folder is complete), queued or
running (its last job is in the queue), failed (its last job left the queue without a finished
run folder: it failed, was cancelled or ran out of time; its log says which), or not submitted.
Submitting again submits only the failed and the not-submitted runs.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clt_kit.cluster.jobs import JOB_FILE, launch_command, write_job
from clt_kit.evaluate.judge import Judge
from clt_kit.jsonio import InputError, read_jsonl, write_text_atomic
from clt_kit.layout import Layout
from clt_kit.results import runs as run_store
from clt_kit.scales import Scale
from clt_kit.study import RunSet

if TYPE_CHECKING:  # the pipeline (torch, transformers, matplotlib) is imported by what submits or waits, not by `clt-kit status`
    from clt_kit.pipeline import PreparedRun, Setup
    from clt_kit.results.figures import FigureFiles
    from clt_kit.results.tables import TableFiles

SCRIPT, SUBMISSIONS = "job.sh", "submissions.jsonl"
QUEUED, RUNNING, FINISHED, FAILED, NOT_SUBMITTED = "queued", "running", "finished", "failed", "not submitted"
# squeue's job states of a job still in the system (anything else: it has ended)
_RUNNING_STATES = {"RUNNING", "COMPLETING", "CONFIGURING", "RESIZING", "SIGNALING", "STAGE_OUT", "SUSPENDED"}
_QUEUED_STATES = {"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "SPECIAL_EXIT"}
_STATES = {**dict.fromkeys(_RUNNING_STATES, RUNNING), **dict.fromkeys(_QUEUED_STATES, QUEUED)}



@dataclass(frozen=True)
class SlurmOptions:
    """What each run's job asks Slurm for (None: the cluster's default)."""

    partition: str | None = None
    account: str | None = None
    time: str | None = None  # sbatch --time, e.g. 24:00:00
    gpus_per_run: int = 0  # 0: a CPU job; 1: one GPU; more: one node's GPUs, FSDP under accelerate launch
    cpus_per_run: int | None = None  # None: the scale's CPU threads for a CPU job, the cluster's default with GPUs
    mem: str | None = None  # sbatch --mem, e.g. 200G
    accelerate_config: str | None = None  # an accelerate config file for the runs with GPUs (its num_processes is the GPU count)
    sbatch_lines: tuple[str, ...] = ()  # more #SBATCH lines as they are, e.g. "--qos=high" or "--constraint=h100"

    @classmethod
    def read(cls, path: Path) -> dict[str, Any]:
        """The options a YAML (or JSON) file gives, by name (the CLI's options override them)."""
        import yaml

        try:
            given = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise InputError(f"{path}:{mark.line + 1 if mark else '?'}: not valid YAML ({getattr(e, 'problem', e)})") from e
        names = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(given, dict) or (unknown := sorted(set(given) - set(names))):
            raise InputError(f"{path}: Slurm options are a mapping of {', '.join(names)}"
                             + (f"; unknown: {', '.join(map(str, unknown))}" if isinstance(given, dict) else ""))
        if "sbatch_lines" in given:
            given["sbatch_lines"] = tuple(given["sbatch_lines"] or ())
        return given


@dataclass(frozen=True)
class RunStatus:
    run_id: str
    state: str
    job_id: str | None = None  # the run's last job
    log: Path | None = None  # that job's log


@dataclass
class Submitted:
    """What one submission did, by run id: submitted now (job id), and left alone (state)."""

    submitted: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _command(args: list[str]) -> str:
    """Runs a Slurm command; its output, or an InputError saying what failed."""
    if shutil.which(args[0]) is None:
        raise InputError(f"{args[0]}: not found on PATH; --executor slurm needs Slurm's commands (sbatch, squeue) on this machine")
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise InputError(f"`{shlex.join(args)}` failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def queue() -> dict[str, tuple[str, str]]:
    """This user's jobs in Slurm's queue: {job id: (job name, state)}."""
    lines = _command(["squeue", "--me", "--noheader", "--format=%i|%j|%T"]).splitlines()
    return {job: (name, state) for job, name, state in (line.strip().split("|", 2) for line in lines if line.strip())}


def job_name(run_id: str) -> str:
    return f"clt-{run_id}"


def _last_job(job_dir: Path) -> str | None:
    path = job_dir / SUBMISSIONS
    return read_jsonl(path)[-1]["job_id"] if path.is_file() else None


def log_path(job_dir: Path, job_id: str) -> Path:
    return job_dir / f"slurm-{job_id}.log"


def statuses(layout: Layout, run_ids: list[str]) -> list[RunStatus]:
    """The state of each run (the queue read first, then the run folders)."""
    jobs = {run: _last_job(layout.job_dir(run)) for run in run_ids}
    in_queue = queue() if any(jobs.values()) else {}
    found = []
    for run, job in jobs.items():
        log = log_path(layout.job_dir(run), job) if job else None
        if run_store.is_finished(layout.run_dir(run)):
            state = FINISHED
        elif job is None:
            state = NOT_SUBMITTED
        else:  # a job id of another job (a cluster whose ids started again) is not this run's
            name, queued = in_queue.get(job, ("", ""))
            state = _STATES.get(queued, FAILED) if name == job_name(run) else FAILED
        found.append(RunStatus(run, state, job, log))
    return found


def known_runs(layout: Layout) -> list[str]:
    """Every run with a job folder or a finished run folder (sorted)."""
    folders = [p.parent.name for p in layout.jobs.glob(f"*/{JOB_FILE}")] if layout.jobs.is_dir() else []
    return sorted(set(folders) | {p.name for p in run_store.finished_runs(layout.runs)})


def job_script(job_dir: Path, run_id: str, options: SlurmOptions, cpu_threads: int) -> str:
    """The sbatch script of one run: one task on one node; under accelerate launch with GPUs."""
    given = {"partition": options.partition, "account": options.account, "time": options.time, "mem": options.mem}
    cpus = options.cpus_per_run or (cpu_threads if options.gpus_per_run == 0 else None)
    lines = ["#!/bin/bash", f"#SBATCH --job-name={job_name(run_id)}", f"#SBATCH --output={log_path(job_dir, '%j')}",
             "#SBATCH --nodes=1", "#SBATCH --ntasks=1"]
    lines += [f"#SBATCH --{name}={value}" for name, value in given.items() if value]
    lines += [f"#SBATCH --cpus-per-task={cpus}"] if cpus else []
    lines += [f"#SBATCH --gpus-per-node={options.gpus_per_run}"] if options.gpus_per_run else []
    lines += [f"#SBATCH {line if line.startswith('-') else '--' + line}" for line in options.sbatch_lines]
    command = launch_command(job_dir / JOB_FILE, options.gpus_per_run, options.accelerate_config)
    lines += ["set -euo pipefail", "export PYTHONUNBUFFERED=1  # the log shows each line as it is written", 'echo "clt-kit: run ' + run_id + ' as job $SLURM_JOB_ID on $(hostname)"',
              "exec " + shlex.join(command)]
    return "\n".join(lines) + "\n"


def _sbatch(job_dir: Path) -> str:
    """Submits a job folder's script; records and returns the job id."""
    job_id = _command(["sbatch", "--parsable", str(job_dir / SCRIPT)]).strip().split(";")[0]
    with (job_dir / SUBMISSIONS).open("a", encoding="utf-8") as f:
        f.write(json.dumps({"job_id": job_id, "submitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}) + "\n")
    return job_id


def submit(runs: list[PreparedRun], setup: Setup, layout: Layout, options: SlurmOptions) -> Submitted:
    """Submits each of `runs` that is neither finished nor queued nor running (its job file and
    script written anew, with these options)."""
    done = Submitted()
    for status, run in zip(statuses(layout, [r.run_id for r in runs]), runs):
        if status.state in (FINISHED, QUEUED, RUNNING):
            done.skipped[run.run_id] = status.state
            continue
        job_dir = layout.job_dir(run.run_id)
        write_job(run, setup, layout)
        write_text_atomic(job_dir / SCRIPT, job_script(job_dir, run.run_id, options, setup.scale.cpu_threads))
        done.submitted[run.run_id] = _sbatch(job_dir)
    return done


def resubmit(layout: Layout, run_ids: list[str]) -> dict[str, str]:
    """Submits the job scripts of failed runs again, as they were written; {run id: job id}."""
    found = {s.run_id: s for s in statuses(layout, run_ids)}
    for run in run_ids:
        if not (layout.job_dir(run) / SCRIPT).is_file():
            raise InputError(f"{layout.job_dir(run)}: no job of run {run} here; submit it with `reproduce --executor slurm`"
                             f" (runs with jobs: `clt-kit status --results {layout.results}`)")
        if found[run].state != FAILED:
            raise InputError(f"run {run} is {found[run].state}" + (f" (job {found[run].job_id})" if found[run].job_id else "")
                             + ": only a failed run is submitted again")
    return {run: _sbatch(layout.job_dir(run)) for run in run_ids}


def wait_for(layout: Layout, run_ids: list[str], poll_seconds: float, progress: bool) -> list[RunStatus]:
    """Waits until none of `run_ids` is queued or running, loading each finished run into the
    database as it appears; returns their last states."""
    from clt_kit.pipeline import INGEST_WAIT_SECONDS, load_into_db, runs_bar

    loaded: set[str] = set()
    with runs_bar(len(run_ids), "runs (Slurm)", progress) as bar:
        while True:
            now = statuses(layout, run_ids)
            new = [s.run_id for s in now if s.state == FINISHED and s.run_id not in loaded]
            if new:
                load_into_db([layout.run_dir(run) for run in new], layout, wait=INGEST_WAIT_SECONDS)
                loaded |= set(new)
            bar.update(len(loaded) - bar.n)
            if not any(s.state in (QUEUED, RUNNING) for s in now):
                return now
            time.sleep(poll_seconds)


@dataclass
class SlurmSweep:
    """What `reproduce --executor slurm` did and where the sweep stands."""

    submitted: Submitted
    runs: list[RunStatus]  # every planned run
    outputs: list[FigureFiles | TableFiles]  # drawn once every planned run is finished

    def count(self, state: str) -> int:
        return sum(s.state == state for s in self.runs)


def reproduce_on_slurm(targets: list[RunSet], scale: Scale, seed: int, results: Path, options: SlurmOptions, progress: bool = True,
                       data: Path | None = None, judge: Judge | None = None, ks: tuple[int, ...] | None = None,
                       wait: bool = False, poll_seconds: float = 30.0) -> SlurmSweep:
    """Prepares what the runs of `targets` need here (data, mixtures, base models), submits the
    missing runs as Slurm jobs, loads the finished ones into the database, and draws the figures
    and tables once every run is finished; with `wait`, first waits for the jobs to end."""
    from clt_kit.pipeline import draw, missing, plan, prepare

    layout = Layout(results)
    setup, runs = prepare(plan(targets, scale, ks), scale, seed, layout, progress, 1, data, judge)
    todo = missing(runs, layout)
    submitted = submit(todo, setup, layout, options)
    ids = [r.run_id for r in todo]
    now = wait_for(layout, ids, poll_seconds, progress) if wait else statuses(layout, ids)
    run_store.ingest_finished(layout)
    stored = sorted({r.run_id for r in runs} - set(ids))  # finished before, in a folder or the database
    found = [RunStatus(r, FINISHED) for r in stored] + now
    outputs = [draw(target, layout, scale.name, seed) for target in targets] if all(s.state == FINISHED for s in found) else []
    return SlurmSweep(submitted, found, outputs)
