"""`clt-kit prep`: pool -> cleaning (Rust) -> nested sample -> mixture + manifest.

Outputs in the mixture directory:
    mixture.jsonl   the sampled records, ordered by (language, ticket)
    dropped.jsonl   every removed record: {"id", "reason", "survivor"}, sorted by id
    manifest.json   canonical JSON: versions, profile, parameters, language-ID model, hashes of
                    every input and output, counts per language and reason, fingerprints
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from clt_kit import __version__, _prep
from clt_kit.jsonio import InputError, canonical, write_json, write_jsonl
from clt_kit.languages import ENGLISH, SEEN
from clt_kit.prep import core
from clt_kit.prep.clean import REASONS, CleanParams, clean
from clt_kit.prep.records import read_records

MANIFEST_KIND = "clt-kit mixture"
MANIFEST_FORMAT = 2
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

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seen": list(self.seen)}


def _rel(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())


def _fingerprint(records: Sequence[dict[str, Any]]) -> str:
    """Order-independent: sha256 of the sorted sha256 digests of the records' canonical JSON."""
    digests = sorted(hashlib.sha256(canonical(r).encode()).digest() for r in records)
    return hashlib.sha256(b"".join(digests)).hexdigest()


def _as_paths(pool: Path | Sequence[Path]) -> list[Path]:
    return [pool] if isinstance(pool, Path) else list(pool)


def build_mixture(
    spec: MixtureSpec,
    pool: Path | Sequence[Path],
    test: Path | None,
    out_dir: Path,
    lenient: bool = False,
    params: CleanParams = CleanParams(),
    threads: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Builds the mixture of `spec` from `pool` (one file or several shards) into `out_dir`.

    The output and the manifest (apart from its list of input files) depend on the records alone:
    not on their order, on how they are split into shards, or on `threads`.
    """
    shards = _as_paths(pool)
    bar = tqdm(total=4, desc=f"prep {spec.task} k={spec.k}", disable=not progress, leave=False)
    records: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    for shard in shards:
        read = read_records(shard, lenient=lenient)
        records += read.records
        for reason, count in read.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    input_fingerprint = _fingerprint(records)
    by_content = lambda r: (r["id"], canonical(r))  # noqa: E731 - a total order on records
    records = sorted((r for r in records if r["lang"] in spec.languages), key=by_content)
    tests = [] if test is None else sorted(read_records(test).records, key=by_content)
    bar.update()

    cleaned = clean(records, tests, params, threads)
    bar.update()

    kept = cleaned.kept
    lang_index = {lang: g for g, lang in enumerate(spec.languages)}
    groups = np.array([lang_index[records[i]["lang"]] for i in kept], dtype=np.uint32)
    try:
        picked = core.sample_nested(
            [records[i]["id"] for i in kept], groups, [spec.quota(lang) for lang in spec.languages], spec.seed,
            SAMPLE_STAGE, threads,
        )
    except _prep.SampleSizeError as e:
        group, asked, available = e.args
        raise InputError(
            f"{', '.join(map(str, shards))}: language {spec.languages[group]!r} has {available} usable {spec.task}"
            f" records after cleaning, but the mixture asks for {asked}; lower k (or --english) or add data"
        ) from None
    selected = [records[kept[i]] for i in picked]
    bar.update()

    mixture_path, dropped_path = out_dir / "mixture.jsonl", out_dir / "dropped.jsonl"
    write_jsonl(mixture_path, selected)
    write_jsonl(dropped_path, cleaned.dropped)
    manifest = {
        "kind": MANIFEST_KIND,
        "format": MANIFEST_FORMAT,
        "kit_version": __version__,
        "prep_core_version": _prep.__version__,
        "normalization_profile": _prep.NORMALIZATION_PROFILE,
        "language_id_model": core.langid_model(),
        "spec": spec.to_dict(),
        "parameters": {"sample_stage": SAMPLE_STAGE, "clean": params.to_dict(), "decontamination": test is not None},
        "lenient": lenient,
        "skipped": dict(sorted(skipped.items())),
        "inputs": {
            "pool": [{"path": _rel(p, out_dir), "sha256": core.sha256_file(str(p))} for p in shards],
            **({"test": {"path": _rel(test, out_dir), "sha256": core.sha256_file(str(test))}} if test else {}),
        },
        "input_fingerprint": input_fingerprint,
        "outputs": {
            "mixture": {"path": mixture_path.name, "sha256": core.sha256_file(str(mixture_path))},
            "dropped": {"path": dropped_path.name, "sha256": core.sha256_file(str(dropped_path))},
        },
        "counts": _counts(spec, records, cleaned.dropped, kept, selected, cleaned.undetermined),
        "stats": cleaned.stats,
        "set_fingerprint": _fingerprint(selected),
    }
    write_json(out_dir / "manifest.json", manifest)
    bar.update()
    bar.close()
    return manifest


def _counts(
    spec: MixtureSpec, records: list[dict[str, Any]], dropped: list[dict[str, Any]], kept: list[int],
    selected: list[dict[str, Any]], undetermined: Any,
) -> dict[str, Any]:
    counts = {
        lang: {"in": 0, "kept": 0, "selected": 0, "undetermined_language": undetermined.get(lang, 0),
               "dropped": dict.fromkeys(REASONS, 0)}
        for lang in spec.languages
    }
    lang_of = {r["id"]: r["lang"] for r in records}
    for r in records:
        counts[r["lang"]]["in"] += 1
    for d in dropped:
        counts[lang_of[d["id"]]]["dropped"][d["reason"]] += 1
    for i in kept:
        counts[records[i]["lang"]]["kept"] += 1
    for r in selected:
        counts[r["lang"]]["selected"] += 1
    return counts

