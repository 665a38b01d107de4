"""Reliability: every cached artifact checked before a run uses it, finished runs kept through a
database held open by a reader, and the run's record of what it read."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from clt_kit import pipeline
from clt_kit.cli import main
from clt_kit.integrity import CorruptArtifact, hash_files
from clt_kit.jsonio import read_json
from clt_kit.pipeline import Layout, PreparedRun, RunPlan, Setup, prepare
from clt_kit.prep.core import sha256_file
from clt_kit.results import db, runs as run_store
from clt_kit.scales import SMOKE
from clt_kit.train.pretrain import stored_weights_hash
from clt_kit.world.generate import WorldPaths

SEED = 1
PLAN = RunPlan("7b", "single", "all", "SM", 0)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder with one smoke run's inputs made (world, mixture, base model)."""
    results = tmp_path_factory.mktemp("made")
    prepare([PLAN], SMOKE, SEED, Layout(results), progress=False)
    return results


def _prepared(made: Path, tmp_path: Path) -> tuple[Layout, WorldPaths, PreparedRun]:
    """A private copy of `made`, prepared again (everything reused from the cache)."""
    shutil.copytree(made, tmp_path / "r")
    layout = Layout(tmp_path / "r")
    setup, runs = prepare([PLAN], SMOKE, SEED, layout, progress=False)
    return layout, setup.world, runs[0]


def _flip(path: Path, at: int = 40) -> None:
    data = bytearray(path.read_bytes())
    data[min(at, len(data) - 1)] ^= 0x01
    path.write_bytes(bytes(data))


