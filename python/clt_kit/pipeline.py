"""The whole pipeline for the figures and tables of study.toml: world -> base models -> mixtures -> SFT -> eval -> DuckDB -> figures, tables.

Every stage is cached or skipped by content: the world and base models by the hash of their
inputs, and each run by its run id (the hash of its spec), so a rerun recomputes nothing.
A scale without a world (the paper scale) is given its data instead (a data folder that
`clt-kit data` wrote, in the world's layout) and its base models (scale.bases: real models, hub
ids or folders); everything after that is the same code.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm
from transformers.utils import logging as hf_logging

from clt_kit import __version__
from clt_kit.evaluate.checkpoints import CheckpointScores
from clt_kit.evaluate.generate import place
from clt_kit.evaluate.judge import Judge
from clt_kit.evaluate.tasks import evaluate_task, is_checkable
from clt_kit.integrity import CorruptArtifact, hash_files
from clt_kit.jsonio import InputError, canonical, file_lock, read_json, read_jsonl
from clt_kit.layout import Layout
from clt_kit.prep.joint import JointSpec, build_joint_mixture, part_dir
from clt_kit.prep.mixture import MANIFEST, MixtureSpec, build_mixture, mixture_problems, output_files
from clt_kit.results import db, runs as run_store
from clt_kit.results.figures import FigureFiles, draw_figure
from clt_kit.results.runs import run_id
from clt_kit.results.tables import TableFiles, draw_table
from clt_kit.scales import ModelSize, PretrainConfig, Scale
from clt_kit.sources import DATA_RECORD, data_paths
from clt_kit.study import FigureSpec, RunSet, TableSpec, study
from clt_kit.train.pretrain import BASE_RECORD, base_files_problems, ensure_base_model
from clt_kit.train.sft import sft
from clt_kit.world.generate import WorldPaths, ensure_world

log = logging.getLogger("clt_kit")
# How long a sweep waits for the results database after each run before leaving the run in its
# folder for later (the figure at the end waits the full db.LOCK_WAIT_SECONDS).
INGEST_WAIT_SECONDS = 10.0
# How often the progress bar of a sweep in several processes counts the finished runs.
PROGRESS_POLL_SECONDS = 1.0

T, R = TypeVar("T"), TypeVar("R")


@dataclass(frozen=True)
class RunPlan:
    """One run of the study at a scale: a base model fine-tuned on one mixture (study.toml). `task`
    is the task it trains on, or for a joint (multi-task) setting the setting's name."""

    model: str  # the study's model name (7b, 35b, 8b)
    setting: str
    mixture: str
    task: str
    k: int

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks the run trains on and is evaluated on."""
        return study().tasks_of(self.setting, self.task)


def plan(targets: list[RunSet], scale: Scale, ks: tuple[int, ...] | None = None) -> list[RunPlan]:
    """The runs the figures and tables `targets` need at `scale`, as study.toml declares them
    (`ks`: another k grid for every setting), each once (figures that share runs, such as 2 and 3,
    plan the same ones)."""
    return [RunPlan(key.model, key.setting, key.mixture, key.task, key.k)
            for key in study().plan(targets, scale.name, scale.model_names, ks)]


def plan_figure(figure: int, scale: Scale) -> list[RunPlan]:
    """The runs figure `figure` needs at `scale`."""
    return plan([study().figure(figure)], scale)


def committed_manifests(scale: Scale, seed: int) -> list[str]:
    """The manifests data_manifests/ keeps (paths relative to a results folder's work/): the world's
    and that of every mixture the study's figures and tables train on, with each part of a joint one."""
    layout = Layout(Path("."))
    targets: list[RunSet] = [*study().figures.values(), *study().tables.values()]
    names = {(layout.world(scale, seed) / "world.json").as_posix()}
    for p in plan(targets, scale):
        folder = layout.mixture(scale, seed, p.task, p.k, p.mixture)
        names.add((folder / MANIFEST).as_posix())
        if study().settings[p.setting].joint:
            names |= {(part_dir(folder, task) / MANIFEST).as_posix() for task in p.tasks}
    return sorted(str(Path(name).relative_to(layout.work)) for name in names)


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


@dataclass(frozen=True)
class Setup:
    """What every run of one sweep shares: its data (the scale's world, or a data folder), the
    scale, the seed, and the LLM judge that rates IF answers (None: the world's checkers)."""

    world: WorldPaths
    scale: Scale
    seed: int
    judge: Judge | None = None


def _checked_inputs(run: PreparedRun, world: WorldPaths) -> dict[str, Any]:
    """The hashes of every file a run is about to read (base model, mixture, the test sets of its
    tasks), each checked against its record first: a cached artifact changed since it was made
    stops the run (CorruptArtifact) instead of being trained or scored on."""
    local_base = Path(run.base).is_dir()
    base_record = read_json(Path(run.base) / BASE_RECORD) if local_base and (Path(run.base) / BASE_RECORD).is_file() else {}
    # a kit base is checked against its record; any other folder is hashed once, against the planned digest
    base_files = base_record.get("files") or (hash_files(Path(run.base)) if local_base else {})
    problems = (base_files_problems(Path(run.base)) if local_base else []) + mixture_problems(run.mixture)
    recorded = read_json(world.manifest)["files"]
    tests = {}
    for task in run.plan.tasks:
        name = world.test(task).relative_to(world.root).as_posix()
        if (actual := hash_files(world.root, [name])[name]) != recorded[name]:
            problems.append(f"{world.test(task)}: sha256 {actual}, but {world.manifest.name} records {recorded[name]}; the file changed since it was written")
        tests[task] = {"path": str(world.test(task)), "sha256": recorded[name]}
    if "base_sha256" in run.spec and (actual := _digest(base_files)) != run.spec["base_sha256"]:
        problems.append(f"{run.base}: its files changed since the sweep was planned (sha256 {actual}, planned {run.spec['base_sha256']})")
    problems += _spec_problems(run, world, base_record)
    if problems:
        raise CorruptArtifact(problems)
    single = {"test": tests[run.plan.tasks[0]]} if len(run.plan.tasks) == 1 else {"tests": tests}
    return {
        "base": {"path": str(run.base), "files": base_files},
        "mixture": {"path": str(run.mixture), "files": output_files(read_json(run.mixture / MANIFEST))},
        **single,
    }


def _spec_problems(run: PreparedRun, world: WorldPaths, base_record: dict[str, Any]) -> list[str]:
    """Where the inputs a run is given are not the ones its spec (and so its id) names: the base
    model (a kit base's recorded weights hash, a hub id), the mixture (its manifest's sha256) and
    the data (a data folder's record sha256, or the world's scale and seed)."""
    spec, problems = run.spec, []
    if "base_weights_sha256" in spec and base_record.get("weights_sha256") != spec["base_weights_sha256"]:
        problems.append(f"{run.base}: its {BASE_RECORD} records weights {base_record.get('weights_sha256')}, but run {run.run_id}'s spec"
                        f" names base weights {spec['base_weights_sha256']}")
    elif "base_weights_sha256" not in spec and "base_sha256" not in spec and str(run.base) != spec.get("base"):
        problems.append(f"{run.base}: run {run.run_id}'s spec names the base model {spec.get('base')!r}")
    manifest = run.mixture / MANIFEST
    if (actual := hashlib.sha256(manifest.read_bytes()).hexdigest()) != spec["mixture_manifest_sha256"]:
        problems.append(f"{manifest}: sha256 {actual}, but run {run.run_id}'s spec names the mixture manifest {spec['mixture_manifest_sha256']}")
    if (sha := data_sha256(world)) != spec.get("data_sha256"):
        problems.append(f"{world.manifest}: sha256 {sha}, but run {run.run_id}'s spec names data {spec.get('data_sha256')}")
    elif sha is None:
        record = read_json(world.manifest)
        scale = spec["scale"]["name"] if isinstance(spec["scale"], dict) else spec["scale"]
        if (record.get("scale"), record.get("seed")) != (scale, spec["seed"]):
            problems.append(f"{world.manifest}: a world of scale {record.get('scale')!r} and seed {record.get('seed')!r}, but run"
                            f" {run.run_id}'s spec names scale {scale!r} and seed {spec['seed']!r}")
    return problems


def execute(run: PreparedRun, setup: Setup, on_step: Callable[[int, int], None] | None = None) -> db.RunRecord | None:
    """Fine-tunes and evaluates one run on inputs checked just before; returns what goes into the
    database. Under `accelerate launch` with several processes every process trains (and scores
    the checkpoints: a sharded model needs them all), and the main one alone, on the whole
    model, evaluates and returns the record (None on the others). `on_step(step, steps)`: after
    every training step."""
    plan, spec, scale, world = run.plan, run.spec, setup.scale, setup.world
    inputs = _checked_inputs(run, world)
    t0 = time.perf_counter()
    dynamics = CheckpointScores.of({task: read_jsonl(world.test(task)) for task in plan.tasks}, scale.eval, setup.seed, setup.judge)
    result = sft(run.base, read_jsonl(run.mixture / "mixture.jsonl"), scale.sft, setup.seed, on_checkpoint=dynamics, on_step=on_step)
    if "base_weights_sha256" in spec and result.base_weights_sha256 != spec["base_weights_sha256"]:
        raise CorruptArtifact([f"{run.base}: the weights loaded hash to {result.base_weights_sha256}, {BASE_RECORD} records"
                               f" {spec['base_weights_sha256']}; remove the folder to make it again"])
    if not result.is_main_process:
        return None
    t1 = time.perf_counter()
    model = place(result.model, scale.eval.precision)
    examples = [row for task in plan.tasks
                for row in evaluate_task(model, result.tokenizer, world.test(task), task, scale.eval, setup.judge)]
    t2 = time.perf_counter()
    manifest = read_json(run.mixture / MANIFEST)
    rec = {
        "run_id": run.run_id, "scale": scale.name, "model": plan.model, "task": plan.task, "k": plan.k, "seed": setup.seed,
        "setting": plan.setting, "mixture": plan.mixture, "tasks": list(plan.tasks),
        "status": "done", "spec": spec, "environment": {**environment(), "determinism": result.determinism},
        "base_weights_sha256": result.base_weights_sha256, "weights_sha256": result.weights_sha256,
        "best_step": result.best_step, "validation_losses": {str(k): v for k, v in result.validation_losses.items()},
        "mixture_manifest_sha256": spec["mixture_manifest_sha256"],
        "train_seconds": t1 - t0, "eval_seconds": t2 - t1, "finished_at": datetime.now(timezone.utc).replace(tzinfo=None),
        "inputs": inputs,
    }
    return db.RunRecord(run=rec, manifest=manifest, manifest_sha256=spec["mixture_manifest_sha256"], examples=examples,
                        checkpoints=dynamics.rows)


@dataclass(frozen=True)
class PreparedRun:
    """A planned run with its inputs made: the base model and the mixture, and the spec that hashes to its id."""

    plan: RunPlan
    spec: dict[str, Any]
    base: Path | str  # a folder, or a hub id (a real base model the scale names)
    mixture: Path

    @property
    def run_id(self) -> str:
        return run_id(self.spec)


def data_sha256(world: WorldPaths) -> str | None:
    """The sha256 of a data folder's record; None for the scale's own world."""
    return hashlib.sha256(world.manifest.read_bytes()).hexdigest() if world.record == DATA_RECORD else None


def data_tag(world: WorldPaths, scale: Scale) -> str:
    """The name of the mixtures drawn from a data folder (its record's sha256 and the English
    count); "" for the scale's own world."""
    sha = data_sha256(world)
    return "" if sha is None else f"{sha[:10]}-e{scale.english_train}"


def prepare_data(plans: list[RunPlan], scale: Scale, seed: int, layout: Layout, data: Path | None = None) -> tuple[WorldPaths, list[Path]]:
    """The data the plans train and test on: the scale's world (generated, or reused), or the data
    folder `data` (checked), and the mixtures drawn from it (the data data_manifests/ records for
    a world); returns the world or data folder and the mixture folders."""
    if data is None:
        world = ensure_world(layout.world(scale, seed), seed, scale.generated()[0], scale.name)
    else:
        world = data_paths(data, sorted({task for p in plans for task in p.tasks}))
    tag = data_tag(world, scale)
    mixtures = []
    for setting, task, mixture, k in sorted({(p.setting, p.task, p.mixture, p.k) for p in plans}):
        mixtures.append(layout.mixture(scale, seed, task, k, mixture, tag))
        seen, declared = study().mixtures[mixture].seen, study().settings[setting]
        if declared.joint:  # the world breaks some pool lines on purpose: lenient
            english = round(scale.english_train * declared.english_share)
            build_joint_mixture(JointSpec(task, declared.tasks, english, k, seed, seen), {t: world.train(t) for t in declared.tasks},
                                {t: world.test(t) for t in declared.tasks}, mixtures[-1], lenient=True)
        else:
            build_mixture(MixtureSpec(task, scale.english_train, k, seed, seen), world.train(task), world.test(task),
                          mixtures[-1], lenient=True)
    return world, mixtures


def _base_model(args: tuple[ModelSize, WorldPaths, PretrainConfig, int, Path, bool, bool]) -> Path:
    hf_logging.disable_progress_bar()
    return ensure_base_model(*args)


def ensure_bases(sizes: list[ModelSize], world: WorldPaths, scale: Scale, seed: int, layout: Layout, progress: bool,
                 jobs: int, from_scratch: bool = False) -> dict[str, Path]:
    """The base models of `sizes` (cached, bundled or pretrained), pretrained in up to `jobs` processes."""
    args = [(size, world, scale.generated()[1], seed, layout.models, progress, from_scratch) for size in sizes]
    return {size.name: path for size, path in zip(sizes, _in_processes(_base_model, args, jobs))}


def _spawned_pool(processes: int) -> ProcessPoolExecutor:
    """A pool of `processes` spawned processes (torch and fork do not mix)."""
    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))


