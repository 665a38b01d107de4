"""`clt-kit prep`: pool -> cleaning (Rust) -> nested sample -> mixture + manifest.

Outputs in the mixture directory:
    mixture.jsonl   the sampled records, ordered by (language, ticket)
    dropped.jsonl   every removed record: {"id", "reason", "survivor"}, sorted by id
    manifest.json   canonical JSON: versions, profile, parameters, language-ID model, hashes of
                    every input and output, counts per language and reason, an account of every
                    record read (`records`), fingerprints

The folder is replaced whole (written beside it, then renamed): a reader, or a prep that fails
half way (a full disk), leaves the old complete mixture or the new one, never a mix of the two.
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
from clt_kit.integrity import check_files
from clt_kit.jsonio import InputError, canonical, publish_dir, read_json, write_json, write_jsonl
from clt_kit.languages import ENGLISH, SEEN
from clt_kit.prep import core
from clt_kit.prep.clean import REASONS, CleanParams, clean
from clt_kit.prep.records import LENIENT_HINT, ReadResult, read_records

MANIFEST_KIND = "clt-kit mixture"
MANIFEST_FORMAT = 3  # 3: `records` accounts for every record read; records of another task are refused
SAMPLE_STAGE = "sft-mixture"
MANIFEST, MIXTURE, DROPPED = "manifest.json", "mixture.jsonl", "dropped.jsonl"


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

    def __post_init__(self) -> None:
        for name in ("english", "k", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"mixture {name} must be a non-negative integer, got {value!r}")

    def quota(self, lang: str) -> int:
        return self.english if lang == ENGLISH else self.k

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seen": list(self.seen)}


def _rel(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())


def fingerprint(records: Sequence[dict[str, Any]]) -> str:
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
    if problems := params.problems():
        raise InputError("; ".join(problems))
    shards = _as_paths(pool)
    _refuse_repeated_shards(shards)
    with tqdm(total=4, desc=f"prep {spec.task} k={spec.k}", disable=not progress, leave=False) as bar:
        read = _read_pool(shards, spec.task, lenient)
        input_fingerprint = fingerprint(read.records)
        by_content = lambda r: (r["id"], canonical(r))  # noqa: E731 - a total order on records
        records = sorted((r for r in read.records if r["lang"] in spec.languages), key=by_content)
        tests = [] if test is None else sorted(_read_test(test, spec.task).records, key=by_content)
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

        with publish_dir(out_dir) as tmp:
            write_jsonl(tmp / MIXTURE, selected)
            write_jsonl(tmp / DROPPED, cleaned.dropped)
            counts = _counts(spec, records, cleaned.dropped, kept, selected, cleaned.undetermined)
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
                "skipped": dict(sorted(read.skipped.items())),
                "inputs": {
                    "pool": [{"path": _rel(p, out_dir), "sha256": core.sha256_file(str(p))} for p in shards],
                    **({"test": {"path": _rel(test, out_dir), "sha256": core.sha256_file(str(test))}} if test else {}),
                },
                "input_fingerprint": input_fingerprint,
                "outputs": {
                    "mixture": {"path": MIXTURE, "sha256": core.sha256_file(str(tmp / MIXTURE))},
                    "dropped": {"path": DROPPED, "sha256": core.sha256_file(str(tmp / DROPPED))},
                },
                "counts": counts,
                "records": _accounting(read, spec, counts),
                "stats": cleaned.stats,
                "set_fingerprint": fingerprint(selected),
            }
            write_json(tmp / MANIFEST, manifest)
        bar.update()
    return manifest


def output_files(manifest: dict[str, Any]) -> dict[str, str]:
    """{file name: sha256} of a mixture's outputs, as its manifest records them."""
    return {e["path"]: e["sha256"] for e in manifest["outputs"].values()}


def mixture_problems(mixture_dir: Path) -> list[str]:
    """Files of a mixture folder that are missing, changed since prep wrote them, or not its own."""
    if not (mixture_dir / MANIFEST).is_file():
        return [f"{mixture_dir}: no {MANIFEST} here; make the mixture with `clt-kit prep`"]
    return check_files(mixture_dir, output_files(read_json(mixture_dir / MANIFEST)), "mixture", MANIFEST)


