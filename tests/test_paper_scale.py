"""The paper scale's sweep end to end on CPU: `reproduce --scale paper` over the dataset fixtures
(tests/data/sources/, every dataset's own shape) with two tiny GPT-2 models in place of the hub's
base models and a local stub in place of the judge: data config -> data folder -> mixtures ->
the paper's recipe -> evaluation (8-shot style MGSM prompts, the judge for Aya Dolly) -> DuckDB ->
a figure, a table and the claims."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import HTTPServer
from pathlib import Path

import duckdb
import pytest

from clt_kit.jsonio import read_json, read_jsonl
from clt_kit.study import study
from tests.foreign_models import foreign_model
from tests.test_judge import Stub

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "data" / "sources"
CLI = [sys.executable, "-m", "clt_kit.cli"]


def data_config(path: Path) -> Path:
    """Every dataset of the study, from its fixture: SM (XL-Sum), MR (mCoT-MATH train, MGSM test
    with a user's own pt file and 2 worked examples per prompt), IF (ShareGPT train, Aya Dolly test)."""
    sources = [
        {"dataset": "xlsum", "role": "train", "from": str(FIXTURES / "xlsum"), "languages": ["en", "es", "fr", "ja", "zh"]},
        {"dataset": "xlsum", "role": "test", "from": str(FIXTURES / "xlsum"), "languages": ["en", "es", "ja", "ko"], "per_lang": 3},
        {"dataset": "mcot_math", "role": "train", "from": str(FIXTURES / "mcot_math")},
        {"dataset": "mgsm", "role": "test", "from": str(FIXTURES / "mgsm"), "languages": ["en", "ja", "pt"],
         "files": {"pt": str(FIXTURES / "mgsm" / "mgsm_pt.tsv")}, "shots": 2, "exemplars": str(FIXTURES / "mgsm" / "exemplars.json")},
        {"dataset": "sharegpt", "role": "train", "from": str(FIXTURES / "sharegpt" / "sharegpt.json")},
        {"dataset": "aya_dolly", "role": "test", "from": str(FIXTURES / "aya_dolly")},
    ]
    path.write_text(json.dumps({"seed": 3, "sources": sources}, indent=1))  # JSON is YAML
    return path


@pytest.fixture
def judge() -> Iterator[str]:
    Stub.requests = []
    server = HTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def test_the_paper_sweep_over_the_fixtures_lands_in_duckdb_figures_tables_and_claims(tmp_path: Path, judge: str) -> None:
    texts = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.rglob("*")) if p.is_file() and p.suffix in (".jsonl", ".json", ".tsv")]
    small = foreign_model(texts, tmp_path / "small", hidden=32, layers=1, context=1024)
    large = foreign_model(texts, tmp_path / "large", hidden=48, layers=2, context=1024)
    config, results = data_config(tmp_path / "data.yaml"), tmp_path / "results"
    common = ["--scale", "paper", "--data", str(config), "--base", f"7b={small}", "--base", f"35b={large}", "--english", "2",
              "--k", "0,1", "--judge-url", judge, "--results", str(results)]

    done = _run("reproduce", "--figure", "2", *common)
    assert "runs: 12 new, 0 reused" in done.stdout  # 2 models x 3 tasks x k in {0, 1}
    data = next((results / "work" / "data").iterdir())
    record = read_json(data / "data.json")
    assert sorted({s["dataset"] for s in record["sources"]}) == ["aya_dolly", "mcot_math", "mgsm", "sharegpt", "xlsum"]
    assert (results / "figures" / "figure2.png").is_file() and (results / "figures" / "figure2.csv").is_file()

    tests = {task: read_jsonl(data / task / "test.jsonl") for task in ("IF", "SM", "MR")}
    with duckdb.connect(str(results / "clt.duckdb"), read_only=True) as con:
        runs = con.execute("SELECT model, task, k, scale, spec->>'$.base', spec->>'$.judge.model', inputs->>'$.test.sha256'"
                           " FROM runs ORDER BY model, task, k").fetchall()
        assert [(m, t, k, s) for m, t, k, s, *_ in runs] == [(m, t, k, "paper") for m in ("35b", "7b") for t in ("IF", "MR", "SM") for k in (0, 1)]
        assert {r[4] for r in runs if r[0] == "7b"} == {str(small)} and {r[4] for r in runs if r[0] == "35b"} == {str(large)}
        assert {r[5] for r in runs if r[1] == "IF"} == {"gpt-4o"} and {r[5] for r in runs if r[1] != "IF"} == {None}
        assert {r[6] for r in runs if r[1] == "SM"} == {record["files"]["SM/test.jsonl"]}
        for task, items in tests.items():  # every test item scored once per run, by the task's rule
            counts = con.execute("SELECT count(*) FROM examples WHERE task = ? GROUP BY run_id", [task]).fetchall()
            assert counts == [(len(items),)] * 4
        rules = {r for (r,) in con.execute("SELECT DISTINCT rule FROM examples WHERE task = 'IF'").fetchall()}
        assert rules <= {"llm_judge", "language_switch", "empty"}
        # the 8-shot style prompts were given whole: every MGSM prompt holds its worked examples
        prompts = [p for (p,) in con.execute("SELECT prompt FROM examples WHERE task = 'MR'").fetchall()]
        assert prompts and all(p.count("\n\n") >= 2 for p in prompts)
        recipe = con.execute("SELECT DISTINCT CAST(spec->>'$.scale.sft.lr' AS DOUBLE), spec->>'$.scale.sft.batch',"
                             " spec->>'$.scale.english_train' FROM runs").fetchall()
        assert recipe == [(1e-05, "64", "2")]
        assert con.execute("SELECT count(*) FROM seen_unseen WHERE scale = 'paper'").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM validation_losses").fetchone()[0] >= 12
    judged = sum(1 for request in Stub.requests if request["model"] == "gpt-4o")
    assert judged > 0  # the stub rated the answers that were in the prompt's language

    # the same plan again: nothing trained; a table and the claims from the same runs
    done = _run("reproduce", "--table", "3", *common)
    assert "runs: 0 new, 2 reused" in done.stdout  # Table 3: the 35B IF runs of Figure 2
    assert (results / "tables" / "table3.md").is_file()
    claims = _run("claims", "--scale", "paper", "--results", str(results))
    assert "clt-kit (paper, seed 0)" in claims.stdout