def _execute(layout: Layout, world: WorldPaths, run: PreparedRun) -> db.RunRecord:
    return pipeline.execute(run, Setup(world, SMOKE, SEED))


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "tokenizer.json", "generation_config.json"])
def test_a_changed_file_of_the_cached_base_stops_the_run_before_training(made: Path, tmp_path: Path, name: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    layout, world, run = _prepared(made, tmp_path)
    _flip(run.base / name)
    trained = []
    monkeypatch.setattr(pipeline, "sft", lambda *a, **k: trained.append(a))
    with pytest.raises(CorruptArtifact, match=rf"{run.base / name}: sha256 .* records"):
        _execute(layout, world, run)
    assert trained == []  # nothing was trained on the damaged copy


def test_a_damaged_cached_base_is_made_again_not_reused(made: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    layout, world, run = _prepared(made, tmp_path)
    recorded = read_json(run.base / "base.json")
    _flip(run.base / "model.safetensors")
    with caplog.at_level(logging.WARNING, logger="clt_kit"):
        _, again = prepare([PLAN], SMOKE, SEED, layout, progress=False)
    assert again[0].base == run.base
    assert "model.safetensors" in caplog.text and "making it again" in caplog.text
    assert stored_weights_hash(run.base) == recorded["weights_sha256"]
    assert hash_files(run.base, sorted(recorded["files"])) == recorded["files"]


def test_a_cached_base_from_an_earlier_kit_is_made_again(made: Path, tmp_path: Path) -> None:
    """A record without file hashes cannot be checked, so it is not reused as it is."""
    from clt_kit.jsonio import write_json

    layout, world, run = _prepared(made, tmp_path)
    record = read_json(run.base / "base.json")
    write_json(run.base / "base.json", {k: v for k, v in record.items() if k != "files"})
    _, again = prepare([PLAN], SMOKE, SEED, layout, progress=False)
    assert read_json(again[0].base / "base.json")["files"] == record["files"]


@pytest.mark.parametrize("target", ["mixture", "test"])
def test_a_changed_mixture_or_test_set_stops_the_run(made: Path, tmp_path: Path, target: str) -> None:
    layout, world, run = _prepared(made, tmp_path)
    path = run.mixture / "mixture.jsonl" if target == "mixture" else world.test(PLAN.task)
    _flip(path)
    with pytest.raises(CorruptArtifact, match=str(path)):
        _execute(layout, world, run)


def test_a_world_with_a_changed_file_is_made_again(made: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    layout, world, _ = _prepared(made, tmp_path)
    original = world.corpus.read_bytes()
    _flip(world.corpus)
    with caplog.at_level(logging.WARNING, logger="clt_kit"):
        prepare([PLAN], SMOKE, SEED, layout, progress=False)
    assert "corpus.jsonl" in caplog.text and world.corpus.read_bytes() == original


def _hold(db_path: Path) -> subprocess.Popen:
    """Another process holding the database open for writing, as a duckdb shell left open does."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(120)"
    ), str(db_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_reader_holding_the_database_costs_no_trained_run(made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    layout, world, run = _prepared(made, tmp_path)
    with db.connect(layout.db):
        pass
    monkeypatch.setattr(pipeline, "INGEST_WAIT_SECONDS", 0.2)
    holder = _hold(layout.db)
    try:
        with caplog.at_level(logging.WARNING, logger="clt_kit"):
            assert pipeline._claim_and_execute(run, Setup(world, SMOKE, SEED), layout, wait=False) is True
        assert f"PID {holder.pid}" in caplog.text and "kept in" in caplog.text
        assert run_store.is_finished(layout.run_dir(run.run_id))
        assert pipeline.missing([run], layout) == []  # finished: never trained again
        with pytest.raises(db.DatabaseLocked, match=rf"PID {holder.pid}.*Nothing is lost"):
            pipeline.ingest_finished(layout, wait=0.2)
    finally:
        holder.kill()
        holder.wait()
    result = CliRunner().invoke(main, ["ingest", "--results", str(layout.results)])
    assert result.exit_code == 0, result.output
    assert "runs: 1 loaded, 0 already" in result.output
    assert "runs: 0 loaded, 1 already" in CliRunner().invoke(main, ["ingest", "--results", str(layout.results)]).output
    stored = run_store.load_run(layout.run_dir(run.run_id))
    with db.connect(layout.db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM examples WHERE run_id = ?", [run.run_id]).fetchone()[0] == len(stored.examples)
        inputs = con.execute("SELECT inputs->>'$.test.sha256' FROM runs WHERE run_id = ?", [run.run_id]).fetchone()[0]
    assert inputs == sha256_file(str(world.test(PLAN.task)))

    # A run folder damaged since it was written is named and not loaded.
    other = layout.runs / "0000000000000000"
    shutil.copytree(layout.run_dir(run.run_id), other)
    _flip(other / "examples.jsonl", at=100)
    result = CliRunner().invoke(main, ["ingest", "--results", str(layout.results)])
    assert result.exit_code == 1 and "1 damaged" in result.output


def test_a_run_records_the_hashes_of_what_it_read(made: Path, tmp_path: Path) -> None:
    layout, world, run = _prepared(made, tmp_path)
    record = _execute(layout, world, run)
    base = read_json(run.base / "base.json")
    assert record.run["base_weights_sha256"] == stored_weights_hash(run.base) == base["weights_sha256"]
    inputs = record.run["inputs"]
    assert inputs["base"]["files"] == base["files"] == hash_files(run.base, sorted(base["files"]))
    manifest = read_json(run.mixture / "manifest.json")
    assert inputs["mixture"]["files"] == {e["path"]: e["sha256"] for e in manifest["outputs"].values()}
    assert inputs["mixture"]["files"]["mixture.jsonl"] == sha256_file(str(run.mixture / "mixture.jsonl"))
    assert inputs["test"]["sha256"] == sha256_file(str(world.test(PLAN.task)))


def test_hash_stamps_never_hide_a_changed_file(tmp_path: Path) -> None:
    """A remembered hash is reused only for a file not written since: a write that keeps the size
    and even the mtime (set back by hand) is still hashed again."""
    import os

    path = tmp_path / "weights.bin"
    path.write_bytes(b"a" * 1000)
    first = hash_files(tmp_path)["weights.bin"]
    st = path.stat()
    path.write_bytes(b"b" * 1000)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert hash_files(tmp_path)["weights.bin"] == sha256_file(str(path)) != first


def test_train_refuses_a_changed_base_or_mixture(made: Path, tmp_path: Path) -> None:
    layout, world, run = _prepared(made, tmp_path)
    for target in (run.base / "tokenizer_config.json", run.mixture / "mixture.jsonl"):
        original = target.read_bytes()
        _flip(target)
        result = CliRunner().invoke(main, ["train", "--base", str(run.base), "--mixture", str(run.mixture), "--scale", "smoke",
                                           "--out", str(tmp_path / "out")])
        assert result.exit_code == 2 and f"{target}: sha256" in result.output, result.output
        assert not (tmp_path / "out").exists()
        target.write_bytes(original)


def test_a_damaged_run_folder_is_moved_aside_and_the_run_made_again(made: Path, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Not left out of the figures in silence: the damaged folder is kept under work/damaged/ for
    inspection, the command says so, and the run is executed and loaded again."""
    layout, world, run = _prepared(made, tmp_path)
    setup = Setup(world, SMOKE, SEED)
    assert pipeline._claim_and_execute(run, setup, layout, wait=False) is True
    good = (layout.run_dir(run.run_id) / "examples.jsonl").read_bytes()
    _flip(layout.run_dir(run.run_id) / "examples.jsonl", at=100)
    with caplog.at_level(logging.WARNING, logger="clt_kit"):
        assert [r.run_id for r in pipeline.missing([run], layout)] == [run.run_id]
    aside = list(layout.damaged.iterdir())
    assert len(aside) == 1 and aside[0].name.startswith(f"{run.run_id}-") and (aside[0] / "run.json").is_file()
    assert f"run {run.run_id}: its folder is damaged" in caplog.text and str(aside[0]) in caplog.text
    assert not layout.run_dir(run.run_id).exists()
    assert pipeline._claim_and_execute(run, setup, layout, wait=False) is True
    assert (layout.run_dir(run.run_id) / "examples.jsonl").read_bytes() == good
    assert pipeline.missing([run], layout) == [] and list(layout.damaged.iterdir()) == aside
