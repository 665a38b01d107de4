"""Runs stored straight into a results database, for tests of what reads it (tables, claims)."""

from __future__ import annotations

from datetime import datetime

import duckdb

from clt_kit.results import db


def store_run(con: duckdb.DuckDBPyConnection, run_id: str, scores: dict[str, float], *, model: str = "7b", task: str = "IF",
              k: int = 0, mixture: str = "all", setting: str = "single", scale: str = "smoke", seed: int = 1,
              scored: dict[str, dict[str, float]] | None = None, checkpoints: list[dict] | None = None) -> None:
    """A finished run with one example per language, scored `scores[lang]`; a multi-task run gives
    `scored` (task -> language -> score) instead; `checkpoints`: its checkpoint_metrics rows."""
    scored = scored or {task: scores}
    run = {
        "run_id": run_id, "scale": scale, "model": model, "task": task, "k": k, "seed": seed, "status": "done",
        "setting": setting, "mixture": mixture, "tasks": list(scored),
        "spec": {"x": run_id}, "environment": {}, "base_weights_sha256": "b", "weights_sha256": "w",
        "best_step": 1, "validation_losses": {"1": 1.0}, "mixture_manifest_sha256": "m" + run_id,
        "train_seconds": 1.0, "eval_seconds": 1.0, "finished_at": datetime(2026, 1, 1),
    }
    examples = [{"example_id": f"{t}-{lang}", "task": t, "lang": lang, "prompt": "p", "output": "o", "reference": "r",
                 "extracted": None, "rule": "checkers", "score": s, "detected_lang": lang}
                for t, by_lang in scored.items() for lang, s in by_lang.items()]
    db.insert_run(con, db.RunRecord(run=run, manifest={"spec": {"task": task, "k": k}, "set_fingerprint": "f"},
                                    manifest_sha256="m" + run_id, examples=examples, checkpoints=checkpoints or []))
