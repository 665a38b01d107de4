"""The commands that only read or check (help, sql, status, claims, verify of data, ingest) start
without the training stack: none of torch, transformers, matplotlib, accelerate or datasets is
imported, so they answer in about a second instead of the 15 s those take to import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from clt_kit.cli import main
from clt_kit.languages import PAPER_LANGUAGES
from clt_kit.results import db
from tests.stored_runs import store_run

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "matplotlib", "accelerate", "datasets")
# Runs each command in turn in one fresh interpreter, and prints, for each, its exit code and the
# heavy modules it was the first to import.
PROBE = """
import json, sys
from click.testing import CliRunner
from clt_kit.cli import main
heavy, out = {heavy!r}, []
for args in json.loads(sys.argv[1]):
    before = {{m for m in heavy if m in sys.modules}}
    result = CliRunner().invoke(main, args)
    out.append({{"args": args, "exit": result.exit_code, "output": result.output,
                "imported": sorted(m for m in heavy if m in sys.modules and m not in before)}})
print(json.dumps(out))
"""


def _imports(commands: list[list[str]]) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "python"), str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), json.dumps(commands)], capture_output=True,
                          text=True, env=env, check=True)
    return json.loads(done.stdout)


def test_commands_that_only_read_import_no_training_stack(tmp_path: Path, smoke_world) -> None:
    results = tmp_path / "results"
    with db.connect(results / "clt.duckdb") as con:
        store_run(con, "a", {lang: 1.0 for lang in PAPER_LANGUAGES})
    (results / "work" / "jobs" / "b").mkdir(parents=True)
    (results / "work" / "jobs" / "b" / "job.json").write_text("{}", encoding="utf-8")  # a run submitted to no queue yet
    mixture, at = tmp_path / "mixture", ["--results", str(results)]
    commands = [["--help"], *([name, "--help"] for name in sorted(main.commands)), ["sql", "SELECT count(*) AS n FROM runs", *at],
                ["status", *at], ["claims", "--scale", "smoke", "--seed", "1", *at],
                ["prep", "--task", "SM", "--pool", str(smoke_world.train("SM")), "--test", str(smoke_world.test("SM")), "--english", "10",
                 "--k", "3", "--seed", "1", "--out", str(mixture), "--lenient"],
                ["verify", str(mixture), *at], ["verify", str(smoke_world.manifest), *at], ["ingest", *at],
                ["reproduce", "--figure", "2", "--scale", "smoke", "--dry-run", *at], ["advise", "--paper", "--group", "non_english", *at],
                ["ingest", str(tmp_path), *at]]
    found = _imports(commands)
    assert [(r["args"], r["imported"]) for r in found if r["imported"]] == []
    assert [(r["args"], r["output"]) for r in found[:-1] if r["exit"] != 0] == []
    sql, status, claims, _, *verified, ingest, plan, advice, not_trained = found[len(main.commands) + 1:]
    assert sql["output"] == "n\n1\n"
    assert status["output"] == f"not submitted: run b\nruns in {results}: 0 finished, 0 running, 0 queued, 0 failed\n"
    assert "clt-kit (smoke, seed 1): " in claims["output"]
    assert [r["output"] for r in verified] == ["verified 1 manifest(s): files, inputs, outputs and rebuild match\n"] * 2
    assert ingest["output"].startswith("runs: 0 loaded") and plan["output"].startswith("model  base")
    assert advice["output"].startswith("the paper's numbers: 90% of the gain")
    assert not_trained["exit"] == 2 and not_trained["output"] == f"error: {tmp_path}: no sft.json; give a folder written by `clt-kit train --out`\n"


def test_the_probe_sees_a_command_that_imports_the_training_stack() -> None:
    """The check above can fail: `train` imports torch as soon as it starts."""
    found = _imports([["train", "--base", "nowhere", "--mixture", str(ROOT / "tests"), "--out", "nowhere"]])
    assert "torch" in found[0]["imported"], found
