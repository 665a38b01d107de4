"""Joint (multi-task) mixtures (prep/joint.py): the union of the tasks' nested samples in one
folder with one manifest, nested across k, and checked by `verify` like every other mixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clt_kit.jsonio import InputError, read_json, read_jsonl, write_json
from clt_kit.prep import MixtureSpec, build_mixture
from clt_kit.prep.joint import JOINT_KIND, JointSpec, build_joint_mixture, part_dir
from clt_kit.study import TASKS
from clt_kit.verify import Report, verify_path

SEEN = ("es", "fr", "ja", "zh")


def _build(world: Path, out: Path, k: int, english: int = 8) -> dict:
    spec = JointSpec("multi", TASKS, english, k, 1, SEEN)
    return build_joint_mixture(spec, {t: world / t / "train.jsonl" for t in TASKS}, {t: world / t / "test.jsonl" for t in TASKS},
                               out, lenient=True)


@pytest.fixture
def world(smoke_world, tmp_path: Path) -> Path:
    shutil.copytree(smoke_world.root, tmp_path / "world")
    return tmp_path / "world"


def test_a_joint_mixture_is_the_union_of_the_single_task_samples(world: Path, tmp_path: Path) -> None:
    manifest = _build(world, tmp_path / "multi-k4", 4)
    assert manifest["kind"] == JOINT_KIND and manifest["spec"]["tasks"] == list(TASKS)
    joint = read_jsonl(tmp_path / "multi-k4" / "mixture.jsonl")
    for task in TASKS:  # each task's part is exactly the single-task mixture of the same sizes and seed
        build_mixture(MixtureSpec(task, 8, 4, 1, SEEN), world / task / "train.jsonl", world / task / "test.jsonl",
                      tmp_path / f"single-{task}", lenient=True)
        single = read_jsonl(tmp_path / f"single-{task}" / "mixture.jsonl")
        assert [r for r in joint if r["task"] == task] == single
        assert manifest["counts"][task] == {"en": 8, **dict.fromkeys(SEEN, 4)}
    assert len(joint) == len(TASKS) * (8 + 4 * len(SEEN))


def test_a_joint_mixture_is_nested_in_k_task_by_task_and_language_by_language(world: Path, tmp_path: Path) -> None:
    _build(world, tmp_path / "k4", 4)
    _build(world, tmp_path / "k8", 8)
    small, large = read_jsonl(tmp_path / "k4" / "mixture.jsonl"), read_jsonl(tmp_path / "k8" / "mixture.jsonl")
    assert {r["id"] for r in small} < {r["id"] for r in large}


def test_verify_checks_the_joint_manifest_and_rebuilds_each_part(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "multi-k4"
    _build(world, out, 4)
    assert verify_path(out) == Report(checked=1 + len(TASKS))

    # a changed byte of the union is named as a changed file
    text = (out / "mixture.jsonl").read_text()
    (out / "mixture.jsonl").write_text(text.replace('"lang":"es"', '"lang":"fr"', 1))
    report = verify_path(out)
    assert any(f"{out / 'mixture.jsonl'}: sha256" in p for p in report.problems), report.problems
    (out / "mixture.jsonl").write_text(text)

    # an edited count of the joint manifest: joining the parts again says which field
    manifest = read_json(out / "manifest.json")
    manifest["counts"]["SM"]["es"] = 5
    write_json(out / "manifest.json", manifest)
    report = verify_path(out)
    assert any("joining its parts again gives counts" in p for p in report.problems), report.problems


def test_a_part_rewritten_with_its_hashes_is_caught_by_its_rebuild(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "multi-k4"
    _build(world, out, 4)
    part = part_dir(out, "MR")
    manifest = read_json(part / "manifest.json")
    manifest["counts"]["en"]["kept"] += 1  # a part manifest edited (its hash in the joint record no longer matches)
    write_json(part / "manifest.json", manifest)
    problems = verify_path(out).problems
    assert any(str(part / "manifest.json") in p and "sha256" in p for p in problems), problems
    assert any(str(part / "manifest.json") in p and "rebuilt counts differs" in p for p in problems), problems


def test_a_joint_mixture_needs_every_tasks_pool(world: Path, tmp_path: Path) -> None:
    spec = JointSpec("multi", TASKS, 8, 4, 1, SEEN)
    with pytest.raises(InputError, match="no pool or test set given for SM"):
        build_joint_mixture(spec, {t: world / t / "train.jsonl" for t in ("IF", "MR")}, {t: world / t / "test.jsonl" for t in TASKS},
                            tmp_path / "m")
    with pytest.raises(ValueError, match="distinct tasks"):
        JointSpec("multi", ("IF", "IF"), 8, 4, 1, SEEN)
