"""`clt-kit verify` misses nothing: every file of a folder (none missing, none extra), every
manifest field that determines the output, unchecked fields named, and no input makes it print
a traceback; a bad manifest is one problem and the other folders are still checked."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clt_kit.jsonio import read_json, write_json, write_jsonl
from clt_kit.prep import MixtureSpec, build_mixture
from clt_kit.train.pretrain import BUNDLED
from clt_kit.verify import Report, verify_path

BASE = sorted(p.parent for p in BUNDLED.glob("*/base.json"))[0]


@pytest.fixture
def mixture(smoke_world, tmp_path: Path) -> Path:
    """A mixture of a private copy of the smoke world (the manifest names its pool relative to it)."""
    shutil.copytree(smoke_world.root, tmp_path / "world")
    out = tmp_path / "mix"
    build_mixture(MixtureSpec("MR", 16, 4, 1), tmp_path / "world/MR/train.jsonl", tmp_path / "world/MR/test.jsonl", out, lenient=True)
    assert verify_path(out) == Report(checked=1)
    return out


def _edit(path: Path, *keys: str, value: object) -> None:
    record = read_json(path)
    target = record
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    write_json(path, record)


def test_extra_and_missing_files_of_a_mixture_are_named(mixture: Path) -> None:
    (mixture / "notes.txt").write_text("mine", encoding="utf-8")
    problems = verify_path(mixture).problems
    assert any(f"{mixture / 'notes.txt'}: a file the mixture does not record" in p for p in problems), problems
    (mixture / "notes.txt").unlink()
    (mixture / "dropped.jsonl").unlink()
    problems = verify_path(mixture).problems
    assert any(f"{mixture / 'dropped.jsonl'}" in p and "missing" in p for p in problems), problems


@pytest.mark.parametrize("keys, value", [
    (("parameters", "sample_stage"), "another-stage"),
    (("parameters", "decontamination"), False),
    (("parameters", "clean", "near", "threshold"), 0.3),
    (("parameters", "clean", "language_filter"), False),
    (("kit_version",), "0.0.1"),
    (("prep_core_version",), "0.0.1"),
    (("spec", "task"), "IF"),
    (("spec", "seed"), 7),
    (("lenient",), False),
    (("records", "read"), 1),
    (("unknown_field",), 1),
])
def test_every_field_that_determines_the_output_is_checked(mixture: Path, keys: tuple[str, ...], value: object) -> None:
    _edit(mixture / "manifest.json", *keys, value=value)
    report = verify_path(mixture)
    assert report.problems, f"an edited {'.'.join(keys)} passed verify"
    assert all(str(mixture / "manifest.json") in p for p in report.problems), report.problems


def test_out_of_range_parameters_are_a_problem_not_a_crash(mixture: Path) -> None:
    _edit(mixture / "manifest.json", "parameters", "clean", "near", "threshold", value=1.5)
    problems = verify_path(mixture).problems
    assert any("out of range" in p and "threshold 1.5" in p for p in problems), problems


def test_a_pool_without_task_fields_leaves_the_task_unchecked(smoke_world, tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "task"} for r in map(json.loads, smoke_world.test("SM").read_text().splitlines())]
    write_jsonl(tmp_path / "pool.jsonl", rows)
    build_mixture(MixtureSpec("SM", 2, 1, 0), tmp_path / "pool.jsonl", None, tmp_path / "m")
    report = verify_path(tmp_path / "m")
    assert report.problems == []
    assert len(report.unchecked) == 1 and "spec.task" in report.unchecked[0] and f"{len(rows)} of the pool's records" in report.unchecked[0]


def test_every_file_of_a_base_model_is_checked(tmp_path: Path) -> None:
    for name in ("config.json", "generation_config.json", "tokenizer_config.json", "tokenizer.json", "model.safetensors"):
        base = tmp_path / name
        shutil.copytree(BASE, base)
        path = base / name
        path.write_bytes(path.read_bytes().replace(b"{", b"{ ", 1) if name.endswith(".json") else path.read_bytes()[:-1] + b"\x00")
        problems = verify_path(base / "base.json").problems  # no rebuild: the changed file is reported first
        assert any(str(path) in p and "sha256" in p for p in problems), problems
    base = tmp_path / "extra"
    shutil.copytree(BASE, base)
    (base / "adapter.bin").write_bytes(b"x")
    (base / "tokenizer.json").unlink()
    problems = verify_path(base / "base.json").problems
    assert any("adapter.bin: a file the base model does not record" in p for p in problems), problems
    assert any("tokenizer.json: a file of the base model is missing" in p for p in problems), problems


def test_extra_files_of_a_world_are_named(smoke_world, tmp_path: Path) -> None:
    shutil.copytree(smoke_world.root, tmp_path / "w")
    (tmp_path / "w" / "MR" / "extra.jsonl").write_text("{}\n", encoding="utf-8")
    problems = verify_path(tmp_path / "w").problems
    assert problems == [f"{tmp_path / 'w' / 'MR' / 'extra.jsonl'}: a file the world does not record"]


def _bad_folders(root: Path, mixture: Path) -> dict[str, Path]:
    """Folders that once made verify print a traceback, each with one kind of damage."""
    bad = {}
    for name, text in {"array": "[1, 2]", "truncated": '{"kind": "clt-kit mixture", "form', "null": "null",
                       "wrong types": '{"kind": "clt-kit mixture", "format": 3, "outputs": [1], "inputs": 5, "spec": "x"}'}.items():
        (root / name).mkdir()
        (root / name / "manifest.json").write_text(text, encoding="utf-8")
        bad[name] = root / name / "manifest.json"
    header = root / "header"  # a base model recorded before file hashes, with a damaged safetensors header
    shutil.copytree(BASE, header)
    record = read_json(header / "base.json")
    write_json(header / "base.json", {k: v for k, v in record.items() if k != "files"})
    (header / "model.safetensors").write_bytes(b"\xff" * 8 + b"not a header")
    bad["header"] = header / "base.json"
    cut = root / "cut"
    shutil.copytree(BASE, cut)
    write_json(cut / "base.json", {k: v for k, v in record.items() if k != "files"})
    (cut / "model.safetensors").write_bytes((BASE / "model.safetensors").read_bytes()[:1000])
    bad["cut"] = cut / "base.json"
    good = root / "zz-good"
    shutil.copytree(mixture.parent / "world", root / "world")
    build_mixture(MixtureSpec("MR", 16, 4, 1), root / "world/MR/train.jsonl", root / "world/MR/test.jsonl", good, lenient=True)
    return bad


def test_no_input_makes_verify_print_a_traceback(mixture: Path, tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    bad = _bad_folders(root, mixture)
    done = subprocess.run([sys.executable, "-m", "clt_kit.cli", "verify", str(root)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    problems = [line for line in done.stderr.splitlines() if line.startswith("problem: ")]
    for name, path in bad.items():
        assert sum(str(path) in line for line in problems) >= 1, (name, problems)
    assert not any("zz-good" in line for line in problems)  # checked too, and clean
    assert "manifest(s)" in done.stderr.splitlines()[-1]


def _forge_stamps(folder: Path, name: str, old_sha: str, sealed: bool) -> None:
    """Rewrites a folder's stamp memory so that `name`'s present stamp maps to `old_sha`: by hand
    (an unsealed entry, as an earlier kit wrote them), or sealed with this user's own key."""
    from clt_kit import integrity

    stamps = json.loads((folder / integrity.STAMPS).read_text(encoding="utf-8"))
    st = (folder / name).stat()
    if sealed:
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino]
        key = integrity._stamp_key(integrity.stamp_key_path())
        stamps[name] = [stamp, old_sha, integrity._seal(key, name, stamp, old_sha)]
    else:
        stamps[name] = [[st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino], old_sha]
    (folder / integrity.STAMPS).write_text(json.dumps(stamps), encoding="utf-8")


@pytest.mark.parametrize("sealed", [False, True], ids=["by-hand", "sealed-with-the-users-key"])
def test_verify_hashes_every_file_in_full_whatever_the_stamp_memory_says(mixture: Path, sealed: bool) -> None:
    """A stamp memory rewritten to map an edited mixture's new stamp to its old hash fools nothing
    verify checks: it reads every file, even where the entry is sealed with the user's own key."""
    from clt_kit.integrity import hash_files

    old = hash_files(mixture)["mixture.jsonl"]  # a run's pre-flight check remembers it
    with (mixture / "mixture.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"id": "forged"}\n')
    _forge_stamps(mixture, "mixture.jsonl", old, sealed)
    problems = verify_path(mixture).problems
    assert any(str(mixture / "mixture.jsonl") in p and "sha256" in p for p in problems), problems
