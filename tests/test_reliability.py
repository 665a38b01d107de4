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
from clt_kit.layout import Layout
from clt_kit.pipeline import PreparedRun, RunPlan, Setup, prepare
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
            run_store.ingest_finished(layout, wait=0.2)
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


def test_a_forged_stamp_memory_does_not_hide_an_edited_file(made: Path, tmp_path: Path) -> None:
    """The stamp memory of a folder rewritten by hand (an edited mixture's new stamp mapped to its
    old hash, or another file's entry copied over it) is not trusted: the run's pre-flight check
    hashes the file again and refuses the mixture."""
    import json

    from clt_kit.integrity import STAMPS
    from clt_kit.prep.mixture import mixture_problems

    _, _, run = _prepared(made, tmp_path)
    target = run.mixture / "mixture.jsonl"
    old = hash_files(run.mixture)["mixture.jsonl"]
    assert mixture_problems(run.mixture) == []
    with target.open("a", encoding="utf-8") as f:
        f.write('{"id": "forged"}\n')
    st = target.stat()
    stamps = json.loads((run.mixture / STAMPS).read_text(encoding="utf-8"))
    for forged in ([[st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino], old],  # as an earlier kit remembered it
                   [[st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino], old, stamps["mixture.jsonl"][-1]],  # an old seal
                   [[st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino], old, stamps["dropped.jsonl"][-1]]):  # another file's
        (run.mixture / STAMPS).write_text(json.dumps({**stamps, "mixture.jsonl": forged}), encoding="utf-8")
        assert hash_files(run.mixture, ["mixture.jsonl"])["mixture.jsonl"] == sha256_file(str(target)) != old
        (run.mixture / STAMPS).write_text(json.dumps({**stamps, "mixture.jsonl": forged}), encoding="utf-8")
        problems = mixture_problems(run.mixture)
        assert any(str(target) in p and "changed" in p for p in problems), problems


@pytest.fixture(scope="module")
def finished(made: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run folder of the smoke run (its inputs left in `made`)."""
    layout, world, run = _prepared(made, tmp_path_factory.mktemp("finished"))
    run_store.save_run(_execute(layout, world, run), layout.run_dir(run.run_id))
    return layout.run_dir(run.run_id)


def _leaves(value: object, path: tuple = ()) -> list[tuple]:
    """Every scalar of a JSON value, as the path of keys and indices to it (lists: their first item)."""
    if isinstance(value, dict):
        return [leaf for key in sorted(value) for leaf in _leaves(value[key], (*path, key))] or [path]
    if isinstance(value, list):
        return _leaves(value[0], (*path, 0)) if value else [path]
    return [path]


def _changed(value: object) -> object:
    if isinstance(value, bool) or value is None:
        return not value
    if isinstance(value, (int, float)):
        return 0 if value else 1
    if isinstance(value, str):
        return "0" * len(value) if value.strip("0") else "1"
    return [1] if value == [] else {"x": 1}


def _copy_run(finished: Path, tmp_path: Path) -> Path:
    shutil.copytree(finished, tmp_path / "runs" / finished.name)
    return tmp_path / "runs" / finished.name


def _run_refused(run_dir: Path) -> list[str]:
    """The problems `ingest` names in a run folder (it loads none of it) and those verify names."""
    from clt_kit.verify import verify_path

    done = run_store.ingest(run_dir.parent.parent / "clt.duckdb", [run_dir])
    assert done.loaded == [] and len(done.damaged) == 1, done
    problems = verify_path(run_dir).problems
    assert problems, "verify passed it"
    return problems


def test_every_field_of_a_run_record_is_covered(finished: Path, tmp_path: Path) -> None:
    """Any field of run.json changed (every scalar of it: spec, outcome, inputs, the kept manifest,
    checkpoint rows, file hashes, the seal) makes ingest refuse the folder and verify name it."""
    import json

    record = json.loads((finished / "run.json").read_text(encoding="utf-8"))
    leaves = _leaves(record)
    assert len(leaves) > 100 and ("run", "k") in leaves and ("run", "weights_sha256") in leaves
    for i, leaf in enumerate(leaves):
        run_dir = _copy_run(finished, tmp_path / str(i))
        edited = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        target = edited
        for key in leaf[:-1]:
            target = target[key]
        target[leaf[-1]] = _changed(target[leaf[-1]])
        (run_dir / "run.json").write_text(json.dumps(edited), encoding="utf-8")
        with pytest.raises(CorruptArtifact):
            run_store.load_run(run_dir)  # what ingest loads (the whole ingest: test_a_forged_k_...)


def test_a_forged_k_is_caught_even_with_its_id_and_seal_recomputed(finished: Path, tmp_path: Path) -> None:
    """The example forgery: k changed and the weights hash zeroed, then every hash a forger can
    recompute recomputed (the id, the folder's name, the seal), or the seal dropped: the mixture
    manifest the id covers still says the old k, and a record of this kit without a seal is refused."""
    from clt_kit.jsonio import write_json
    from clt_kit.results.runs import SEAL, _seal, run_id

    record = read_json(finished / "run.json")
    run = {**record["run"], "k": 8, "weights_sha256": "0" * 64}
    run["spec"] = {**run["spec"], "k": 8}
    run["run_id"] = run_id(run["spec"])
    forged = {key: value for key, value in record.items() if key != SEAL} | {"run": run}
    for name, stored in {"resealed": {**forged, SEAL: _seal(forged)}, "unsealed": forged}.items():
        run_dir = tmp_path / name / "runs" / run["run_id"]
        shutil.copytree(finished, run_dir)
        write_json(run_dir / "run.json", stored)
        problems = _run_refused(run_dir)
        assert any("k 8" in p and "has k 0" in p for p in problems), problems
    plain = _copy_run(finished, tmp_path / "plain")
    write_json(plain / "run.json", {**record, "run": {**record["run"], "k": 8}})
    assert any("run.k is 8" in p for p in _run_refused(plain))


def test_verify_accepts_a_run_folder_and_names_what_it_cannot_check(finished: Path, tmp_path: Path) -> None:
    from clt_kit.verify import verify_path

    report = verify_path(finished)
    assert report.checked == 1 and report.problems == [] and any("outcome" in u for u in report.unchecked), report
    result = CliRunner().invoke(main, ["verify", str(finished)])
    assert result.exit_code == 0 and "verified 1 manifest(s)" in result.output, result.output
    (_copy_run(finished, tmp_path) / "notes.txt").write_text("mine", encoding="utf-8")
    assert any("notes.txt: a file the run does not record" in p for p in _run_refused(tmp_path / "runs" / finished.name))
    mixture = Path(read_json(finished / "run.json")["run"]["inputs"]["mixture"]["path"]) / "manifest.json"
    original = mixture.read_bytes()
    try:
        mixture.write_bytes(original + b" ")
        assert any(str(mixture) in p and "the run read" in p for p in verify_path(finished).problems)
    finally:
        mixture.write_bytes(original)


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
