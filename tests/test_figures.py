"""Figures from SQL over the results database (results/figures.py), on runs stored straight into it."""

from __future__ import annotations

from pathlib import Path

import pytest

from clt_kit.results import db
from clt_kit.results.figures import draw_figure
from clt_kit.study import study
from tests.stored_runs import store_run


def _langs(seen: float, unseen: float) -> dict[str, float]:
    return {"en": 3.0, **dict.fromkeys(("es", "fr", "ja", "zh"), seen), **dict.fromkeys(("ar", "ko", "pt"), unseen)}


def test_figure12_plots_the_seen_unseen_gap_of_the_joint_runs_beside_the_papers(tmp_path: Path) -> None:
    path = tmp_path / "r.duckdb"
    with db.connect(path) as con:
        for k, gap in ((0, 0.1), (8, 0.5)):
            scored = {"IF": _langs(2.0 + gap, 2.0), "SM": _langs(0.4, 0.1), "MR": _langs(0.5, 0.5)}
            store_run(con, f"multi{k}", {}, task="multi", setting="multi", k=k, scored=scored)
        store_run(con, "single8", _langs(4.0, 1.0), k=8)  # a single-task IF run: not Figure 12's
    files = draw_figure(study().figure(12), path, tmp_path / "figures", "smoke", 1)
    assert [r[:4] for r in files.rows] == [("7b", "IF", 0, pytest.approx(0.1)), ("7b", "IF", 8, pytest.approx(0.5))]
    assert {r[-1] for r in files.rows} == {"multi0", "multi8"}
    assert files.paper_rows and {r[1] for r in files.paper_rows} == {"IF"} and {r[-1] for r in files.paper_rows} == {"Table 9"}
    assert files.png.stat().st_size > 10_000 and files.value_names == ("gap",)


def test_figure4_has_a_line_per_task_of_each_joint_run(tmp_path: Path) -> None:
    path = tmp_path / "r.duckdb"
    with db.connect(path) as con:
        for model in ("7b", "35b"):
            for k in (0, 8):
                scored = {"IF": _langs(1.5, 1.5), "SM": _langs(0.3, 0.3), "MR": _langs(0.6, 0.3)}
                store_run(con, f"{model}-{k}", {}, model=model, task="multi", setting="multi", k=k, scored=scored)
    files = draw_figure(study().figure(4), path, tmp_path / "figures", "smoke", 1)
    assert sorted({(r[0], r[1]) for r in files.rows}) == sorted((m, t) for m in ("7b", "35b") for t in ("IF", "SM", "MR"))
    mr = next(r for r in files.rows if r[:3] == ("7b", "MR", 8))
    assert mr[3] == pytest.approx((4 * 0.6 + 3 * 0.3) / 7 / 3.0)  # the non-English mean of its MR scores over its English MR score
