"""The results database: migrations keep stored rows, metrics and views compute the paper's numbers."""

from __future__ import annotations

import json

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
        broken = _record("b", {"en": [2.0]})
        broken.examples.append({**broken.examples[0], "example_id": "en-x", "score": None})
        with pytest.raises(duckdb.Error):
            db.insert_run(con, broken)  # an example without a score: the run is rejected as a whole
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
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


SHARED_REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "paper" / "reference_tables.csv"


def test_paper_reference_is_the_papers_table_file(tmp_path: Path) -> None:
    from clt_kit.results.schema import PAPER_REFERENCE_CSV

    if SHARED_REFERENCE.exists():  # the shipped copy is the shared file, byte for byte
        assert PAPER_REFERENCE_CSV.read_bytes() == SHARED_REFERENCE.read_bytes()
    n_lines = PAPER_REFERENCE_CSV.read_text(encoding="utf-8").count("\n") - 1
    with db.connect(tmp_path / "r.duckdb") as con:
        assert con.execute("SELECT count(*) FROM paper_reference").fetchone()[0] == n_lines
        assert con.execute(
            "SELECT value FROM paper_reference WHERE table_no = 18 AND k = 5000 AND lang = 'ja'"
        ).fetchone()[0] == pytest.approx(float(next(
            line.split(",")[7] for line in PAPER_REFERENCE_CSV.read_text().splitlines()
            if line.startswith("18,") and ",5000,ja," in line)))


@pytest.mark.parametrize(("model", "task", "gain"), [("aya23-7b", "IF", 6.8), ("aya23-7b", "SM", 8.7), ("llama3.1-8b", "IF", 12.3)])
def test_paper_rel_to_english_gives_the_gains_the_paper_quotes(tmp_path: Path, model: str, task: str, gain: float) -> None:
    """docs/study.md: the definition reproduces the paper's quoted gains (best over k minus k=0, in %)."""
    with db.connect(tmp_path / "r.duckdb") as con:
        rel = dict(con.execute(
            "SELECT k, rel FROM paper_rel_to_english WHERE model = ? AND task = ? AND setting = 'single' AND mixture = 'all'",
            [model, task]).fetchall())
    assert round(100 * (max(rel.values()) - rel[0]), 1) == pytest.approx(gain, abs=0.15)


def test_a_second_process_waits_for_the_writer_instead_of_failing(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "r.duckdb"
    with db.connect(path):
        pass
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(2); con.close()"
    ), str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with db.connect(path) as con:  # waits for the other process to close the file
        db.insert_run(con, _record("r1", {"en": [1.0]}))
    assert holder.wait() == 0
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(5)"
    ), str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    try:  # and gives up after `wait` seconds, naming the process that holds the file
        with pytest.raises(db.DatabaseLocked, match=rf"held open by .*python.* \(PID {holder.pid}\)"):
            with db.connect(path, wait=0.5):
                pass
    finally:
        holder.kill()


def test_insert_run_stores_a_run_once(tmp_path: Path) -> None:
    with db.connect(tmp_path / "r.duckdb") as con:
        assert db.insert_run(con, _record("r1", {"en": [1.0], "es": [0.5]}))
        assert not db.insert_run(con, _record("r1", {"en": [0.0], "es": [0.0]}))
        assert con.execute("SELECT count(*) FROM examples").fetchone()[0] == 2
        assert con.execute("SELECT score FROM metrics WHERE lang = 'en'").fetchone()[0] == 1.0


RELEASE_DB = Path(__file__).with_name("data") / "results-0.1.0-85d73b6.duckdb.gz"
RELEASE_RUN = Path(__file__).with_name("data") / "run-0.1.0-85d73b6.tar.gz"
TABLES = ("runs", "manifests", "examples", "metrics")


def _unpacked_release_db(tmp_path: Path) -> Path:
    """The results file `clt-kit reproduce --figure 2 --scale smoke` wrote at commit 85d73b6
    (schema 6, before the study's axes; tests/data/README.md)."""
    import gzip
    import shutil

    path = tmp_path / "clt.duckdb"
    with gzip.open(RELEASE_DB) as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def test_a_results_file_of_the_last_release_is_upgraded_without_losing_a_row(tmp_path: Path) -> None:
    path = _unpacked_release_db(tmp_path)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == 6
        before = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
        rel_before = con.execute("SELECT run_id, rel FROM rel_to_english ORDER BY run_id").fetchall()
    assert len(before["runs"]) == 18 and len(before["examples"]) == 432
    with db.connect(path) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)
        for table, rows in before.items():  # every row kept, every old column as it was
            n_old = len(rows[0])
            after = con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            assert [r[:n_old] for r in after] == rows, table
        axes = con.execute("SELECT DISTINCT setting, mixture, tasks = to_json([task]) FROM runs").fetchall()
        assert axes == [("single", "all", True)]
        assert con.execute("SELECT run_id, rel FROM rel_to_english ORDER BY run_id").fetchall() == rel_before
        assert con.execute("SELECT DISTINCT setting, mixture FROM rel_to_english").fetchall() == [("single", "all")]
        # migration 8: the views' task is the scored one (for these single-task runs, the run's), no checkpoint scores yet
        assert con.execute("SELECT count(*) FROM rel_to_english v JOIN runs r USING (run_id) WHERE v.task <> r.task").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM checkpoint_metrics").fetchone() == (0,)
        # migration 9: each run's validation losses as rows, the evaluated checkpoint marked
        curves = con.execute("SELECT run_id, count(*), count(*) FILTER (WHERE best) FROM validation_losses GROUP BY run_id").fetchall()
        stored = {rid: json.loads(v) for rid, v in con.execute("SELECT run_id, validation_losses FROM runs").fetchall()}
        assert sorted(curves) == sorted((rid, len(v), 1) for rid, v in stored.items())
        rid, losses = next(iter(stored.items()))
        assert con.execute("SELECT step, loss FROM validation_losses WHERE run_id = ? ORDER BY step", [rid]).fetchall() == \
            sorted((int(step), loss) for step, loss in losses.items())


def test_a_run_folder_of_the_last_release_is_ingested_with_the_study_axes(tmp_path: Path) -> None:
    import tarfile

    from clt_kit.results import runs as run_store

    with tarfile.open(RELEASE_RUN) as tar:
        tar.extractall(tmp_path / "runs", filter="data")
    (run_dir,) = run_store.finished_runs(tmp_path / "runs")
    assert "setting" not in (run_dir / "run.json").read_text()
    done = run_store.ingest(tmp_path / "new.duckdb", [run_dir])
    assert done.loaded == [run_dir.name]
    with duckdb.connect(str(tmp_path / "new.duckdb"), read_only=True) as con:
        assert con.execute("SELECT setting, mixture, tasks = to_json([task]) FROM runs").fetchall() == [("single", "all", True)]


def test_script_groups_of_the_papers_numbers(tmp_path: Path) -> None:
    with db.connect(tmp_path / "r.duckdb") as con:
        rows = con.execute("SELECT mixture, latin, non_latin FROM paper_script_groups"
                           " WHERE task = 'IF' AND model = 'aya23-7b' AND setting = 'single' AND k = 0 ORDER BY mixture").fetchall()
    assert [r[0] for r in rows] == ["all", "latin", "non_latin"]
    assert all(3.0 < latin < 4.5 and 3.0 < non_latin < latin for _, latin, non_latin in rows)