def _in_processes(fn: Callable[[T], R], args: list[T], jobs: int) -> list[R]:
    """fn over args, in up to `jobs` spawned processes; in this one if 1."""
    if jobs == 1 or len(args) == 1:
        return [fn(a) for a in args]
    with _spawned_pool(min(jobs, len(args))) as pool:
        return list(pool.map(fn, args))


def _digest(files: dict[str, str]) -> str:
    """One sha256 of a model folder's files ({name: sha256}, from hash_files): the identity of a real base model."""
    return hashlib.sha256(canonical(files).encode()).hexdigest()


def _base_identity(base: Path | str, generated: bool) -> dict[str, Any]:
    """What a run's spec says of its base model: a kit base's recorded weights hash; a folder's
    files' sha256; a hub id as it is (the hub's copy of that name, downloaded by transformers)."""
    if generated:
        return {"base_weights_sha256": read_json(Path(base) / BASE_RECORD)["weights_sha256"]}
    if Path(base).is_dir():
        return {"base": str(base), "base_sha256": _digest(hash_files(Path(base)))}
    return {"base": str(base)}


def _refuse_unrateable(world: WorldPaths) -> None:
    """Stops before any training when IF test items need a judge and none is given."""
    open_ended = [item["id"] for item in read_jsonl(world.test("IF")) if not is_checkable(item)]
    if open_ended:
        raise InputError(f"{world.test('IF')}: {len(open_ended)} IF test item(s) without verifiable instructions (first:"
                         f" {open_ended[0]}): an LLM judge must rate them; pass --judge-url (an OpenAI-compatible endpoint)")


