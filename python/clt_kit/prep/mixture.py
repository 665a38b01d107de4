"""`clt-kit prep`: pool -> exact dedup -> decontamination -> nested sample -> mixture + manifest.

Outputs in the mixture directory:
    mixture.jsonl   the sampled records, ordered by (language, ticket)
    dropped.jsonl   every removed record: {"id", "reason", "survivor"}
    manifest.json   canonical JSON: version, profile, parameters, hashes, counts, fingerprint
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from clt_kit import __version__, _prep
from clt_kit.jsonio import InputError, write_json, write_jsonl
from clt_kit.languages import ENGLISH, SEEN
from clt_kit.prep import core
from clt_kit.prep.records import read_records

MANIFEST_KIND = "clt-kit mixture"
MANIFEST_FORMAT = 1
SAMPLE_STAGE = "sft-mixture"


@dataclass(frozen=True)
class MixtureSpec:
    """What a mixture is: `english` English items plus `k` per seen language, for one task."""

    task: str
    english: int
    k: int
    seed: int
    seen: tuple[str, ...] = SEEN

    @property
    def languages(self) -> tuple[str, ...]:
        return (ENGLISH, *self.seen)

    def quota(self, lang: str) -> int:
        return self.english if lang == ENGLISH else self.k


def _text(record: dict[str, Any]) -> str:
    return record["prompt"] + "\n" + record["response"]


def _rel(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())


def build_mixture(
    spec: MixtureSpec, pool: Path, test: Path | None, out_dir: Path, lenient: bool = False, progress: bool = False
) -> dict[str, Any]:
    """Builds the mixture of `spec` from `pool` (minus anything that overlaps `test`) into `out_dir`."""
    steps = tqdm(total=5, desc=f"prep {spec.task} k={spec.k}", disable=not progress, leave=False)
    read = read_records(pool, lenient=lenient)
    records = [r for r in read.records if r["lang"] in spec.languages]
    steps.update()

    survivor, hashes = core.exact_dedup([_text(r) for r in records], [r["id"] for r in records])
    steps.update()

    test_hashes: set[bytes] = set()
    if test is not None:
        test_records = read_records(test).records
        _, th = core.exact_dedup([r["prompt"] for r in test_records], [r["id"] for r in test_records])
        test_hashes = {bytes(h) for h in th}
    _, prompt_hashes = core.exact_dedup([r["prompt"] for r in records], [r["id"] for r in records])
    steps.update()

    dropped: list[dict[str, Any]] = []
    kept: list[int] = []
    for i, r in enumerate(records):
        if survivor[i] != i:
            dropped.append({"id": r["id"], "reason": "exact_duplicate", "survivor": records[survivor[i]]["id"]})
        elif bytes(prompt_hashes[i]) in test_hashes:
            dropped.append({"id": r["id"], "reason": "test_overlap", "survivor": None})
        else:
            kept.append(i)

    lang_index = {lang: g for g, lang in enumerate(spec.languages)}
    groups = np.array([lang_index[records[i]["lang"]] for i in kept], dtype=np.uint32)
    try:
        picked = core.sample_nested(
            [records[i]["id"] for i in kept], groups, [spec.quota(lang) for lang in spec.languages], spec.seed, SAMPLE_STAGE
        )
    except _prep.SampleSizeError as e:
        group, asked, available = e.args
        lang = spec.languages[group]
        raise InputError(
            f"{pool}: language {lang!r} has {available} usable {spec.task} records after dedup and"
            f" decontamination, but the mixture asks for {asked}; lower k (or --english) or add data"
        ) from None
    steps.update()

    selected = [kept[i] for i in picked]
    mixture_path, dropped_path = out_dir / "mixture.jsonl", out_dir / "dropped.jsonl"
    write_jsonl(mixture_path, (records[i] for i in selected))
    write_jsonl(dropped_path, sorted(dropped, key=lambda d: d["id"]))

    counts: dict[str, dict[str, Any]] = {}
    for lang in spec.languages:
        counts[lang] = {"in": 0, "kept": 0, "selected": 0, "dropped": {"exact_duplicate": 0, "test_overlap": 0}}
    for r in records:
        counts[r["lang"]]["in"] += 1
    by_id = {r["id"]: r["lang"] for r in records}
    for d in dropped:
        counts[by_id[d["id"]]]["dropped"][d["reason"]] += 1
    for i in kept:
        counts[records[i]["lang"]]["kept"] += 1
    for i in selected:
        counts[records[i]["lang"]]["selected"] += 1

    fingerprint = hashlib.sha256(b"".join(sorted(bytes(hashes[i]) for i in selected))).hexdigest()
    inputs = {"pool": pool} if test is None else {"pool": pool, "test": test}
    manifest = {
        "kind": MANIFEST_KIND,
        "format": MANIFEST_FORMAT,
        "kit_version": __version__,
        "prep_core_version": _prep.__version__,
        "normalization_profile": _prep.NORMALIZATION_PROFILE,
        "spec": {**asdict(spec), "seen": list(spec.seen)},
        "parameters": {"sample_stage": SAMPLE_STAGE, "dedup": "exact", "decontamination": "exact prompt"},
        "lenient": lenient,
        "skipped": dict(sorted(read.skipped.items())),
        "inputs": {role: {"path": _rel(p, out_dir), "sha256": core.sha256_file(str(p))} for role, p in inputs.items()},
        "outputs": {
            "mixture": {"path": mixture_path.name, "sha256": core.sha256_file(str(mixture_path))},
            "dropped": {"path": dropped_path.name, "sha256": core.sha256_file(str(dropped_path))},
        },
        "counts": counts,
        "set_fingerprint": fingerprint,
    }
    write_json(out_dir / "manifest.json", manifest)
    steps.update()
    steps.close()
    return manifest
