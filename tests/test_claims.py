"""The paper's findings as checks (results/claims.py): they hold on the paper's own numbers, and
on the kit's runs they hold, fail or are not measurable by what the runs say."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from clt_kit.cli import main
from clt_kit.languages import PAPER_LANGUAGES
from clt_kit.results import db
from clt_kit.results.claims import (CLAIMS, HELD, NOT_HELD, NOT_MEASURABLE, Data, check_claims, k_needed, kit_data,
                                    paper_data, spearman)
from tests.stored_runs import store_run

BY_NAME = {c.name: c for c in CLAIMS}


def test_every_finding_of_the_paper_has_a_claim() -> None:
    assert sorted({c.finding for c in CLAIMS}) == [1, 2, 3, 4, 5]
    assert len({c.name for c in CLAIMS}) == len(CLAIMS)


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.name)
def test_each_claim_holds_on_the_papers_own_numbers(tmp_path: Path, claim) -> None:
    with db.connect(tmp_path / "r.duckdb") as con:
        verdict = claim.check(paper_data(con))
    assert verdict.status == HELD, verdict.numbers


def _curves(**curves: dict[int, float]) -> Data:
    """Data from curves named measure__model__task[__mixture] (model: 7b, 35b, 8b)."""
    names = {"7b": "aya23-7b", "35b": "aya23-35b", "8b": "llama3.1-8b"}
    out = {}
    for name, curve in curves.items():
        measure, model, task, *mixture = name.split("__")
        out[(measure, names[model], task, "single", mixture[0] if mixture else "all")] = curve
    return Data("test", out)


def test_a_claim_fails_when_the_numbers_say_so_and_is_not_measurable_without_runs() -> None:
    flat = {0: 0.5, 100: 0.55}
    steep = {0: 0.3, 100: 0.6}
    data = _curves(rel__7b__IF=flat, rel__7b__SM=flat, rel__7b__MR=steep, rel__8b__IF=flat, rel__8b__SM=flat, rel__8b__MR=steep)
    assert BY_NAME["mr_gains_most"].check(data).status == HELD
    data = _curves(rel__7b__IF=steep, rel__7b__SM=flat, rel__7b__MR=steep, rel__8b__IF=flat, rel__8b__SM=flat, rel__8b__MR=steep)
    verdict = BY_NAME["mr_gains_most"].check(data)
    assert verdict.status == NOT_HELD and "7B: MR +0.300, IF +0.300" in verdict.numbers
    verdict = BY_NAME["mr_gains_most"].check(_curves(rel__7b__IF=flat, rel__7b__SM=flat, rel__7b__MR=steep))
    assert verdict.status == NOT_MEASURABLE and "llama3.1-8b on IF" in verdict.numbers
    verdict = BY_NAME["mr_gains_most"].check(_curves(rel__7b__IF={0: None, 100: 0.5}))
    assert verdict.status == NOT_MEASURABLE and "undefined" in verdict.numbers


def test_script_claims_read_each_mixture_from_its_shared_english_only_start(tmp_path: Path) -> None:
    ones = {lang: 1.0 for lang in PAPER_LANGUAGES}
    with db.connect(tmp_path / "r.duckdb") as con:
        for task in ("IF", "SM"):
            store_run(con, f"{task}0", ones, task=task)
            store_run(con, f"{task}l", ones, task=task, mixture="latin", k=4)
            store_run(con, f"{task}n", {**ones, "ja": 2.0}, task=task, mixture="non_latin", k=4)  # non-Latin data helps ja
        data = kit_data(con, "smoke", 1)
    assert data.curve("non_latin", "aya23-7b", "IF", mixture="latin") == {0: 1.0, 4: 1.0}
    verdict = BY_NAME["non_latin_data_for_non_latin"].check(data)
    assert verdict.status == HELD and "IF: +0.250 with the non-Latin-only mixture, +0.000 with the Latin-only" in verdict.numbers
    assert BY_NAME["mr_follows_latin"].check(data).status == NOT_MEASURABLE


def test_spearman_and_k_needed() -> None:
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4], [1, 1, 2, 2]) == pytest.approx(0.894427, abs=1e-6)  # ties get average ranks
    assert spearman([1, 2, 3], [5, 5, 5]) == 0.0
    saturating = {k: 0.4 + 0.4 * k / (k + 150) for k in (0, 100, 200, 400, 800, 1600)}
    assert k_needed(saturating) == pytest.approx(1350, rel=0.05)  # 90% of the gain at 9 half-gain k
    assert k_needed({0: 0.9, 100: 0.8, 200: 0.8}) == 0  # no gain: English-only is as far as it goes


def test_claims_command_prints_both_sides(tmp_path: Path) -> None:
    with db.connect(tmp_path / "clt.duckdb") as con:
        store_run(con, "a", {lang: 1.0 for lang in PAPER_LANGUAGES})
    result = CliRunner().invoke(main, ["claims", "--scale", "smoke", "--seed", "1", "--results", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.count("  paper: held: ") == len(CLAIMS)
    assert result.output.count("  clt-kit (smoke, seed 1): not measurable: needs ") == len(CLAIMS)
    assert len(check_claims(tmp_path / "clt.duckdb", "smoke", 1)) == len(CLAIMS)
    result = CliRunner().invoke(main, ["claims", "--results", str(tmp_path / "none")])
    assert result.exit_code == 2 and "no results database here" in result.output


def test_claims_reads_the_scale_and_seed_its_results_hold(tmp_path: Path) -> None:
    """Without --scale and --seed, claims reads the runs of the one scale and seed the database
    holds; with several, one error line names them and asks for the missing option; given ones win."""
    ones = {lang: 1.0 for lang in PAPER_LANGUAGES}
    with db.connect(tmp_path / "clt.duckdb") as con:
        for task in ("IF", "SM"):
            store_run(con, f"{task}0", ones, task=task)
            store_run(con, f"{task}l", ones, task=task, mixture="latin", k=4)
            store_run(con, f"{task}n", {**ones, "ja": 2.0}, task=task, mixture="non_latin", k=4)
    claims = lambda *args: CliRunner().invoke(main, ["claims", "--results", str(tmp_path), *args])  # noqa: E731
    held = claims()
    assert held.exit_code == 0, held.output
    assert held.output == claims("--scale", "smoke", "--seed", "1").output
    assert "  clt-kit (smoke, seed 1): held: non-Latin-script languages' mean gain, 7B: IF: +0.250 with the non-Latin-only" in held.output
    with db.connect(tmp_path / "clt.duckdb") as con:
        store_run(con, "other", ones, seed=2)
        store_run(con, "mini", ones, scale="mini", seed=2)
    several = claims()
    assert several.exit_code == 2
    assert several.output == f"error: {tmp_path / 'clt.duckdb'}: holds runs of mini seed 2, smoke seed 1, smoke seed 2; choose which with --scale and --seed\n"
    assert claims("--scale", "smoke").output.endswith(": holds runs of smoke seed 1, smoke seed 2; choose which with --seed\n")
    assert claims("--seed", "2").output.endswith(": holds runs of mini seed 2, smoke seed 2; choose which with --scale\n")
    assert claims("--scale", "smoke", "--seed", "1").output == held.output
    assert "  clt-kit (smoke, seed 2): not measurable" in claims("--scale", "smoke", "--seed", "2").output
    assert "  clt-kit (mini, seed 2): not measurable" in claims("--scale", "mini").output  # the one seed of mini's runs
    assert "  clt-kit (paper, seed 0): not measurable" in claims("--scale", "paper").output  # no runs of it: seed 0


def test_the_multi_task_claims_read_the_joint_runs_task_by_task(tmp_path: Path) -> None:
    def langs(seen: float, unseen: float, en: float = 1.0) -> dict[str, float]:
        return {"en": en, **dict.fromkeys(("es", "fr", "ja", "zh"), seen), **dict.fromkeys(("ar", "ko", "pt"), unseen)}

    with db.connect(tmp_path / "r.duckdb") as con:
        for model, cost in (("7b", 0.2), ("35b", 0.0)):
            for k in (0, 8):
                store_run(con, f"mr-{model}-{k}", langs(0.6, 0.6), model=model, task="MR", k=k)
                # joint runs: MR `cost` below single-task; the IF gap grows with k at 7B only
                gap = k / 8 if model == "7b" else 0.0
                scored = {"IF": langs(2.0 + gap, 2.0), "SM": langs(0.3, 0.3), "MR": langs(0.6 - cost, 0.6 - cost)}
                store_run(con, f"multi-{model}-{k}", {}, model=model, task="multi", setting="multi", k=k, scored=scored)
        store_run(con, "multi-7b-16", {}, task="multi", setting="multi", k=16,
                  scored={"IF": langs(4.0, 2.0), "SM": langs(0.3, 0.3), "MR": langs(0.4, 0.4)})
    results = {r.claim.name: r.ours for r in check_claims(tmp_path / "r.duckdb", "smoke", 1)}
    assert results["multi_task_costs_mr_at_7b"].status == HELD, results["multi_task_costs_mr_at_7b"].numbers
    assert "7B +0.175, 35B +0.000" in results["multi_task_costs_mr_at_7b"].numbers
    assert results["if_gap_widens_multi_7b"].status == HELD and "+1.00" in results["if_gap_widens_multi_7b"].numbers