def prepare(plans: list[RunPlan], scale: Scale, seed: int, layout: Layout, progress: bool, jobs: int = 1,
            data: Path | None = None, judge: Judge | None = None) -> tuple[Setup, list[PreparedRun]]:
    """The data, the mixtures and the base models the plans need (each reused when present),
    made by one process at a time (the kit's base models in up to `jobs` processes): the scale's
    world and pretrained analogues, or the data folder `data` and the scale's real bases."""
    with file_lock(layout.prepare_lock):
        world, _ = prepare_data(plans, scale, seed, layout, data)
        if judge is None and any("IF" in p.tasks for p in plans):
            _refuse_unrateable(world)
        names = {p.model for p in plans}
        if scale.world is not None:
            bases: dict[str, Path | str] = dict(ensure_bases([m for m in scale.models if m.name in names], world, scale, seed, layout, progress, jobs))
        else:
            bases = {name: scale.bases[name] for name in sorted(names)}
        identities = {name: _base_identity(base, scale.world is not None) for name, base in bases.items()}
    tag, runs = data_tag(world, scale), []
    for plan in plans:
        mixture = layout.mixture(scale, seed, plan.task, plan.k, plan.mixture, tag)
        spec = {
            "scale": scale.to_dict(), "model": plan.model, "setting": plan.setting, "mixture": plan.mixture,
            "task": plan.task, "k": plan.k, "seed": seed, **identities[plan.model],
            "mixture_manifest_sha256": hashlib.sha256((mixture / "manifest.json").read_bytes()).hexdigest(),
            "code": __version__,
        }
        if (sha := data_sha256(world)) is not None:
            spec["data_sha256"] = sha
        if judge is not None and "IF" in plan.tasks:
            spec["judge"] = judge.describe()
        runs.append(PreparedRun(plan, spec, bases[plan.model], mixture))
    return Setup(world, scale, seed, judge), runs


