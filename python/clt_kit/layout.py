"""Where a reproduction keeps its files under one results folder (Layout). It imports nothing of
the stages that train or evaluate, so the commands that only read a results folder (sql, status,
claims, verify, ingest) start without torch, transformers or matplotlib."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clt_kit.study import ENGLISH_ONLY_MIXTURE

if TYPE_CHECKING:
    from clt_kit.scales import Scale


@dataclass(frozen=True)
class Layout:
    """Where a reproduction keeps its files, under one results folder."""

    results: Path

    @property
    def db(self) -> Path:
        return self.results / "clt.duckdb"

    @property
    def figures(self) -> Path:
        return self.results / "figures"

    @property
    def tables(self) -> Path:
        return self.results / "tables"

    @property
    def work(self) -> Path:
        """Cached inputs: worlds, base models, mixtures (the layout data_manifests/ mirrors)."""
        return self.results / "work"

    def world(self, scale: Scale, seed: int) -> Path:
        return self.work / f"world-{scale.name}-s{seed}"

    @property
    def models(self) -> Path:
        return self.work / "models"

    def mixture(self, scale: Scale, seed: int, task: str, k: int, mixture: str = ENGLISH_ONLY_MIXTURE, data: str = "") -> Path:
        """`<task>-k<k>` for the mixture of all seen languages (and every k=0 one: English only),
        `<task>-<mixture>-k<k>` for the others; a joint (multi-task) mixture's task is its setting's
        name. `data` names the data folder they are drawn from ("": the scale's world)."""
        name = f"{task}-k{k}" if mixture == ENGLISH_ONLY_MIXTURE or k == 0 else f"{task}-{mixture}-k{k}"
        return self.work / "mixtures" / f"{scale.name}-s{seed}{'-' + data if data else ''}" / name

    @property
    def prepare_lock(self) -> Path:
        """Held while the world, base models and mixtures are made (one process at a time)."""
        return self.work / "locks" / "prepare.lock"

    def claim(self, run_id: str) -> Path:
        """Held by the process executing run `run_id`."""
        return self.work / "locks" / f"run-{run_id}.lock"

    def progress(self, run_id: str) -> Path:
        """The share of its training steps (0 to 1) that run `run_id` has done, written by the
        process executing it, read by a sweep's progress bar."""
        return self.work / "locks" / f"run-{run_id}.progress"

    @property
    def jobs(self) -> Path:
        """One folder per run submitted to a cluster (cluster/): its job file, script, submissions and logs."""
        return self.work / "jobs"

    def job_dir(self, run_id: str) -> Path:
        return self.jobs / run_id

    @property
    def runs(self) -> Path:
        """Finished runs, one folder each (results/runs.py), the durable copy of what DuckDB holds."""
        return self.work / "runs"

    def run_dir(self, run_id: str) -> Path:
        return self.runs / run_id

    @property
    def damaged(self) -> Path:
        """Run folders found damaged, kept for inspection (`<run_id>-<UTC time>`) while the run is made again."""
        return self.work / "damaged"
