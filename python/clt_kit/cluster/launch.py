"""Runs over this machine's GPUs: each missing run of a sweep executed by `accelerate launch`, one
run after another (`reproduce --gpus-per-run N` with the local executor: one node, no scheduler).

A run is written down as a job file (cluster/jobs.py) and executed by `clt-kit execute` in child
processes, one per GPU: every process trains (FSDP on several GPUs), the main one evaluates the
whole model and publishes the run folder. This process holds the run's claim meanwhile (another
sweep on the same results folder leaves the run alone), then loads the finished folder into the
database, as a local sweep does. The children's output goes to the job folder
(`work/jobs/<run_id>/launch-<n>.log`); a run that fails is named with its log and its last lines
once the others have run, and the same command again executes only the runs still missing.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from clt_kit.cluster.jobs import launch_command, log_tail, write_job
from clt_kit.evaluate.judge import Judge
from clt_kit.jsonio import file_lock
from clt_kit.layout import Layout
from clt_kit.pipeline import INGEST_WAIT_SECONDS, PreparedRun, ReproduceResult, Setup, draw, load_into_db, missing, plan, prepare, runs_bar
from clt_kit.results import runs as run_store
from clt_kit.scales import Scale
from clt_kit.study import RunSet

LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class FailedRun:
    run_id: str
    returncode: int
    log: Path

    def describe(self) -> str:
        return "\n".join([f"run {self.run_id} failed (exit {self.returncode}); its log: {self.log}",
                          *("    " + line for line in log_tail(self.log, LOG_TAIL_LINES))])


class RunsFailed(Exception):
    """Runs of a launched sweep that ended without a finished run folder (the others are stored)."""

    def __init__(self, failed: list[FailedRun], results: Path) -> None:
        self.failed = failed
        super().__init__("\n".join([f"{len(failed)} run(s) failed; the finished ones are stored, and the same command again"
                                    f" executes only the missing ones (results: {results})", *(f.describe() for f in failed)]))


def _log(layout: Layout, run_id: str) -> Path:
    """The next launch log of a run's job folder (launch-1.log, launch-2.log, ...)."""
    folder = layout.job_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"launch-{len(list(folder.glob('launch-*.log'))) + 1}.log"


def launch_run(run: PreparedRun, setup: Setup, layout: Layout, gpus: int, accelerate_config: str | None,
               progress: bool = False) -> FailedRun | bool:
    """Executes one run under accelerate launch, holding its claim (waiting for another sweep
    that holds it), and loads it into the database: True when it ran here, False when its folder
    was already finished, the FailedRun when it failed. `progress`: say where its output goes."""
    with file_lock(layout.claim(run.run_id), blocking=True):
        if run_store.is_finished(layout.run_dir(run.run_id)):
            return False
        job = write_job(run, setup, layout)
        log = _log(layout, run.run_id)
        if progress:
            tqdm.write(f"run {run.run_id} ({run.plan.model} {run.plan.task} k={run.plan.k}): output in {log}")
        with log.open("w", encoding="utf-8") as out:
            done = subprocess.run(launch_command(job, gpus, accelerate_config), stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
        if done.returncode != 0 or not run_store.is_finished(layout.run_dir(run.run_id)):
            return FailedRun(run.run_id, done.returncode, log)
        load_into_db([layout.run_dir(run.run_id)], layout, INGEST_WAIT_SECONDS)
        return True


def reproduce_launched(targets: list[RunSet], scale: Scale, seed: int, results: Path, gpus: int, accelerate_config: str | None = None,
                       progress: bool = True, data: Path | None = None, judge: Judge | None = None,
                       ks: tuple[int, ...] | None = None) -> ReproduceResult:
    """Prepares what the runs of `targets` need (data, mixtures, base models), executes each
    missing run over `gpus` GPUs of this machine (launch_run), one after another, then draws the
    figures and tables; raises RunsFailed, after the other runs, when a run failed."""
    start = time.perf_counter()
    layout = Layout(results)
    setup, runs = prepare(plan(targets, scale, ks), scale, seed, layout, progress, 1, data, judge)
    todo = missing(runs, layout)
    failed: list[FailedRun] = []
    done = 0
    with runs_bar(len(todo), f"runs (accelerate launch, {gpus} GPU{'s' if gpus > 1 else ''} each)", progress) as bar:
        for run in todo:
            outcome = launch_run(run, setup, layout, gpus, accelerate_config, progress)
            if isinstance(outcome, FailedRun):
                failed.append(outcome)
            else:
                done += outcome
            bar.update()
    run_store.ingest_finished(layout)
    if failed:
        raise RunsFailed(failed, results)
    outputs = [draw(target, layout, scale.name, seed) for target in targets]
    return ReproduceResult(outputs=outputs, runs_done=done, runs_reused=len(runs) - len(todo), seconds=time.perf_counter() - start)
