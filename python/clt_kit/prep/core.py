"""Bulk calls into the Rust core: strings go in as Arrow-layout buffers, results come back as arrays.

`threads` (0: all cores) runs a call on a private pool of that many threads; results never
depend on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from clt_kit import _prep


@dataclass(frozen=True)
class Column:
    """Strings as the Rust core takes them: one UTF-8 buffer and little-endian i64 offsets (the
    buffers of an Arrow large-string array). Build it once with `column()` to pass the same
    strings to several calls without converting them again; `normalized()` gives the column the
    dedup calls work on (pass that to both exact and near dedup to normalize only once)."""

    data: bytes
    offsets: bytes
    normalized: bool = False

    def __len__(self) -> int:
        return len(self.offsets) // 8 - 1


def column(strings: Sequence[str] | Column) -> Column:
    if isinstance(strings, Column):
        return strings
    data, offsets = _prep.column_from_list(strings if isinstance(strings, list) else list(strings))
    return Column(data, offsets)


Strings = Sequence[str] | Column


def _buffers(strings: Strings) -> tuple[bytes, bytes]:
    col = column(strings)
    return col.data, col.offsets


def normalized(strings: Strings, threads: int = 0) -> Column:
    """The strings normalized under the dedup profile (`_prep.NORMALIZATION_PROFILE`), as a column."""
    col = column(strings)
    if col.normalized:
        return col
    data, offsets = _prep.normalize_column(col.data, col.offsets, threads=threads)
    return Column(data, offsets, normalized=True)


def exact_dedup(texts: Strings, keys: Strings, threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(survivor index per row, 16-byte content hash per row's normalized text as a (n, 16) uint8 array)."""
    survivor, hashes = _prep.exact_dedup(*_buffers(normalized(texts, threads)), *_buffers(keys), threads=threads)
    return np.frombuffer(survivor, dtype="<u4"), np.frombuffer(hashes, dtype=np.uint8).reshape(-1, 16)


# The Rust core's defaults, declared there once.
_NEAR = _prep.NearDupOptions()
_FLOORS = _prep.LangIdOptions()


@dataclass(frozen=True, kw_only=True)
class NearDupParams:
    """MinHash + LSH settings (all recorded in manifests); the defaults are the Rust core's."""

    num_perm: int = _NEAR.num_perm
    bands: int = _NEAR.bands
    rows: int = _NEAR.rows
    seed: int = _NEAR.seed
    word_n: int = _NEAR.word_n
    char_n: int = _NEAR.char_n
    threshold: float = _NEAR.threshold
    verify: bool = _NEAR.verify

    def options(self) -> _prep.NearDupOptions:
        """These settings as the Rust core takes them (ValueError where they do not fit together)."""
        return _prep.NearDupOptions(**asdict(self))

    def problems(self) -> list[str]:
        """What is wrong with these settings (empty: fine); the Rust core checks the same."""
        out = []
        if min(self.num_perm, self.bands, self.rows, self.word_n, self.char_n) < 1:
            out.append("num_perm, bands, rows and the n-gram sizes must be positive")
        if self.bands * self.rows > self.num_perm:
            out.append(f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}; lower --bands or --rows")
        if not 0.0 <= self.threshold <= 1.0:
            out.append(f"threshold {self.threshold} is not in [0, 1]")
        if not 0 <= self.seed < 2**64:
            out.append(f"the MinHash seed {self.seed} is not in [0, 2^64)")
        return out


@dataclass(frozen=True)
class NearDupResult:
    survivor: np.ndarray
    candidate_pairs: int
    accepted_pairs: int


def near_dedup(
    texts: Strings, keys: Strings, groups: np.ndarray, active: np.ndarray, params: NearDupParams, threads: int = 0
) -> NearDupResult:
    """Near-duplicate clusters within groups; survivor = the smallest key of each cluster."""
    survivor, candidates, accepted = _prep.near_dedup(
        *_buffers(normalized(texts, threads)), *_buffers(keys), groups.astype("<u4").tobytes(), active.astype(np.uint8).tobytes(),
        options=params.options(), threads=threads,
    )
    return NearDupResult(np.frombuffer(survivor, dtype="<u4"), candidates, accepted)


@dataclass(frozen=True, kw_only=True)
class LangIdFloors:
    """Floors of the language identifier (recorded in manifests); the defaults are the Rust core's."""

    min_letters: int = _FLOORS.min_letters
    min_confidence: float = _FLOORS.min_confidence

    def options(self) -> _prep.LangIdOptions:
        """These floors as the Rust core takes them."""
        return _prep.LangIdOptions(**asdict(self))

    def problems(self) -> list[str]:
        """What is wrong with these floors (empty: fine)."""
        out = [] if self.min_letters >= 0 else [f"min_letters {self.min_letters} is negative"]
        return out + ([] if 0.0 <= self.min_confidence <= 1.0 else [f"min_confidence {self.min_confidence} is not in [0, 1]"])


def identify_languages(
    texts: Strings, allow: Sequence[str] = (), floors: LangIdFloors = LangIdFloors(), threads: int = 0,
    rows: Sequence[int] | np.ndarray | None = None,
) -> tuple[list[str], np.ndarray]:
    """(language code or "und" per text, confidence per text); of the texts at `rows` only, when given."""
    if (len(texts) if rows is None else len(rows)) == 0:
        return [], np.zeros(0)
    picked = None if rows is None else np.asarray(rows, dtype="<u4").tobytes()
    codes, conf = _prep.identify_languages(*_buffers(texts), allow=list(allow), floors=floors.options(), threads=threads, rows=picked)
    return codes.split("\n"), np.frombuffer(conf, dtype="<f8")


def langid_model() -> dict[str, object]:
    """Name, sha256 and languages of the embedded language-ID model."""
    name, sha, langs = _prep.langid_model()
    return {"name": name, "sha256": sha, "languages": langs}


def sample_nested(keys: Strings, groups: np.ndarray, k: Sequence[int], seed: int, stage: str, threads: int = 0) -> np.ndarray:
    """Row indices of the nested sample, ordered by (group, ticket, key)."""
    picked = _prep.sample_nested(*_buffers(keys), groups.astype("<u4").tobytes(), k=list(k), seed=seed, stage=stage, threads=threads)
    return np.frombuffer(picked, dtype="<u4")


def sha256_file(path: str) -> str:
    """sha256 of a file; of a folder (a saved dataset): sha256 of its sorted (path, sha256) listing."""
    root = Path(path)
    if not root.is_dir():
        return _prep.sha256_file(path)
    listing = "".join(
        f"{p.relative_to(root).as_posix()}\t{_prep.sha256_file(str(p))}\n" for p in sorted(root.rglob("*")) if p.is_file()
    )
    return hashlib.sha256(listing.encode()).hexdigest()
