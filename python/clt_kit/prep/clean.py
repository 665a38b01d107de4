"""The cleaning stages of prep, each a bulk call into the Rust core.

A record is dropped by the first stage that rejects it, with a reason and (where there is one)
the id of the record that stands for it:
    exact_duplicate   same normalized text as a record with a smaller id (the survivor)
    near_duplicate    MinHash/LSH cluster (verified Jaccard) of the same language; survivor = smallest id
    wrong_language    the language identifier names another language than the label
    test_exact        the normalized prompt equals a test prompt
    test_near         the prompt is a near duplicate of a test prompt (survivor = that test item)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from clt_kit.prep import core

REASONS = ("exact_duplicate", "near_duplicate", "wrong_language", "test_exact", "test_near")


@dataclass(frozen=True)
class CleanParams:
    near: core.NearDupParams = core.NearDupParams()
    langid: core.LangIdFloors = core.LangIdFloors()
    language_filter: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CleanParams:
        """The parameters a manifest records (its `parameters.clean`)."""
        return cls(near=core.NearDupParams(**d["near"]), langid=core.LangIdFloors(**d["langid"]), language_filter=d["language_filter"])

    def problems(self) -> list[str]:
        """What is wrong with these parameters (empty: fine)."""
        return self.near.problems() + self.langid.problems()


@dataclass
class Cleaned:
    kept: list[int]  # indices into the records, ascending
    dropped: list[dict[str, Any]]  # {"id", "reason", "survivor"}
    undetermined: Counter[str] = field(default_factory=Counter)  # kept records the identifier called "und", per label
    stats: dict[str, int] = field(default_factory=dict)


def item_text(record: dict[str, Any]) -> str:
    return record["prompt"] + "\n" + record["response"]


def _groups(langs: Sequence[str]) -> np.ndarray:
    index = {lang: g for g, lang in enumerate(sorted(set(langs)))}
    return np.array([index[lang] for lang in langs], dtype=np.uint32)


def clean(
    records: Sequence[dict[str, Any]], tests: Sequence[dict[str, Any]], params: CleanParams, threads: int = 0
) -> Cleaned:
    """Runs every stage over `records` (decontaminating against `tests`); see the module doc."""
    n = len(records)
    ids = [r["id"] for r in records]
    langs = [r["lang"] for r in records]
    texts = [item_text(r) for r in records]
    text_col, id_col = core.column(texts), core.column(ids)  # converted once, passed to every stage
    norm_col = core.normalized(text_col, threads)  # normalized once, for exact and near dedup
    reason: list[str | None] = [None] * n
    survivor_id: list[str | None] = [None] * n

    exact, _ = core.exact_dedup(norm_col, id_col, threads)
    for i in range(n):
        if exact[i] != i:
            reason[i], survivor_id[i] = "exact_duplicate", ids[exact[i]]

    alive = np.array([r is None for r in reason], dtype=bool)
    near = core.near_dedup(norm_col, id_col, _groups(langs), alive, params.near, threads)
    for i in range(n):
        if reason[i] is None and near.survivor[i] != i:
            reason[i], survivor_id[i] = "near_duplicate", ids[near.survivor[i]]

    undetermined: Counter[str] = Counter()
    if params.language_filter:
        alive_idx = [i for i in range(n) if reason[i] is None]  # no need to identify what is already dropped
        predicted, _ = core.identify_languages(text_col, (), params.langid, threads, rows=alive_idx)
        for i, lang in zip(alive_idx, predicted):
            if lang == "und":
                undetermined[langs[i]] += 1
            elif lang != langs[i]:
                reason[i], survivor_id[i] = "wrong_language", None

    _decontaminate(records, tests, reason, survivor_id, params, threads)

    kept = [i for i in range(n) if reason[i] is None]
    dropped = [{"id": ids[i], "reason": reason[i], "survivor": survivor_id[i]} for i in range(n) if reason[i] is not None]
    stats = {"near_candidate_pairs": near.candidate_pairs, "near_accepted_pairs": near.accepted_pairs}
    return Cleaned(kept=kept, dropped=dropped, undetermined=undetermined, stats=stats)


def _decontaminate(
    records: Sequence[dict[str, Any]], tests: Sequence[dict[str, Any]], reason: list[str | None],
    survivor_id: list[str | None], params: CleanParams, threads: int,
) -> None:
    """Marks records whose prompt is an exact or near duplicate of a test prompt."""
    if not tests:
        return
    n = len(records)
    prompts = [r["prompt"] for r in records] + [t["prompt"] for t in tests]
    keys = [r["id"] for r in records] + [t["id"] for t in tests]
    langs = [r["lang"] for r in records] + [t["lang"] for t in tests]
    prompt_col = core.normalized(prompts, threads)
    _, hashes = core.exact_dedup(prompt_col, keys, threads)
    test_hashes = {bytes(h): keys[n + j] for j, h in enumerate(hashes[n:])}
    for i in range(n):
        if reason[i] is None and (hit := test_hashes.get(bytes(hashes[i]))) is not None:
            reason[i], survivor_id[i] = "test_exact", hit

    active = np.array([reason[i] is None for i in range(n)] + [True] * len(tests), dtype=bool)
    near = core.near_dedup(prompt_col, keys, _groups(langs), active, params.near, threads)
    test_in_cluster: dict[int, str] = {}
    for j in range(len(tests)):
        rep = int(near.survivor[n + j])
        test_in_cluster[rep] = min(test_in_cluster.get(rep, keys[n + j]), keys[n + j])
    for i in range(n):
        if reason[i] is None and (hit := test_in_cluster.get(int(near.survivor[i]))) is not None:
            reason[i], survivor_id[i] = "test_near", hit
