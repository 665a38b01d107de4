"""`clt-kit advise`: saturating fits of score against k (results/curves.py), the k that reaches a
target with a bootstrap interval, the runs worth making next (results/advise.py), on stored runs
and on the paper's own numbers."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from clt_kit.cli import main
from clt_kit.languages import PAPER_LANGUAGES
from clt_kit.results import advise, curves, db

KEYS = {"model", "task", "setting", "mixture", "group", "k_needed", "k_low", "k_high", "plateau", "at_k0"}


def test_a_fit_recovers_the_curve_it_was_made_from() -> None:
    ks = np.array([0, 50, 100, 200, 400, 800, 1600], float)
    values = 0.4 + 0.4 * ks / (ks + 150)
    fitted = curves.fit(ks, values)
    assert fitted.at_k0[0] == pytest.approx(0.4, abs=1e-3) and fitted.plateau[0] == pytest.approx(0.8, rel=0.02)
    assert fitted.k_for_gain_share(0.9)[0] == pytest.approx(9 * 150, rel=0.05)
    assert fitted.k_for_value(0.3)[0] == 0 and np.isinf(fitted.k_for_value(0.9)[0])
    assert fitted.k_for_value(0.6)[0] == pytest.approx(150, rel=0.05)


def test_replicates_are_fitted_as_one_by_one() -> None:
    rng = np.random.default_rng(0)
    ks = np.array([0, 4, 8, 16], float)
    ys = 0.3 + 0.5 * ks / (ks + 5) + rng.normal(0, 0.02, size=(5, 4))
    together = curves.fit(ks, ys)
    for i in range(5):
        alone = curves.fit(ks, ys[i])
        assert (alone.at_k0[0], alone.plateau[0], alone.h[0]) == pytest.approx((together.at_k0[i], together.plateau[i], together.h[i]))


def test_a_curve_without_a_falling_gain_needs_no_data_and_two_points_cannot_be_fitted() -> None:
    ks = np.array([0, 100, 200, 400], float)
    falling = curves.fit(ks, np.array([0.8, 0.7, 0.65, 0.6]))
    assert falling.k_for_gain_share(0.9)[0] == 0
    with pytest.raises(ValueError, match="two positive k"):
        curves.fit(np.array([0, 8], float), np.array([0.1, 0.2]))


def test_candidates_lie_between_around_and_beyond_the_runs() -> None:
    assert advise.candidate_ks(np.array([0, 50, 100, 200])) == [25, 71, 140, 400, 800]


def _saturating_runs(path: Path, *, ks: tuple[int, ...] = (0, 4, 8, 16), items: int = 12, scale: str = "smoke", seed: int = 1) -> None:
    """Runs whose per-example scores follow a saturating curve in k (rising fast in MR, slowly in IF),
    with item-level noise from a fixed generator."""
    rng = np.random.default_rng(7)
    with db.connect(path) as con:
        for task, half in (("MR", 12.0), ("IF", 2.0)):
            for k in ks:
                run_id = f"{scale}-{seed}-{task}-{k}"
                examples = []
                for lang in PAPER_LANGUAGES:
                    mean = 0.9 if lang == "en" else 0.3 + 0.5 * k / (k + half)
                    for i in range(items):
                        examples.append({"example_id": f"{lang}-{i}", "task": task, "lang": lang, "prompt": "p", "output": "o",
                                         "reference": "r", "extracted": None, "rule": "r", "detected_lang": lang,
                                         "score": float(np.clip(mean + rng.normal(0, 0.1), 0, 1))})
                run = {"run_id": run_id, "scale": scale, "model": "7b", "task": task, "k": k, "seed": seed, "status": "done",
                       "setting": "single", "mixture": "all", "tasks": [task], "spec": {"x": run_id}, "environment": {},
                       "base_weights_sha256": "b", "weights_sha256": "w", "best_step": 1, "validation_losses": {"1": 1.0},
                       "mixture_manifest_sha256": "m" + run_id, "train_seconds": 1.0, "eval_seconds": 1.0,
                       "finished_at": datetime(2026, 1, 1)}
                db.insert_run(con, db.RunRecord(run=run, manifest={"spec": {"task": task, "k": k}, "set_fingerprint": "f"},
                                                manifest_sha256="m" + run_id, examples=examples))


def _advise(results: Path, *args: str) -> str:
    done = CliRunner().invoke(main, ["advise", "--results", str(results), *args])
    assert done.exit_code == 0, done.output
    return done.output


def test_advice_on_runs_has_its_keys_ordered_intervals_and_is_stored(tmp_path: Path) -> None:
    _saturating_runs(tmp_path / "clt.duckdb")
    records = json.loads(_advise(tmp_path, "--json"))
    assert {r["group"] for r in records} == set(advise.GROUPS) and {r["task"] for r in records} == {"MR", "IF"}
    for r in records:
        assert KEYS <= set(r)
        assert r["k_low"] <= r["k_needed"] <= r["k_high"], r
    mr = next(r for r in records if r["task"] == "MR" and r["group"] == "non_english")
    if_ = next(r for r in records if r["task"] == "IF" and r["group"] == "non_english")
    assert mr["k_needed"] > if_["k_needed"]  # MR's curve rises six times more slowly
    assert mr["plateau"] == pytest.approx(0.8 / 0.9, abs=0.1) and mr["at_k0"] == pytest.approx(0.3 / 0.9, abs=0.06)
    with db.connect(tmp_path / "clt.duckdb", read_only=True) as con:
        stored = con.execute("SELECT lang_group, k_needed, k_low, k_high FROM curve_fits WHERE source = 'kit' AND task = 'MR'"
                             " AND lang_group = 'non_english'").fetchall()
    assert stored == [("non_english", mr["k_needed"], mr["k_low"], mr["k_high"])]
    assert _advise(tmp_path, "--json") == json.dumps(records, indent=1) + "\n"  # seeded: the same again
    text = _advise(tmp_path, "--group", "non_english")
    assert "7b MR (single-task, mixture all" in text and "non_english" in text and " seen " not in text


def test_next_names_k_values_to_run_and_the_command_that_runs_them(tmp_path: Path) -> None:
    _saturating_runs(tmp_path / "clt.duckdb")
    ks = json.loads(_advise(tmp_path, "--next", "--json", "--group", "non_english"))
    assert ks and all(isinstance(k, int) and k not in (0, 4, 8, 16) for k in ks)
    text = _advise(tmp_path, "--next", "--group", "non_english")
    grid = ",".join(map(str, sorted({0, 4, 8, 16, *ks})))
    assert f"k={ks[0]}:" in text and f"clt-kit reproduce --figure 2 --k {grid} " in text


def test_a_target_share_of_english_and_runs_that_cannot_answer(tmp_path: Path) -> None:
    _saturating_runs(tmp_path / "clt.duckdb")
    records = {(r["task"], r["group"]): r for r in json.loads(_advise(tmp_path, "--json", "--target-rel", "0.95"))}
    assert records[("MR", "non_english")]["k_needed"] is None  # the plateau (0.89 of English) stays under 0.95
    assert records[("MR", "non_english")]["status"] == advise.UNREACHABLE
    assert records[("IF", "en")]["k_needed"] == 0  # English is English's own score
    few = tmp_path / "few"
    _saturating_runs(few / "clt.duckdb", ks=(0, 8))
    record = json.loads(_advise(few, "--json", "--group", "non_english"))[0]
    assert record["status"] == advise.TOO_FEW and record["k_needed"] is None


def test_a_run_whose_english_scored_zero_leaves_relative_to_english_undefined(tmp_path: Path) -> None:
    """At smoke scale a run can score 0 in English: its non-English mean relative to English is then
    undefined, and the advice says so instead of fitting nan (the other groups are still answered)."""
    _saturating_runs(tmp_path / "clt.duckdb")
    with db.connect(tmp_path / "clt.duckdb") as con:
        con.execute("UPDATE examples SET score = 0 WHERE lang = 'en' AND run_id = 'smoke-1-MR-8'")
    records = {(r["task"], r["group"]): r for r in json.loads(_advise(tmp_path, "--json"))}
    rel = records[("MR", "non_english")]
    assert rel["status"] == advise.UNDEFINED and rel["k_needed"] is None and "English scored 0 at k = [8]" in rel["message"]
    assert records[("MR", "seen")]["status"] != advise.UNDEFINED and records[("MR", "seen")]["k_needed"] is not None
    assert "-  cannot answer: English scored 0" in _advise(tmp_path, "--group", "non_english")
    assert json.loads(_advise(tmp_path, "--next", "--json", "--group", "non_english"))  # IF's curve still says where to run


def test_replicates_that_draw_no_english_score_are_left_out_of_intervals_and_figures(tmp_path: Path) -> None:
    """One English item of twelve above 0: the run's relative-to-English value is defined, but about
    a third of the bootstrap replicates draw only zeros; the advice and its figure leave them out
    (the figure of `reproduce --all` failed on such a smoke run)."""
    _saturating_runs(tmp_path / "clt.duckdb")
    with db.connect(tmp_path / "clt.duckdb") as con:
        con.execute("UPDATE examples SET score = 0 WHERE lang = 'en' AND run_id = 'smoke-1-MR-8' AND example_id <> 'en-0'")
        con.execute("UPDATE examples SET score = 1 WHERE lang = 'en' AND run_id = 'smoke-1-MR-8' AND example_id = 'en-0'")
    rel = next(r for r in json.loads(_advise(tmp_path, "--json", "--group", "non_english")) if r["task"] == "MR")
    assert rel["status"] != advise.UNDEFINED and rel["k_low"] is not None and rel["k_low"] <= rel["k_high"]
    out = tmp_path / "advice.png"
    _advise(tmp_path, "--group", "non_english", "--plot", str(out))
    assert out.stat().st_size > 10_000


def test_the_scale_comes_from_the_results_and_must_be_chosen_among_several(tmp_path: Path) -> None:
    _saturating_runs(tmp_path / "clt.duckdb")
    _saturating_runs(tmp_path / "clt.duckdb", scale="mini", seed=0)
    done = CliRunner().invoke(main, ["advise", "--results", str(tmp_path)])
    assert done.exit_code == 2 and "several scales (mini, smoke); choose one with --scale" in done.output
    assert "7b MR" in _advise(tmp_path, "--scale", "mini")
    done = CliRunner().invoke(main, ["advise", "--results", str(tmp_path / "none")])
    assert done.exit_code == 2 and "no results database here" in done.output


def test_the_papers_numbers_say_mr_needs_several_times_the_data_at_7b(tmp_path: Path) -> None:
    records = json.loads(_advise(tmp_path, "--paper", "--json", "--group", "non_english"))
    single = {(r["model"], r["task"]): r for r in records if r["setting"] == "single" and r["mixture"] == "all"}
    mr, others = single[("aya23-7b", "MR")]["k_needed"], [single[("aya23-7b", t)]["k_needed"] for t in ("IF", "SM")]
    assert mr >= 2.5 * max(others)
    assert single[("aya23-7b", "MR")]["k_low"] > min(others)
    for task in ("IF", "SM", "MR"):  # 35B: English-only is within 5% of the plateau
        r = single[("aya23-35b", task)]
        assert r["at_k0"] >= 0.95 * r["plateau"]
    assert not (tmp_path / "clt.duckdb").exists()  # the paper's numbers need no results database


def test_plot_draws_the_fits(tmp_path: Path) -> None:
    _saturating_runs(tmp_path / "clt.duckdb")
    out = tmp_path / "advice.png"
    _advise(tmp_path, "--group", "non_english", "--plot", str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_the_back_test_prints_each_forms_error_beside_the_flat_baseline() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "benchmarks" / "bench_advise.py")],
                          capture_output=True, text=True, timeout=300, check=True)
    assert "flat baseline (the k=400 value): mean abs error" in done.stdout
    for name in curves.FORMS:
        assert f"{name}" in done.stdout and "ratio to flat" in done.stdout
