"""A joint (multi-task) mixture: the single-task mixtures of several tasks, trained on as one.

Each part is an ordinary mixture of one task (prep/mixture.py: cleaned, decontaminated against
that task's test set, nested sample of `english` English items and `k` per seen language), built
inside the joint folder, and the joint mixture is their union, task by task:

    manifest.json       kind "clt-kit joint mixture": the spec, the hash of every part's
                        manifest, every file of the folder with its sha256, counts per task and
                        language, the fingerprint of the whole set
    mixture.jsonl       the parts' mixture.jsonl, one after another in the spec's task order
    parts/<task>/       each part's own folder (manifest.json, mixture.jsonl, dropped.jsonl)

Since every part is nested in k, so is the joint mixture (its k=100 set is a subset of its k=200
set, task by task and language by language). `clt-kit verify` rebuilds each part from its own
manifest and checks that the joint files are exactly the union of the parts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clt_kit import __version__
from clt_kit.jsonio import InputError, publish_dir, read_json, write_json, write_text_atomic
from clt_kit.prep import core
from clt_kit.prep.clean import CleanParams
from clt_kit.prep.mixture import MANIFEST, MIXTURE, MixtureSpec, fingerprint, build_mixture

JOINT_KIND = "clt-kit joint mixture"
JOINT_FORMAT = 1
PARTS = "parts"


@dataclass(frozen=True)
class JointSpec:
    """A mixture of several tasks: `english` English items and `k` per seen language of each task."""

    name: str  # the label its runs carry as their task (the study's setting name)
    tasks: tuple[str, ...]
    english: int
    k: int
    seed: int
    seen: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"a joint mixture needs distinct tasks, got {self.tasks!r}")

    def part(self, task: str) -> MixtureSpec:
        return MixtureSpec(task, self.english, self.k, self.seed, self.seen)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.name, "tasks": list(self.tasks), "english": self.english, "k": self.k, "seed": self.seed,
                "seen": list(self.seen)}

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> JointSpec:
        return cls(spec["task"], tuple(spec["tasks"]), spec["english"], spec["k"], spec["seed"], tuple(spec["seen"]))


def part_dir(folder: Path, task: str) -> Path:
    return folder / PARTS / task


def build_joint_mixture(
    spec: JointSpec, pools: dict[str, Path], tests: dict[str, Path], out_dir: Path, lenient: bool = False,
    params: CleanParams = CleanParams(),
) -> dict[str, Any]:
    """Builds each task's part from its pool and test set, then their union, into `out_dir`
    (replaced whole, as a mixture folder is)."""
    if missing := [t for t in spec.tasks if t not in pools or t not in tests]:
        raise InputError(f"joint mixture {spec.name}: no pool or test set given for {', '.join(missing)}")
    with publish_dir(out_dir) as tmp:
        for task in spec.tasks:
            build_mixture(spec.part(task), pools[task], tests[task], part_dir(tmp, task), lenient=lenient, params=params)
        manifest, union = joint_of_parts(spec, tmp)
        write_text_atomic(tmp / MIXTURE, union)
        write_json(tmp / MANIFEST, manifest)
    return manifest


def joint_of_parts(spec: JointSpec, folder: Path) -> tuple[dict[str, Any], str]:
    """The joint manifest of `folder`'s parts as they are on disk, and the text of its
    mixture.jsonl (the parts' mixture.jsonl one after another); reads only."""
    texts: list[str] = []
    parts, outputs, counts = {}, {}, {}
    for task in spec.tasks:
        part = part_dir(folder, task)
        manifest = read_json(part / MANIFEST)
        if manifest.get("spec") != spec.part(task).to_dict():
            raise InputError(f"{part / MANIFEST}: its spec {manifest.get('spec')!r} is not the {task} part of {spec.to_dict()!r}")
        rel = part.relative_to(folder).as_posix()
        parts[task] = {"path": f"{rel}/{MANIFEST}", "sha256": core.sha256_file(str(part / MANIFEST))}
        outputs[f"{task}/manifest"] = parts[task]
        for role, entry in sorted(manifest["outputs"].items()):
            outputs[f"{task}/{role}"] = {"path": f"{rel}/{entry['path']}", "sha256": entry["sha256"]}
        counts[task] = {lang: c["selected"] for lang, c in manifest["counts"].items()}
        texts.append((part / MIXTURE).read_text(encoding="utf-8"))
    union = "".join(texts)
    outputs["mixture"] = {"path": MIXTURE, "sha256": hashlib.sha256(union.encode("utf-8")).hexdigest()}
    records = [json.loads(line) for line in union.splitlines() if line]
    return {
        "kind": JOINT_KIND,
        "format": JOINT_FORMAT,
        "kit_version": __version__,
        "spec": spec.to_dict(),
        "parts": parts,
        "outputs": dict(sorted(outputs.items())),
        "counts": counts,
        "set_fingerprint": fingerprint(records),
    }, union


def is_joint(manifest: Any) -> bool:
    return isinstance(manifest, dict) and manifest.get("kind") == JOINT_KIND
