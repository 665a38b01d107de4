"""The whole pipeline for one figure: world -> base models -> mixtures -> SFT -> eval -> DuckDB -> figure.

Every stage is cached or skipped by content: the world and base models by the hash of their
inputs, and each run by its run id (the hash of its spec), so a rerun recomputes nothing.
"""

from __future__ import annotations

import hashlib
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm
from transformers.utils import logging as hf_logging

from clt_kit import __version__
from clt_kit.evaluate.tasks import evaluate_task
from clt_kit.jsonio import canonical, read_json, read_jsonl
from clt_kit.languages import TASKS
from clt_kit.prep.mixture import MixtureSpec, build_mixture
from clt_kit.results import db
from clt_kit.results.figures import FIGURES, FigureFiles
from clt_kit.scales import ModelSize, Scale
from clt_kit.train.pretrain import ensure_base_model
from clt_kit.train.sft import sft
from clt_kit.world.generate import WorldPaths, ensure_world

SUPPORTED_FIGURES = tuple(FIGURES)


@dataclass(frozen=True)
class RunPlan:
    model: ModelSize
    task: str
    k: int


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

    def world(self, scale: Scale, seed: int) -> Path:
        return self.results / "work" / f"world-{scale.name}-s{seed}"

    @property
    def models(self) -> Path:
        return self.results / "work" / "models"

    def mixture(self, scale: Scale, seed: int, task: str, k: int) -> Path:
        return self.results / "work" / "mixtures" / f"{scale.name}-s{seed}" / f"{task}-k{k}"


def plan_figure(figure: int, scale: Scale) -> list[RunPlan]:
    """The runs a figure needs (Figures 2 and 3 share them: the single-task grid, both model sizes,
    all three tasks)."""
    if figure not in SUPPORTED_FIGURES:
        raise ValueError(f"figure {figure} is not supported yet; supported: {', '.join(map(str, SUPPORTED_FIGURES))}")
    return [RunPlan(size, task, k) for size in scale.models for task in TASKS for k in scale.k_grid]


def environment() -> dict[str, Any]:
    import accelerate
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "clt_kit": __version__,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }


def run_id(spec: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(spec).encode()).hexdigest()[:16]


def _execute(plan: RunPlan, spec: dict[str, Any], base: Path, world: WorldPaths, mixture_dir: Path, scale: Scale, seed: int) -> db.RunRecord:
    """Fine-tunes and evaluates one run; returns what goes into the database."""
    t0 = time.perf_counter()
    result = sft(base, read_jsonl(mixture_dir / "mixture.jsonl"), scale, seed)
    t1 = time.perf_counter()
    examples = evaluate_task(result.model, result.tokenizer, world.test(plan.task), plan.task, scale)
    t2 = time.perf_counter()
    manifest = read_json(mixture_dir / "manifest.json")
    rid = run_id(spec)
    run = {
        "run_id": rid, "scale": scale.name, "model": plan.model.name, "task": plan.task, "k": plan.k, "seed": seed,
        "status": "done", "spec": spec, "environment": {**environment(), "determinism": result.determinism},
        "base_weights_sha256": spec["base_weights_sha256"], "weights_sha256": result.weights_sha256,
        "best_step": result.best_step, "validation_losses": {str(k): v for k, v in result.validation_losses.items()},
        "mixture_manifest_sha256": spec["mixture_manifest_sha256"],
        "train_seconds": t1 - t0, "eval_seconds": t2 - t1, "finished_at": datetime.now(timezone.utc).replace(tzinfo=None),
    }
    return db.RunRecord(run=run, manifest=manifest, manifest_sha256=spec["mixture_manifest_sha256"], examples=examples)


@dataclass
class ReproduceResult:
    figure: FigureFiles
    runs_done: int
    runs_reused: int
    seconds: float


def reproduce(figure: int, scale: Scale, seed: int, results: Path, progress: bool = True) -> ReproduceResult:
    """Runs whatever `figure` still needs and draws it from the database."""
    start = time.perf_counter()
    hf_logging.disable_progress_bar()
    layout = Layout(results)
    plans = plan_figure(figure, scale)
    world = ensure_world(layout.world(scale, seed), seed, scale)
    bases = {size.name: ensure_base_model(size, world, scale, seed, layout.models, progress) for size in scale.models}

    done = reused = 0
    for plan in tqdm(plans, desc=f"figure {figure} ({scale.name})", disable=not progress):
        mixture_dir = layout.mixture(scale, seed, plan.task, plan.k)
        build_mixture(
            MixtureSpec(plan.task, scale.english_train, plan.k, seed), world.train(plan.task), world.test(plan.task),
            mixture_dir, lenient=True,  # the world breaks some pool lines on purpose
        )
        base = bases[plan.model.name]
        spec = {
            "scale": scale.to_dict(), "model": plan.model.name, "task": plan.task, "k": plan.k, "seed": seed,
            "base_weights_sha256": read_json(base / "base.json")["weights_sha256"],
            "mixture_manifest_sha256": hashlib.sha256((mixture_dir / "manifest.json").read_bytes()).hexdigest(),
            "code": __version__,
        }
        with db.connect(layout.db) as con:
            if db.has_run(con, run_id(spec)):
                reused += 1
                continue
        record = _execute(plan, spec, base, world, mixture_dir, scale, seed)
        with db.connect(layout.db) as con:
            db.insert_run(con, record)
        done += 1
    files = FIGURES[figure](layout.db, layout.figures, scale.name, seed)
    return ReproduceResult(figure=files, runs_done=done, runs_reused=reused, seconds=time.perf_counter() - start)
