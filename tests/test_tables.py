"""The paper's per-language tables (results/tables.py) from SQL over the results database."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from clt_kit.languages import PAPER_LANGUAGES
from clt_kit.results import db
from clt_kit.results.tables import draw_table
from clt_kit.scales import PAPER_MODELS
from clt_kit.study import study
from tests.stored_runs import store_run


def test_a_table_shows_its_mixtures_runs_and_the_shared_english_only_run_beside_the_paper(tmp_path: Path) -> None:
    path = tmp_path / "r.duckdb"
    ones = {lang: 1.0 for lang in PAPER_LANGUAGES}
    with db.connect(path) as con:
        store_run(con, "k0", {**ones, "en": 3.0})
        store_run(con, "latin4", {**ones, "es": 5.0}, mixture="latin", k=4)
        store_run(con, "all4", {**ones, "es": 2.0}, k=4)  # another mixture: not table 5's
        store_run(con, "35b", ones, mixture="latin", k=4, model="35b")  # another model
        store_run(con, "sm", ones, mixture="latin", k=4, task="SM")  # another task
    files = draw_table(study().table(5), path, tmp_path / "tables", "smoke", 1)
    assert files.cells[(0, "en")].ours == 3.0 and files.cells[(0, "en")].paper == 4.2
    assert files.cells[(4, "es")].ours == 5.0 and files.cells[(4, "es")].paper is None
    assert files.cells[(4, "Avg")].ours == pytest.approx((7 + 5.0) / 8)
    assert files.cells[(100, "en")].ours is None and files.cells[(100, "en")].paper == 4.14
    assert files.ks == [0, 4, 100, 200, 400, 800, 1000, 2000, 5000]
    with files.csv.open() as f:
        rows = list(csv.DictReader(f))
    assert {(r["model"], r["paper_model"], r["task"], r["mixture"]) for r in rows} == {("7b", "aya23-7b", "IF", "latin")}
    assert len(rows) == 9 * 9
    markdown = files.markdown.read_text()
    assert "| 0 | 3.00 (4.20) | 1.00 (3.98) |" in markdown and "| 4 | 1.00 | 5.00 |" in markdown


def test_a_table_without_runs_says_what_to_run(tmp_path: Path) -> None:
    with db.connect(tmp_path / "r.duckdb"):
        pass
    with pytest.raises(ValueError, match="no finished runs for table 19 .* run `clt-kit reproduce --table 19` first"):
        draw_table(study().table(19), tmp_path / "r.duckdb", tmp_path / "t", "smoke", 1)


def test_every_declared_table_is_the_papers_table_of_that_number() -> None:
    import duckdb

    from clt_kit.results.schema import PAPER_REFERENCE_CSV

    with duckdb.connect() as con:
        found = dict(((int(t), (task, model, setting, mixture)) for t, task, model, setting, mixture in con.execute(
            f"SELECT DISTINCT \"table\", task, model, setting, mixture FROM read_csv('{PAPER_REFERENCE_CSV}', all_varchar = true)").fetchall()))
    per_language = {n: t for n, t in study().tables.items() if t.draw == "per_language"}
    for number, table in per_language.items():
        assert found[number] == (table.tasks[0], PAPER_MODELS[table.models[0]], table.setting, table.mixtures[0]), number
    assert set(per_language) == set(found)  # every table of the paper's numbers is declared


def _checkpoints(task: str, seen: list[float], unseen: list[float]) -> list[dict]:
    """checkpoint_metrics rows: at step 10 * (i + 1), every seen language scored seen[i], every unseen one unseen[i]."""
    rows = []
    for i, (a, b) in enumerate(zip(seen, unseen)):
        rows += [{"step": 10 * (i + 1), "task": task, "lang": lang, "score": a, "n": 2} for lang in ("es", "fr", "ja", "zh")]
        rows += [{"step": 10 * (i + 1), "task": task, "lang": lang, "score": b, "n": 2} for lang in ("ar", "ko", "pt")]
        rows.append({"step": 10 * (i + 1), "task": task, "lang": "en", "score": 9.0, "n": 2})
    return rows


def test_table2_is_the_mean_over_runs_of_the_seen_unseen_rank_correlation_over_checkpoints(tmp_path: Path) -> None:
    from clt_kit.results.claims import spearman

    path = tmp_path / "r.duckdb"
    ones = {lang: 1.0 for lang in PAPER_LANGUAGES}
    a = ([1, 2, 3, 4], [1, 3, 2, 4])  # rho 0.8
    b = ([1, 2, 2, 4], [4, 3, 3, 1])  # ties: rho -1
    with db.connect(path) as con:
        store_run(con, "if50", ones, k=50, checkpoints=_checkpoints("IF", *a))
        store_run(con, "if200", ones, k=200, checkpoints=_checkpoints("IF", *b))
        store_run(con, "if0", ones, k=0, checkpoints=_checkpoints("IF", [1, 2, 3, 4], [4, 3, 2, 1]))  # k=0: not counted
        store_run(con, "sm50", ones, k=50, task="SM", checkpoints=_checkpoints("SM", [1, 1, 1, 1], [1, 2, 3, 4]))  # constant
        store_run(con, "mr50", ones, k=50, task="MR", model="35b", checkpoints=_checkpoints("MR", [1, 2, 3, 4], [2, 4, 6, 8]))
        store_run(con, "latin", ones, k=50, mixture="latin", checkpoints=_checkpoints("IF", [1, 2, 3, 4], [4, 3, 2, 1]))
    files = draw_table(study().table(2), path, tmp_path / "tables", "smoke", 1)
    expected = (spearman(*a) + spearman(*b)) / 2
    assert files.cells[("7b", "IF")].ours == pytest.approx(expected) and spearman(*a) == pytest.approx(0.8)
    assert files.cells[("7b", "SM")].ours is None  # the seen mean never moved: no defined correlation
    assert files.cells[("35b", "MR")].ours == pytest.approx(1.0)
    with files.csv.open() as f:
        rows = {(r["model"], r["task"]): r for r in csv.DictReader(f)}
    assert rows[("7b", "IF")]["runs"] == "2" and rows[("7b", "SM")]["runs_constant"] == "1"
    assert rows[("7b", "IF")]["checkpoints_per_run"] == "4"
    markdown = files.markdown.read_text()
    assert f"| 7b | {expected:+.2f} | - | - |" in markdown and "| 35b | - | - | +1.00 |" in markdown


def test_a_multi_task_table_reads_the_one_task_of_each_joint_run(tmp_path: Path) -> None:
    path = tmp_path / "r.duckdb"
    with db.connect(path) as con:
        both = {"IF": {lang: 2.0 for lang in PAPER_LANGUAGES}, "MR": {lang: 0.5 for lang in PAPER_LANGUAGES}}
        store_run(con, "multi8", {}, task="multi", setting="multi", k=8, scored=both)
        store_run(con, "single8", {lang: 4.0 for lang in PAPER_LANGUAGES}, k=8)  # single-task: not table 9's
    files = draw_table(study().table(9), path, tmp_path / "tables", "smoke", 1)
    assert files.cells[(8, "es")].ours == 2.0 and files.cells[(8, "Avg")].ours == 2.0
    assert draw_table(study().table(23), path, tmp_path / "tables", "smoke", 1).cells[(8, "ko")].ours == 0.5
