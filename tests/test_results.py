"""The results database: migrations keep stored rows, metrics and views compute the paper's numbers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from clt_kit.results import db
from clt_kit.results.schema import MIGRATIONS


def _record(run_id: str, scores: dict[str, list[float]], detected: str | None = None) -> db.RunRecord:
    run = {
        "run_id": run_id, "scale": "smoke", "model": "7b", "task": "IF", "k": 0, "seed": 1, "status": "done",
        "spec": {"x": 1}, "environment": {"device": "cpu"}, "base_weights_sha256": "b", "weights_sha256": "w",
        "best_step": 1, "validation_losses": {"1": 1.0}, "mixture_manifest_sha256": "m" + run_id,
        "train_seconds": 1.0, "eval_seconds": 1.0, "finished_at": datetime(2026, 1, 1),
    }
    examples = [
        {"example_id": f"{lang}-{i}", "task": "IF", "lang": lang, "prompt": "p", "output": "o", "reference": "r",
         "extracted": None, "rule": "checkers", "score": s, "detected_lang": detected or lang}
        for lang, values in scores.items() for i, s in enumerate(values)
    ]
    manifest = {"spec": {"task": "IF", "k": 0}, "set_fingerprint": "f"}
    return db.RunRecord(run=run, manifest=manifest, manifest_sha256="m" + run_id, examples=examples)


def test_metrics_and_rel_to_english(tmp_path: Path) -> None:
    scores = {"en": [4.0, 5.0], "es": [3.0, 3.0], "fr": [4.5, 4.5], "ja": [1.0, 2.0], "zh": [2.0, 2.0],
              "ar": [3.0, 3.0], "ko": [2.0, 4.0], "pt": [4.0, 4.0]}
    with db.connect(tmp_path / "r.duckdb") as con:
        db.insert_run(con, _record("a", scores))
        assert db.has_run(con, "a") and not db.has_run(con, "b")
        rel = con.execute("SELECT rel FROM rel_to_english WHERE run_id = 'a'").fetchone()[0]
        non_english = (3.0 + 4.5 + 1.5 + 2.0 + 3.0 + 3.0 + 4.0) / 7
        assert rel == pytest.approx(non_english / 4.5)
        off = con.execute("SELECT max(off_language_share) FROM language_fidelity").fetchone()[0]
        assert off == 0.0


def test_language_fidelity_counts_switched_answers(tmp_path: Path) -> None:
    with db.connect(tmp_path / "r.duckdb") as con:
        db.insert_run(con, _record("a", {"en": [1.0], "es": [1.0, 1.0]}, detected="en"))
        rows = dict(con.execute("SELECT lang, off_language_share FROM language_fidelity").fetchall())
    assert rows == {"en": 0.0, "es": 1.0}


def test_a_failed_insert_leaves_nothing_behind(tmp_path: Path) -> None:
    with db.connect(tmp_path / "r.duckdb") as con:
        db.insert_run(con, _record("a", {"en": [1.0]}))
        with pytest.raises(duckdb.Error):
            db.insert_run(con, _record("a", {"en": [2.0]}))  # same run id: rejected as a whole
        assert con.execute("SELECT count(*) FROM examples").fetchone()[0] == 1
        assert con.execute("SELECT score FROM metrics").fetchone()[0] == 1.0


def test_migrations_upgrade_an_old_file_without_losing_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP DEFAULT current_timestamp)")
    con.execute(MIGRATIONS[0])
    con.execute("INSERT INTO schema_migrations (version) VALUES (1)")
    con.execute("INSERT INTO examples (run_id, example_id, task, lang, prompt, output, rule, score) VALUES ('r', 'e', 'MR', 'en', 'p', 'o', 'x', 1.0)")
    con.close()
    with db.connect(path) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)
        assert con.execute("SELECT example_id, detected_lang FROM examples").fetchall() == [("e", None)]


def test_seen_unseen_and_script_group_views(tmp_path: Path) -> None:
    scores = {"en": [4.0], "es": [3.0], "fr": [4.0], "ja": [1.0], "zh": [2.0], "ar": [3.0], "ko": [2.0], "pt": [4.0]}
    with db.connect(tmp_path / "r.duckdb") as con:
        db.insert_run(con, _record("a", scores))
        seen, unseen, gap = con.execute("SELECT seen, unseen, gap FROM seen_unseen").fetchone()
        latin, non_latin = con.execute("SELECT latin, non_latin FROM script_groups").fetchone()
    assert (seen, unseen) == (pytest.approx(2.5), pytest.approx(3.0)) and gap == pytest.approx(-0.5)
    assert (latin, non_latin) == (pytest.approx(3.75), pytest.approx(2.0))