def _refuse_repeated_shards(shards: list[Path]) -> None:
    """The same pool file given twice (by path, or a byte-identical copy) is an error."""
    seen: dict[object, Path] = {}
    for shard in shards:
        keys: list[object] = [shard.resolve()]
        if shard.is_file() and shard.stat().st_size:
            keys.append(core.sha256_file(str(shard)))
        for key in keys:
            if key in seen:
                raise InputError(f"{seen[key]} and {shard}: the same pool file given twice; pass each shard once")
            seen[key] = shard


def _read_pool(shards: list[Path], task: str, lenient: bool) -> ReadResult:
    """Every shard's records, of `task` alone (a record that names another task is refused, or
    skipped as `wrong_task`), with duplicate ids resolved (see _drop_conflicting_ids)."""
    read = ReadResult(records=[])
    for shard in shards:
        part = read_records(shard, lenient=lenient)
        read.skipped.update(part.skipped)
        for record, where in zip(part.records, part.where):
            if _wrong_task(record, task, where, LENIENT_HINT if not lenient else None):
                read.skipped["wrong_task"] += 1
                continue
            read.records.append(record)
            read.where.append(where)
    return _drop_conflicting_ids(read, lenient)


def _read_test(test: Path, task: str) -> ReadResult:
    fix = "fix the test set (--lenient applies to pools only)"
    read = read_records(test, fix=fix)
    for record, where in zip(read.records, read.where):
        _wrong_task(record, task, where, fix)
    return read


def _wrong_task(record: dict[str, Any], task: str, where: str, fix: str | None) -> bool:
    """Whether `record` says it belongs to another task than `task`; raises when `fix` is given
    (strict mode) instead of answering True."""
    if record.get("task", task) == task:
        return False
    if fix is None:
        return True
    raise InputError(f"{where}: a record of task {record['task']!r} in a {task} mixture; {fix}")


def _drop_conflicting_ids(read: ReadResult, lenient: bool) -> ReadResult:
    """Records that share an id but differ in content are an error naming two of their lines, or,
    when lenient, all dropped (counted as `duplicate_id`): which one is right cannot be told, and
    keeping the first would depend on the input order. The same record given twice stays for the
    exact dedup stage."""
    lines: dict[str, list[int]] = {}
    for i, record in enumerate(read.records):
        lines.setdefault(record["id"], []).append(i)
    drop: set[int] = set()
    for rid in sorted(lines):
        at = lines[rid]
        if len(at) < 2 or len({canonical(read.records[i]) for i in at}) == 1:
            continue
        if not lenient:
            first, second = sorted(read.where[i] for i in at)[:2]
            raise InputError(
                f"{first} and {second}: two records with id {rid!r} and different content; give each record its own id,"
                " or pass --lenient to drop every record of that id"
            )
        drop.update(at)
    if drop:
        read.skipped["duplicate_id"] += len(drop)
        read.records = [r for i, r in enumerate(read.records) if i not in drop]
        read.where = [w for i, w in enumerate(read.where) if i not in drop]
    return read


def _accounting(read: ReadResult, spec: MixtureSpec, counts: dict[str, Any]) -> dict[str, Any]:
    """Where every record read went: skipped (by reason, in `skipped`), of a language outside the
    mixture, or into the per-language counts; `read` is their sum. `without_task` counts the
    records that name no task (their task cannot be checked)."""
    other = sorted(r["lang"] for r in read.records if r["lang"] not in spec.languages)
    return {
        "read": sum(read.skipped.values()) + len(read.records),
        "skipped": sum(read.skipped.values()),
        "other_languages": {lang: other.count(lang) for lang in sorted(set(other))},
        "in_mixture_languages": sum(c["in"] for c in counts.values()),
        "without_task": sum("task" not in r for r in read.records),
    }


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