def _run_folder_problem(folder: Path) -> str | None:
    """Why a finished run folder cannot be loaded (the first line of it), or None when it can."""
    try:
        run_store.load_run(folder)
    except (ValueError, KeyError, TypeError, AttributeError) as e:  # InputError, CorruptArtifact; a record missing a field
        return (str(e).splitlines() or [type(e).__name__])[0]
    return None


def set_aside_damaged(runs: list[PreparedRun], layout: Layout) -> list[str]:
    """Moves the finished run folder of each of `runs` that no longer holds what it recorded to
    layout.damaged (kept for inspection), saying so, so that the run is made again instead of
    being left out of the figures; returns their run ids. A run another process is executing
    (its claim held) is left to it."""
    moved = []
    for run in runs:
        folder = layout.run_dir(run.run_id)
        if not run_store.is_finished(folder) or _run_folder_problem(folder) is None:
            continue
        with file_lock(layout.claim(run.run_id), blocking=False) as mine:
            if not mine or not run_store.is_finished(folder) or (problem := _run_folder_problem(folder)) is None:
                continue
            aside = layout.damaged / f"{run.run_id}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S%fZ}"
            aside.parent.mkdir(parents=True, exist_ok=True)
            folder.rename(aside)
        log.warning("run %s: its folder is damaged (%s); moved to %s, and the run is made again", run.run_id, problem, aside)
        moved.append(run.run_id)
    return moved