def test_the_paper_sweep_refuses_open_ended_if_items_without_a_judge(tmp_path: Path) -> None:
    config = data_config(tmp_path / "data.yaml")
    done = subprocess.run([*CLI, "reproduce", "--figure", "2", "--scale", "paper", "--data", str(config), "--base", f"7b={tmp_path}",
                           "--base", f"35b={tmp_path}", "--english", "2", "--k", "0,1", "--results", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2 and "an LLM judge must rate them; pass --judge-url" in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "r" / "work" / "runs").exists()  # nothing trained


def test_a_real_base_folder_changed_after_planning_stops_its_run(tmp_path: Path) -> None:
    """A run's spec holds the sha256 of its base folder's files; a file changed since (a model
    saved again into the same folder) is named before anything trains on it."""
    from clt_kit import pipeline
    from clt_kit.integrity import CorruptArtifact
    from clt_kit.layout import Layout
    from clt_kit.scales import PAPER
    from clt_kit.sources import build_data, read_data_spec

    texts = [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "xlsum").glob("*.jsonl"))]
    base = foreign_model(texts, tmp_path / "small", context=1024)
    data = build_data(read_data_spec(data_config(tmp_path / "data.yaml")), tmp_path / "data")
    scale = dataclasses.replace(PAPER, bases={**PAPER.bases, "7b": str(base)}, english_train=2)
    layout = Layout(tmp_path / "results")
    plans = [p for p in pipeline.plan([study().figure(2)], scale, (0,)) if p.model == "7b" and p.task == "SM"]
    setup, runs = pipeline.prepare(plans, scale, 0, layout, progress=False, data=data)
    assert runs[0].spec["base"] == str(base) and len(runs[0].spec["base_sha256"]) == 64
    (base / "config.json").write_text((base / "config.json").read_text().replace("}", ', "note": 1}', 1))
    with pytest.raises(CorruptArtifact, match="its files changed since the sweep was planned"):
        pipeline.execute(runs[0], setup)
