"""Runs made piecewise, with `clt-kit train` and `clt-kit eval` (the paper scale's path), turned
into run folders like a sweep's, so that they land in DuckDB and every figure, table and claim
reads them from the same SQL.

`train --out DIR` records in DIR/sft.json what the run was (scale, seed, model name, base, the
mixture's manifest and its sha256); `eval --model DIR` writes DIR/eval/<task>.jsonl (one scored
example per line) and DIR/eval/<task>.json (the test set's path and sha256, the settings the
answers were generated under, the judge, the time). `clt-kit ingest DIR` makes a run folder of
them (`work/runs/<run_id>/`) and loads it; the evaluation settings are part of the run's spec, so
the same training evaluated under other settings is another run.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from clt_kit import __version__
from clt_kit.jsonio import InputError, read_json, read_jsonl, write_json, write_jsonl
from clt_kit.prep.joint import is_joint
from clt_kit.results import db, runs as run_store
from clt_kit.scales import EvalConfig
from clt_kit.study import study

SFT_RECORD, EVAL_DIR = "sft.json", "eval"


def run_about(scale: str, seed: int, model: str, base: str, mixture: Path) -> dict[str, Any]:
    """What `train` records of a run beside its training (sft.json's "run")."""
    manifest_path = mixture / "manifest.json"
    return {"scale": scale, "seed": seed, "model": model, "base": base, "mixture_path": str(mixture),
            "manifest": read_json(manifest_path), "manifest_sha256": hashlib.sha256(manifest_path.read_bytes()).hexdigest()}


def eval_scale(model: str, asked: str | None) -> str:
    """The scale whose evaluation settings `eval` uses for `model`: the one asked for; else, for a
    folder `train` wrote, the scale its sft.json records (the recipe it was trained by); else the
    paper scale's (any other model: prompts never cut, the paper's answer length, stop strings)."""
    if asked is not None:
        return asked
    record = Path(model) / SFT_RECORD
    about = read_json(record).get("run") if record.is_file() else None
    return str(about["scale"]) if about else "paper"


def test_shots(test: Path, task: str) -> int | None:
    """The worked examples before each prompt of a test set: as the data folder's record says for
    a `clt-kit data` folder's test set, none for a world's; None when the file is in neither."""
    from clt_kit.sources import DATA_RECORD

    folder = test.resolve().parent.parent
    if (folder / DATA_RECORD).is_file():
        found = [r.get("shots", 0) for r in read_json(folder / DATA_RECORD).get("sources", [])
                 if r.get("task") == task and r.get("role") == "test"]
        return int(found[0]) if len(found) == 1 else None
    return 0 if (folder / "world.json").is_file() else None


def eval_settings(scale: str, config: EvalConfig, shots: int | None, generation: dict[str, Any]) -> dict[str, Any]:
    """Everything an evaluation's answers depend on besides the model and the test set, as its
    record keeps it: the scale it took them from, the prompt window (None: never cut), the answer
    limit, the batch, the worked examples per prompt, the CPU threads, and `generation` (the
    backend, the precision and the stop rule: generate.backend_of, precision_of, stop_rule)."""
    return {"scale": scale, "prompt_window": config.seq_len, "max_new_tokens": config.max_new_tokens, "batch": config.batch,
            "shots": shots, "threads": config.cpu_threads, **generation}


def save_eval(model_dir: Path, task: str, rows: list[dict[str, Any]], test: Path, seconds: float, judge: dict[str, Any] | None,
              settings: dict[str, Any]) -> Path:
    """Keeps an evaluation of a trained model beside it (replacing an earlier one of the same task),
    with the settings it ran under (eval_settings) and what rated its answers (`judge`)."""
    write_jsonl(model_dir / EVAL_DIR / f"{task}.jsonl", rows)
    write_json(model_dir / EVAL_DIR / f"{task}.json", {
        "task": task, "test": {"path": str(test), "sha256": hashlib.sha256(test.read_bytes()).hexdigest()},
        "eval_seconds": seconds, "judge": judge, "settings": settings,
        "finished_at": datetime.now().isoformat(timespec="seconds"),
    })
    return model_dir / EVAL_DIR / f"{task}.jsonl"


def _mixture_name(seen: list[str], where: Path) -> str:
    for mixture in study().mixtures.values():
        if sorted(mixture.seen) == sorted(seen):
            return mixture.name
    raise InputError(f"{where}: its mixture's seen languages {seen} are none of the study's mixtures"
                     f" ({', '.join(f'{m.name}: {list(m.seen)}' for m in study().mixtures.values())})")


def record_of(model_dir: Path) -> db.RunRecord:
    """The run a `train` folder and its evaluations make."""
    sft_path = model_dir / SFT_RECORD
    if not sft_path.is_file():
        raise InputError(f"{model_dir}: no {SFT_RECORD}; give a folder written by `clt-kit train --out`")
    trained = read_json(sft_path)
    about = trained.get("run")
    if about is None:
        raise InputError(f"{sft_path}: made by an earlier kit, without the run's description; train it again")
    evals = sorted((model_dir / EVAL_DIR).glob("*.json"))
    if not evals:
        raise InputError(f"{model_dir}: no evaluation yet; run `clt-kit eval --model {model_dir} --task T --test FILE` first")
    spec_of_mixture = about["manifest"]["spec"]
    joint = is_joint(about["manifest"])
    tasks = list(spec_of_mixture["tasks"]) if joint else [spec_of_mixture["task"]]
    scored = {read_json(p)["task"]: read_json(p) for p in evals}
    if missing := [t for t in tasks if t not in scored]:
        raise InputError(f"{model_dir}: trained on {', '.join(tasks)} but not evaluated on {', '.join(missing)}")
    setting = spec_of_mixture["task"] if joint else "single"  # a joint mixture's task is its setting's name
    run_task = spec_of_mixture["task"]
    spec = {"scale": about["scale"], "model": about["model"], "setting": setting, "mixture": _mixture_name(spec_of_mixture["seen"], sft_path),
            "task": run_task, "k": spec_of_mixture["k"], "seed": about["seed"], "base": about["base"],
            "base_weights_sha256": trained["base_weights_sha256"], "weights_sha256": trained["weights_sha256"],
            "mixture_manifest_sha256": about["manifest_sha256"], "recipe": trained.get("recipe", {}), "code": __version__,
            # evaluations under other settings are other runs (an earlier kit's, without settings: None)
            "evaluation": {task: scored[task].get("settings") for task in tasks}}
    examples = [row for task in tasks for row in read_jsonl(model_dir / EVAL_DIR / f"{task}.jsonl")]
    tests = {task: scored[task]["test"] for task in tasks}
    from clt_kit.pipeline import environment, run_id  # torch's versions, after the checks above (which need none)

    run = {
        "run_id": run_id(spec), "scale": spec["scale"], "model": spec["model"], "task": run_task, "k": spec["k"], "seed": spec["seed"],
        "setting": setting, "mixture": spec["mixture"], "tasks": tasks, "status": "done", "spec": spec,
        "environment": {**environment(), "determinism": trained.get("determinism", {})},
        "base_weights_sha256": trained["base_weights_sha256"], "weights_sha256": trained["weights_sha256"],
        "best_step": trained["best_step"], "validation_losses": trained["validation_losses"],
        "mixture_manifest_sha256": about["manifest_sha256"], "train_seconds": trained.get("train_seconds", 0.0),
        "eval_seconds": sum(scored[t]["eval_seconds"] for t in tasks),
        "finished_at": max(datetime.fromisoformat(scored[t]["finished_at"]) for t in tasks),
        "inputs": {"base": {"path": about["base"]}, "mixture": {"path": about["mixture_path"]},
                   **({"test": tests[tasks[0]]} if len(tasks) == 1 else {"tests": tests})},
    }
    return db.RunRecord(run=run, manifest=about["manifest"], manifest_sha256=about["manifest_sha256"], examples=examples)


def to_run_folder(model_dir: Path, runs_root: Path) -> Path:
    """The run folder of a `train` folder and its evaluations (made once; the same run again is found by its id)."""
    record = record_of(model_dir)
    folder = runs_root / record.run["run_id"]
    if not run_store.is_finished(folder):
        run_store.save_run(record, folder)
    return folder