def missing(runs: list[PreparedRun], layout: Layout) -> list[PreparedRun]:
    """The runs that are neither in a finished run folder nor in the database, asked once before
    a sweep; a damaged run folder is moved aside first (set_aside_damaged) and its run is made
    again. The database is asked only about the other runs without a folder (stored by a kit
    from before run folders), read-only (other readers may hold it too), and not for long: a
    database held open for writing by another program costs those runs a second training, never
    a lost run."""
    damaged = set(set_aside_damaged(runs, layout))
    missing = [r for r in runs if not run_store.is_finished(layout.run_dir(r.run_id))]
    if not missing or not layout.db.exists():
        return missing
    try:
        with db.connect(layout.db, read_only=True, wait=INGEST_WAIT_SECONDS) as con:
            return [r for r in missing if r.run_id in damaged or not db.has_run(con, r.run_id)]
    except db.DatabaseLocked as e:
        log.warning("%s; %d run(s) without a run folder are treated as not yet made", e, len(missing))
        return missing


def load_into_db(run_dirs: list[Path], layout: Layout, wait: float) -> None:
    """Loads finished run folders into the database; when it stays locked for `wait` seconds, a
    warning names the holder and the folders stay, for a later load."""
    try:
        run_store.ingest(layout.db, run_dirs, wait=wait)
    except db.DatabaseLocked as e:
        log.warning("%s; %d finished run(s) kept in %s, loaded by the next `reproduce` or `clt-kit ingest`",
                    e, len(run_dirs), layout.runs)


