"""Any transformers causal LM saved in a folder trains and evaluates (the paper scale's path):
here a GPT-2 model with a byte-level BPE tokenizer that has no padding token, unlike the kit's
own Llama models and tokenizer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clt_kit.jsonio import read_jsonl
from clt_kit.prep import MixtureSpec, build_mixture
from clt_kit.scales import SMOKE
from clt_kit.world import generate_world
from tests.foreign_models import foreign_model

pytestmark = pytest.mark.slow


def test_a_saved_gpt2_model_trains_and_evaluates_through_the_cli(tmp_path: Path) -> None:
    world = generate_world(tmp_path / "world", 0, SMOKE.world, SMOKE.name)
    build_mixture(MixtureSpec("SM", SMOKE.english_train, 4, 0), world.train("SM"), world.test("SM"), tmp_path / "mix", lenient=True)
    texts = [r["prompt"] + " " + r["response"] for r in read_jsonl(tmp_path / "mix" / "mixture.jsonl")]
    base = foreign_model(texts, tmp_path / "gpt2")

    cli = [sys.executable, "-m", "clt_kit.cli"]
    done = subprocess.run([*cli, "train", "--base", str(base), "--mixture", str(tmp_path / "mix"), "--scale", "smoke",
                           "--out", str(tmp_path / "tuned")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "best step" in done.stdout
    done = subprocess.run([*cli, "eval", "--model", str(tmp_path / "tuned"), "--test", str(world.test("SM")), "--task", "SM",
                           "--scale", "smoke", "--out", str(tmp_path / "rows.jsonl")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = read_jsonl(tmp_path / "rows.jsonl")
    assert len(rows) == sum(1 for _ in read_jsonl(world.test("SM")))
    assert all(0.0 <= r["score"] <= 1.0 and r["rule"] == "rougeL" for r in rows)


def test_the_paper_recipe_on_cpu_with_gradient_accumulation(tmp_path: Path) -> None:
    """`train --scale paper` on a tiny real-architecture model: the global batch of 64 by
    accumulation, sequence length from the data, bf16 asked for but fp32 on a CPU (and said so)."""
    world = generate_world(tmp_path / "world", 0, SMOKE.world, SMOKE.name)
    build_mixture(MixtureSpec("SM", SMOKE.english_train, 4, 0), world.train("SM"), world.test("SM"), tmp_path / "mix", lenient=True)
    records = read_jsonl(tmp_path / "mix" / "mixture.jsonl")
    base = foreign_model([r["prompt"] + " " + r["response"] for r in records], tmp_path / "gpt2")
    done = subprocess.run([sys.executable, "-m", "clt_kit.cli", "train", "--base", str(base), "--mixture", str(tmp_path / "mix"),
                           "--scale", "paper", "--steps", "2", "--micro-batch", "16", "--out", str(tmp_path / "tuned")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "tuned" / "sft.json").read_text())
    assert {k: record["recipe"][k] for k in ("steps", "global_batch", "micro_batch", "lr")} == {"steps": 2, "global_batch": 64, "micro_batch": 16, "lr": 1e-5}
    assert record["recipe"]["seq_len"] <= 256 and record["determinism"]["mixed_precision"] == "fp32" == record["recipe"]["precision"]
    assert "2 steps of 64 examples (micro-batches of 16)" in done.stdout
    # the losses went to accelerate's TensorBoard tracker: event files TensorBoard reads
    scalars = _tensorboard_scalars(tmp_path / "tuned" / "logs")
    assert [step for step, _ in scalars["train_loss"]] == [1, 2]
    assert {step: pytest.approx(v, rel=1e-6) for step, v in scalars["validation_loss"]} == {int(k): v for k, v in record["validation_losses"].items()}


def _tensorboard_scalars(logs: Path) -> dict[str, list[tuple[int, float]]]:
    """The scalars of the TensorBoard event files under `logs` (records: length, its CRC, an Event, its CRC)."""
    import struct

    from tensorboardX.proto import event_pb2

    found: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(logs.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at : at + 8])
            event = event_pb2.Event.FromString(data[at + 12 : at + 12 + length])
            at += 12 + length + 4
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, value.simple_value))
    return found


def test_a_run_made_with_train_and_eval_is_ingested_into_duckdb(tmp_path: Path) -> None:
    """The paper scale's piecewise path: train, eval, then `ingest` makes a run folder and loads
    it, so that the views (and so every figure, table and claim) read it like a sweep's run."""
    import duckdb

    world = generate_world(tmp_path / "world", 0, SMOKE.world, SMOKE.name)
    build_mixture(MixtureSpec("SM", SMOKE.english_train, 4, 0), world.train("SM"), world.test("SM"), tmp_path / "mix", lenient=True)
    base = foreign_model([r["prompt"] + " " + r["response"] for r in read_jsonl(tmp_path / "mix" / "mixture.jsonl")], tmp_path / "gpt2")
    cli = [sys.executable, "-m", "clt_kit.cli"]
    for args in (["train", "--base", str(base), "--mixture", str(tmp_path / "mix"), "--scale", "smoke", "--steps", "10",
                  "--model-name", "8b", "--out", str(tmp_path / "tuned")],
                 ["eval", "--model", str(tmp_path / "tuned"), "--test", str(world.test("SM")), "--task", "SM", "--scale", "smoke"],
                 ["ingest", str(tmp_path / "tuned"), "--results", str(tmp_path / "results")],
                 ["ingest", str(tmp_path / "tuned"), "--results", str(tmp_path / "results")]):
        done = subprocess.run([*cli, *args], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    assert "runs: 0 loaded, 1 already in" in done.stdout  # the second ingest: the same run, stored once
    rows = read_jsonl(tmp_path / "tuned" / "eval" / "SM.jsonl")
    with duckdb.connect(str(tmp_path / "results" / "clt.duckdb"), read_only=True) as con:
        run = con.execute("SELECT model, task, k, setting, mixture, scale FROM runs").fetchall()
        assert run == [("8b", "SM", 4, "single", "all", "smoke")]
        assert con.execute("SELECT count(*) FROM examples").fetchone()[0] == len(rows)
        means = dict(con.execute("SELECT lang, score FROM metrics WHERE task = 'SM'").fetchall())
        assert means["en"] == pytest.approx(sum(r["score"] for r in rows if r["lang"] == "en") / sum(r["lang"] == "en" for r in rows))
        assert con.execute("SELECT count(*) FROM rel_to_english WHERE model = '8b'").fetchone()[0] == 1
