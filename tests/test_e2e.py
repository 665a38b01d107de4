"""End to end: `clt-kit reproduce --figure 2 --scale smoke` through the real CLI, checked against DuckDB."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from clt_kit.jsonio import read_json, read_jsonl
from clt_kit.languages import PAPER_LANGUAGES
from clt_kit.study import TASKS, study
from clt_kit.pipeline import plan_figure
from clt_kit.results.runs import finished_runs
from clt_kit.scales import SMOKE
from clt_kit.train.model import cpu_kind

pytestmark = pytest.mark.slow

N_RUNS = len(plan_figure(2, SMOKE))  # the 7B and 35B analogues


def _reproduce(results: Path, seed: int) -> str:
    cmd = [sys.executable, "-m", "clt_kit.cli", "reproduce", "--figure", "2", "--scale", "smoke", "--seed", str(seed), "--results", str(results)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    # One progress bar over all the runs, however many processes execute them.
    assert "worker" not in done.stderr and ("runs (" in done.stderr or "runs:" in done.stderr)
    return done.stdout


def _reproduce_seed1(results: Path, *targets: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`reproduce` of `targets` (e.g. "--figure", "3") at smoke scale, seed 1, into `results`; it must succeed."""
    cmd = [sys.executable, "-m", "clt_kit.cli", "reproduce", *targets, "--scale", "smoke", "--seed", "1", "--results", str(results)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _metrics(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT r.model, r.task, r.k, m.lang, m.score, m.n FROM metrics m JOIN runs r USING (run_id) ORDER BY ALL"
        ).fetchall()


def _plotted(path: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The CSV of a figure's plotted values, split into ours and the paper's."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert {r["source"] for r in rows} == {"clt-kit", "paper"}
    return [r for r in rows if r["source"] == "clt-kit"], [r for r in rows if r["source"] == "paper"]


@pytest.fixture(scope="module")
def seed1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    results = tmp_path_factory.mktemp("seed1")
    return results, _reproduce(results, 1)


def test_rows_and_figure_come_from_this_run(seed1: tuple[Path, str]) -> None:
    results, stdout = seed1
    db = results / "clt.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs WHERE status = 'done'").fetchone()[0] == N_RUNS
        per_run = con.execute("SELECT count(*) FROM examples GROUP BY run_id").fetchall()
        assert {n for (n,) in per_run} == {sum(SMOKE.world.test_per_lang[t] for t in ["MR"]) * len(PAPER_LANGUAGES)}
        assert {lang for (lang,) in con.execute("SELECT DISTINCT lang FROM metrics").fetchall()} == set(PAPER_LANGUAGES)
        plotted = con.execute("SELECT model, task, k, rel FROM rel_to_english WHERE seed = 1 ORDER BY model, task, k").fetchall()
        run_ids = {r for (r,) in con.execute("SELECT run_id FROM runs").fetchall()}
        kinds = con.execute("SELECT DISTINCT environment->'$.determinism'->>'cpu_vendor', environment->'$.determinism'->>'cpu_capability' FROM runs").fetchall()
    assert kinds == [tuple(cpu_kind().values())]  # the kind of CPU that made the weights, stored with each run
    png = results / "figures" / "figure2.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    rows, paper = _plotted(results / "figures" / "figure2.csv")
    assert [(r["model"], r["task"], int(r["k"])) for r in rows] == [p[:3] for p in plotted]
    for row, p in zip(rows, plotted):
        assert (row["rel_to_english"] == "") if p[3] is None else float(row["rel_to_english"]) == pytest.approx(p[3])
    assert {r["run_id"] for r in rows} == run_ids
    # The paper's curves beside ours: its single-task, full-mixture tables for the models we stand for.
    assert {(r["model"], r["task"]) for r in paper} == {(m, t) for m in ("aya23-7b", "aya23-35b") for t in TASKS}
    assert {r["run_id"] for r in paper} == {"Table 3", "Table 4", "Table 10", "Table 11", "Table 17", "Table 18"}
    assert "runs: 18 new, 0 reused" in stdout


def test_rerun_reuses_every_run(seed1: tuple[Path, str]) -> None:
    results, _ = seed1
    before = _metrics(results / "clt.duckdb")
    stdout = _reproduce(results, 1)
    assert f"runs: 0 new, {N_RUNS} reused" in stdout
    assert _metrics(results / "clt.duckdb") == before


def test_fresh_rerun_is_identical_and_other_seed_differs(seed1: tuple[Path, str], tmp_path: Path) -> None:
    results, _ = seed1
    _reproduce(tmp_path / "again", 1)
    assert _metrics(tmp_path / "again" / "clt.duckdb") == _metrics(results / "clt.duckdb")
    _reproduce(tmp_path / "other", 2)
    assert _metrics(tmp_path / "other" / "clt.duckdb") != _metrics(results / "clt.duckdb")


def test_verify_rechecks_the_mixtures_it_wrote(seed1: tuple[Path, str]) -> None:
    results, _ = seed1
    done = subprocess.run([sys.executable, "-m", "clt_kit.cli", "verify", str(results / "work" / "mixtures")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"verified {len(TASKS) * len(study().k_grid('single', 'smoke'))} manifest(s)" in done.stdout


def test_advise_answers_from_the_smoke_runs(seed1: tuple[Path, str]) -> None:
    """`clt-kit advise` on the Figure 2 runs: a fit per model, task and group with ordered intervals,
    stored in the database, and k values to run next."""
    results, _ = seed1
    cmd = [sys.executable, "-m", "clt_kit.cli", "advise", "--results", str(results), "--scale", "smoke", "--seed", "1"]
    done = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    assert {(r["model"], r["task"]) for r in records if r["group"] == "non_english"} == {(m, t) for m in ("7b", "35b") for t in TASKS}
    for r in records:
        assert {"model", "task", "setting", "mixture", "group", "k_needed", "k_low", "k_high", "plateau", "at_k0"} <= set(r)
        if r["k_needed"] is not None and r["k_low"] is not None and r["k_high"] is not None:
            assert r["k_low"] <= r["k_needed"] <= r["k_high"], r
    with duckdb.connect(str(results / "clt.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM curve_fits WHERE source = 'kit' AND scale = 'smoke' AND seed = 1").fetchone()[0] == len(records)
    nxt = subprocess.run([*cmd, "--next", "--json"], capture_output=True, text=True, timeout=600)
    assert nxt.returncode == 0 and json.loads(nxt.stdout), nxt.stdout + nxt.stderr


def test_figure3_reuses_the_figure2_runs(seed1: tuple[Path, str]) -> None:
    results, _ = seed1
    done = _reproduce_seed1(results, "--figure", "3")
    assert f"runs: 0 new, {N_RUNS} reused" in done.stdout
    with duckdb.connect(str(results / "clt.duckdb"), read_only=True) as con:
        view = con.execute("SELECT model, task, k, seen, unseen FROM seen_unseen WHERE seed = 1 ORDER BY model, task, k").fetchall()
    rows, paper = _plotted(results / "figures" / "figure3.csv")
    assert [(r["model"], r["task"], int(r["k"])) for r in rows] == [v[:3] for v in view]
    assert len(paper) == 2 * len(TASKS) * 8  # two paper models, 8 values of k each
    for r, v in zip(rows, view):
        assert float(r["seen"]) == pytest.approx(v[3]) and float(r["unseen"]) == pytest.approx(v[4])
    assert (results / "figures" / "figure3.png").stat().st_size > 10_000


def test_table4_is_drawn_from_the_figure2_runs(seed1: tuple[Path, str]) -> None:
    results, _ = seed1
    done = _reproduce_seed1(results, "--table", "4")
    assert f"runs: 0 new, {len(study().k_grid('single', 'smoke'))} reused" in done.stdout
    with duckdb.connect(str(results / "clt.duckdb"), read_only=True) as con:
        metrics = {(k, lang): score for k, lang, score in con.execute(
            "SELECT r.k, m.lang, m.score FROM runs r JOIN metrics m USING (run_id) WHERE r.seed = 1 AND r.model = '7b' AND r.task = 'IF'").fetchall()}
    with (results / "tables" / "table4.csv").open() as f:
        ours = {(int(r["k"]), r["lang"]): float(r["clt_kit"]) for r in csv.DictReader(f) if r["clt_kit"] and r["lang"] != "Avg"}
    assert ours == pytest.approx(metrics)
    assert "Table 4: IF, Aya 23 7B analogue" in done.stdout


def _start(results: Path, seed: int, jobs: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "clt_kit.cli", "reproduce", "--figure", "2", "--scale", "smoke", "--seed", str(seed),
           "--results", str(results), "--jobs", str(jobs)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _new_and_reused(stdout: str) -> tuple[int, int]:
    line = next(line for line in stdout.splitlines() if line.startswith("runs: "))
    new, reused = line.removeprefix("runs: ").split(" reused")[0].split(" new, ")
    return int(new), int(reused)


def test_two_sweeps_at_once_share_the_work_and_store_each_run_once(seed1: tuple[Path, str], tmp_path: Path) -> None:
    """DuckDB allows one writer at a time: two sweeps on one results folder wait for each other's
    short writes, split the runs by claims, and end with every run stored once, as one sweep would."""
    procs = [_start(tmp_path, 1, jobs=1) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    counts = [_new_and_reused(out) for out, _ in outs]
    assert sum(new for new, _ in counts) == N_RUNS
    with duckdb.connect(str(tmp_path / "clt.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT run_id) FROM runs").fetchone() == (N_RUNS, N_RUNS)
    assert _metrics(tmp_path / "clt.duckdb") == _metrics(seed1[0] / "clt.duckdb")


def test_a_killed_sweep_resumes_with_nothing_lost_or_duplicated(seed1: tuple[Path, str], tmp_path: Path) -> None:
    from clt_kit.results import db

    proc = _start(tmp_path, 1, jobs=2)
    stored = 0
    while stored < 4 and proc.poll() is None:
        time.sleep(0.5)
        if (tmp_path / "clt.duckdb").exists():
            with db.connect(tmp_path / "clt.duckdb", read_only=True) as con:
                stored = con.execute("SELECT count(*) FROM runs").fetchone()[0]
    assert proc.poll() is None, "the sweep ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes, mid-run
    proc.wait()
    with duckdb.connect(str(tmp_path / "clt.duckdb"), read_only=True) as con:
        survived = con.execute("SELECT count(*) FROM runs").fetchone()[0]
    finished = len(finished_runs(tmp_path / "work" / "runs"))  # a run killed before its insert is kept in its folder
    assert 4 <= survived <= finished < N_RUNS
    new, reused = _new_and_reused(_reproduce(tmp_path, 1))
    assert (new, reused) == (N_RUNS - finished, finished)
    assert _metrics(tmp_path / "clt.duckdb") == _metrics(seed1[0] / "clt.duckdb")


def test_figure10_adds_the_llama_analogue_runs_beside_figure2s(seed1: tuple[Path, str]) -> None:
    """Figure 10 is Figure 2 for the Llama analogue: its own runs (another architecture, pretrained
    with less non-English text) in the same database, drawn against the paper's Llama 3.1 8B.
    (Near the end of this file: it adds runs to seed1's database.)"""
    results, _ = seed1
    done = _reproduce_seed1(results, "--figure", "10")
    n_llama = len(TASKS) * len(study().k_grid("single", "smoke"))
    assert f"runs: {n_llama} new, 0 reused" in done.stdout
    with duckdb.connect(str(results / "clt.duckdb"), read_only=True) as con:
        assert con.execute("SELECT model, count(*) FROM runs WHERE seed = 1 GROUP BY model ORDER BY model").fetchall() == [
            ("35b", N_RUNS // 2), ("7b", N_RUNS // 2), ("8b", n_llama)]
    rows, paper = _plotted(results / "figures" / "figure10.csv")
    assert {r["model"] for r in rows} == {"8b"} and len(rows) == n_llama
    assert {r["model"] for r in paper} == {"llama3.1-8b"} and len(paper) == len(TASKS) * 8
    base_records = sorted((results / "work" / "models").glob("base-*/base.json"))
    architectures = {read_json(b)["key"]["size"]["name"]: read_json(b)["key"]["size"]["architecture"] for b in base_records}
    assert architectures == {"7b": "cohere", "35b": "cohere", "8b": "llama"}
    english_share = {read_json(b)["key"]["size"]["name"]: read_json(b)["corpus_lines"] for b in base_records}
    assert all(english_share["8b"]["en"] == english_share[m]["en"] for m in ("7b", "35b"))
    assert sum(english_share["8b"].values()) < sum(english_share["7b"].values())


def test_figure6_trains_the_script_mixtures_and_reuses_the_english_only_run(seed1: tuple[Path, str]) -> None:
    """Figure 6 (IF, 7B analogue): Latin-only (en + es, fr) and non-Latin-only (en + ja, zh)
    mixtures, nested in k, sharing Figure 2's k=0 run; plotted per mixture on the Latin- and
    non-Latin-script languages. (Near the end of this file: it adds runs to seed1's database.)"""
    results, _ = seed1
    done = _reproduce_seed1(results, "--figure", "6")
    grid = study().k_grid("single", "smoke")
    assert f"runs: {2 * (len(grid) - 1)} new, 1 reused" in done.stdout
    mixtures = results / "work" / "mixtures" / "smoke-s1"
    for name, seen in (("latin", {"es", "fr"}), ("non_latin", {"ja", "zh"})):
        ids = []
        for k in grid[1:]:
            records = read_jsonl(mixtures / f"IF-{name}-k{k}" / "mixture.jsonl")
            langs = [r["lang"] for r in records]
            assert set(langs) == {"en"} | seen and all(langs.count(lang) == k for lang in seen)
            ids.append({r["id"] for r in records})
        assert ids[0] < ids[1]  # nested: the smaller k's set is inside the larger one's
    with duckdb.connect(str(results / "clt.duckdb"), read_only=True) as con:
        view = con.execute("SELECT mixture, k, latin, non_latin FROM script_groups WHERE seed = 1 AND model = '7b'"
                           " AND task = 'IF' AND (mixture <> 'all' OR k = 0) ORDER BY mixture, k").fetchall()
    rows, paper = _plotted(results / "figures" / "figure6.csv")
    k0 = next(v for v in view if v[1] == 0)
    expected = [(m, k0[1], *k0[2:]) for m in ("latin", "non_latin")] + [v for v in view if v[1] > 0]
    got = [(r["mixture"], int(r["k"]), round(float(r["latin"]), 9), round(float(r["non_latin"]), 9)) for r in rows]
    assert sorted(got) == sorted((m, k, round(a, 9), round(b, 9)) for m, k, a, b in expected)
    assert {r["mixture"] for r in paper} == {"latin", "non_latin"} and len(paper) == 2 * 8
    done = subprocess.run([sys.executable, "-m", "clt_kit.cli", "verify", str(mixtures)], capture_output=True, text=True)
    assert done.returncode == 0 and f"verified {len(TASKS) * len(grid) + 2 * (len(grid) - 1)} manifest(s)" in done.stdout, done.stdout + done.stderr


def test_all_draws_every_figure_and_table_on_one_page(seed1: tuple[Path, str]) -> None:
    """`reproduce --all`: the runs every figure and table needs (here: the script mixtures of SM
    and MR are the new ones), then one Markdown page linking every figure and holding every table.
    (Last in this file.)"""
    results, _ = seed1
    done = _reproduce_seed1(results, "--all", timeout=900)
    grid, multi_grid = study().k_grid("single", "smoke"), study().k_grid("multi", "smoke")
    # new: the script mixtures of SM and MR (IF's came with Figure 6), and the multi-task runs of 7B and 35B
    assert f"runs: {2 * 2 * (len(grid) - 1) + 2 * len(multi_grid)} new," in done.stdout
    report = (results / "report.md").read_text()
    from clt_kit.results.claims import CLAIMS

    assert "## The paper's findings, checked" in report
    assert all(f"| `{c.name}` | {c.finding} |" in report for c in CLAIMS)
    assert "## How much non-English data: the fitted curves" in report and "(figures/advice-non_english.png)" in report
    assert (results / "figures" / "advice-non_english.png").stat().st_size > 10_000
    with duckdb.connect(str(results / "clt.duckdb"), read_only=True) as con:
        run_ids = {r for (r,) in con.execute("SELECT run_id FROM runs WHERE seed = 1 AND scale = 'smoke'").fetchall()}
        metrics = {(model, task, setting, mixture, k, lang): score for model, task, setting, mixture, k, lang, score in con.execute(
            "SELECT r.model, m.task, r.setting, r.mixture, r.k, m.lang, m.score FROM runs r JOIN metrics m USING (run_id)"
            " WHERE r.seed = 1").fetchall()}
        multi = con.execute("SELECT DISTINCT model, task, tasks, k FROM runs WHERE setting = 'multi' AND seed = 1 ORDER BY ALL").fetchall()
        scored = con.execute("SELECT DISTINCT e.task FROM runs r JOIN examples e USING (run_id) WHERE r.setting = 'multi' ORDER BY 1").fetchall()
        checkpoints = con.execute(
            "SELECT run_id, model, task, step, seen, unseen FROM checkpoint_seen_unseen WHERE seed = 1 AND setting = 'single'"
            " AND mixture = 'all' AND k > 0 ORDER BY run_id, task, step").fetchall()
    # one joint run per model and k, trained on every task and scored on each
    assert [(m, t, k) for m, t, _, k in multi] == [(m, "multi", k) for m in ("35b", "7b") for k in multi_grid]
    assert {json for _, _, json, _ in multi} == {'["IF","SM","MR"]'} and scored == [(t,) for t in sorted(TASKS)]
    for n, fig in study().figures.items():
        assert f"### Figure {n}" in report and (results / "figures" / f"figure{n}.png").stat().st_size > 10_000
        assert f"(figures/figure{n}.png)" in report
        rows, _ = _plotted(results / "figures" / f"figure{n}.csv")
        assert rows and {r["run_id"] for r in rows} <= run_ids  # every plotted point is one of this run's runs
        assert {r["model"] for r in rows} == set(fig.models)
    for n, table in study().tables.items():
        assert f"### Table {n}" in report
        with (results / "tables" / f"table{n}.csv").open() as f:
            rows = list(csv.DictReader(f))
        if table.draw == "dynamics":
            _check_dynamics_table(rows, checkpoints)
            continue
        ours = [r for r in rows if r["clt_kit"] and r["lang"] != "Avg"]
        assert len(ours) == len(study().k_grid(table.setting, "smoke")) * len(PAPER_LANGUAGES)
        for r in ours:  # each value is the run's own per-language mean (k=0: the shared English-only run)
            mixture = table.mixtures[0] if int(r["k"]) else "all"
            key = (table.models[0], table.tasks[0], table.setting, mixture, int(r["k"]), r["lang"])
            assert float(r["clt_kit"]) == pytest.approx(metrics[key])
    verified = subprocess.run([sys.executable, "-m", "clt_kit.cli", "verify", str(results / "work" / "mixtures")],
                              capture_output=True, text=True, timeout=600)
    joint = list((results / "work" / "mixtures").rglob("multi-k*/manifest.json"))
    parts = list((results / "work" / "mixtures").rglob("multi-k*/parts/*/manifest.json"))
    assert len(joint) == len(multi_grid) and len(parts) == len(TASKS) * len(joint)  # each joint mixture and its parts, checked
    n = len(list((results / "work" / "mixtures").rglob("manifest.json")))
    assert verified.returncode == 0 and f"verified {n} manifest(s)" in verified.stdout, verified.stdout + verified.stderr


def _check_dynamics_table(rows: list[dict[str, str]], checkpoints: list[tuple]) -> None:
    """Table 2's values are, per model and task, the mean over the runs of the Spearman correlation
    of the seen and unseen means over each run's checkpoints, as the stored checkpoint scores give it."""
    from clt_kit.results.claims import spearman

    by_run: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for run_id, model, task, _step, seen, unseen in checkpoints:
        by_run.setdefault((model, task, run_id), []).append((seen, unseen))
    assert rows and all(len(points) >= 2 for points in by_run.values())
    for r in rows:
        rhos = [spearman([a for a, _ in pts], [b for _, b in pts]) for (m, t, _), pts in by_run.items()
                if (m, t) == (r["model"], r["task"]) and len({a for a, _ in pts}) > 1 and len({b for _, b in pts}) > 1]
        assert int(r["runs"]) == len(rhos)
        if rhos:
            assert float(r["spearman"]) == pytest.approx(sum(rhos) / len(rhos))