def _shown_progress(layout: Layout, run_id: str, show: Callable[[float], None] | None) -> Callable[[int, int], None]:
    """A training step's callback that keeps the run's progress file (at most once per
    PROGRESS_POLL_SECONDS, and at the last step) and shows the share done with `show`."""
    written = [0.0]

    def on_step(step: int, steps: int) -> None:
        if show is not None:
            show(step / steps)
        if step == steps or time.monotonic() - written[0] >= PROGRESS_POLL_SECONDS:
            layout.progress(run_id).write_text(f"{step / steps:.6f}\n", encoding="utf-8")
            written[0] = time.monotonic()

    return on_step


def trained_share(layout: Layout, run_id: str) -> float:
    """The share of its training a running run has done (0 when it says nothing readable)."""
    try:
        return min(1.0, max(0.0, float(layout.progress(run_id).read_text(encoding="utf-8"))))
    except (OSError, ValueError):
        return 0.0


def _claim_and_execute(run: PreparedRun, setup: Setup, layout: Layout, wait: bool,
                       show: Callable[[float], None] | None = None) -> bool | None:
    """Executes `run` unless its folder says it is finished (by another sweep, meanwhile); None
    when another process holds its claim (and `wait` is False). The claim dies with its process, so a killed sweep leaves no stale claim
    and its unfinished runs are simply executed again. A finished run is first published as its
    own folder (complete or absent), then loaded into the database in one transaction, so a run
    is stored whole or not at all, and a database held open by a reader costs no trained run."""
    with file_lock(layout.claim(run.run_id), blocking=wait) as mine:
        if not mine:
            return None
        if run_store.is_finished(layout.run_dir(run.run_id)):
            return False
        try:
            record = execute(run, setup, _shown_progress(layout, run.run_id, show))
        finally:
            layout.progress(run.run_id).unlink(missing_ok=True)
        assert record is not None, "a local sweep runs in one process per run"
        run_store.save_run(record, layout.run_dir(run.run_id))
        load_into_db([layout.run_dir(run.run_id)], layout, INGEST_WAIT_SECONDS)
        return True


def sweep(runs: list[PreparedRun], setup: Setup, results: Path, progress: bool = True, worker: int = 0, workers: int = 1) -> int:
    """Executes whichever of `runs` has no finished run folder yet; returns how many this process executed.

    Any number of sweeps (processes) may share one results folder: each run is claimed by one
    process at a time; a sweep skips runs claimed by another and comes back to them at the end,
    waiting for the claim (reusing the stored run, or executing it if that process died).
    """
    layout, done = Layout(results), 0
    start = worker * len(runs) // workers  # parallel workers start at different runs
    order = runs[start:] + runs[:start]
    bar = runs_bar(len(order), "runs", progress)
    busy, counted = [], 0

    def show(share: float) -> None:  # the run in training: its share of steps, on the bar
        bar.update(round(counted + share, 3) - bar.n)

    for run in order:
        outcome = _claim_and_execute(run, setup, layout, wait=False, show=show)
        if outcome is None:
            busy.append(run)
            continue
        done += outcome
        counted += 1
        bar.update(counted - bar.n)
    for run in busy:
        done += bool(_claim_and_execute(run, setup, layout, wait=True, show=show))
        counted += 1
        bar.update(counted - bar.n)
    bar.close()
    return done


def runs_bar(total: int, desc: str, progress: bool, **options: Any) -> tqdm:
    """The progress bar of a sweep: runs done of `total` (a run in training counts its share of
    steps done, so the bar moves from the first steps) and the time left at the mean rate so far
    (tqdm's default rate, of the last update alone, says "1 s per run" when the bar is polled)."""
    return tqdm(total=total, desc=desc, disable=not progress, smoothing=0, **options)


