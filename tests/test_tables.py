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
    for number, table in study().tables.items():
        assert found[number] == (table.tasks[0], PAPER_MODELS[table.models[0]], table.setting, table.mixtures[0]), number
    single = {n for n, (_, _, setting, _) in found.items() if setting == "single"}
    assert set(study().tables) == single  # every single-task table is declared (the multi-task ones wait for that setting)