def _sweep_worker(args: tuple[list[PreparedRun], Setup, Path, bool, int, int]) -> int:
    hf_logging.disable_progress_bar()
    return sweep(*args)


def _sweep_in_processes(todo: list[PreparedRun], setup: Setup, layout: Layout, progress: bool, jobs: int) -> int:
    """Sweeps `todo` in `jobs` worker processes (each with scale.cpu_threads threads; claims keep
    them off each other's runs) under one progress bar: the finished run folders of `todo`, done of
    total, counted here while the workers run. Returns how many runs the workers executed."""
    if jobs == 1 or len(todo) <= 1:
        return sweep(todo, setup, layout.results, progress)
    args = [(todo, setup, layout.results, False, w, jobs) for w in range(jobs)]
    with _spawned_pool(min(jobs, len(todo))) as pool:
        futures = [pool.submit(_sweep_worker, a) for a in args]
        with runs_bar(len(todo), f"runs ({jobs} at once)", progress) as bar:
            while not all(f.done() for f in futures):
                wait(futures, timeout=PROGRESS_POLL_SECONDS)
                finished = [run_store.is_finished(layout.run_dir(r.run_id)) for r in todo]
                share = sum(1.0 if f else trained_share(layout, r.run_id) for r, f in zip(todo, finished))
                bar.update(round(share, 3) - bar.n)
        return sum(f.result() for f in futures)


@dataclass
class ReproduceResult:
    outputs: list[FigureFiles | TableFiles]  # one per target, in order
    runs_done: int
    runs_reused: int
    seconds: float


def reproduce_data(targets: list[RunSet], scale: Scale, seed: int, results: Path, data: Path | None = None,
                   ks: tuple[int, ...] | None = None) -> tuple[WorldPaths, list[Path]]:
    """Only the data the runs of `targets` (figures, tables) train and test on: the world (or the
    data folder `data`) and the mixtures, with their manifests (for a world: what `clt-kit verify
    data_manifests/` compares with the committed ones)."""
    layout = Layout(results)
    with file_lock(layout.prepare_lock):
        return prepare_data(plan(targets, scale, ks), scale, seed, layout, data)


def draw(target: RunSet, layout: Layout, scale: str, seed: int) -> FigureFiles | TableFiles:
    """A figure or table of study.toml, from the runs in the database."""
    if isinstance(target, FigureSpec):
        return draw_figure(target, layout.db, layout.figures, scale, seed)
    assert isinstance(target, TableSpec)
    return draw_table(target, layout.db, layout.tables, scale, seed)


def default_jobs(scale: Scale) -> int:
    """As many runs at once as the CPU cores this process may use allow; one at a time for real
    models (each run takes the GPUs it is given)."""
    if scale.world is None:
        return 1
    return max(1, len(os.sched_getaffinity(0)) // scale.cpu_threads)


def reproduce(targets: list[RunSet], scale: Scale, seed: int, results: Path, progress: bool = True, jobs: int = 1,
              data: Path | None = None, judge: Judge | None = None, ks: tuple[int, ...] | None = None) -> ReproduceResult:
    """Runs whatever the figures and tables `targets` still need, in `jobs` processes at once,
    and draws each from the database. A scale without a world takes its data from the data
    folder `data` and rates IF with `judge`; `ks` replaces the study's k grids."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    start = time.perf_counter()
    hf_logging.disable_progress_bar()
    layout = Layout(results)
    setup, runs = prepare(plan(targets, scale, ks), scale, seed, layout, progress, jobs, data, judge)
    todo = missing(runs, layout)
    done = _sweep_in_processes(todo, setup, layout, progress, jobs)
    run_store.ingest_finished(layout)
    outputs = [draw(target, layout, scale.name, seed) for target in targets]
    return ReproduceResult(outputs=outputs, runs_done=done, runs_reused=len(runs) - len(todo), seconds=time.perf_counter() - start)
