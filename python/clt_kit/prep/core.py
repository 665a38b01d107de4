"""Bulk calls into the Rust core: strings go in as Arrow buffers, results come back as arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from clt_kit import _prep


def _buffers(strings: Sequence[str]) -> tuple[bytes, bytes]:
    """(UTF-8 data, little-endian i64 offsets) of an Arrow large-string array."""
    arr = pa.array(strings, type=pa.large_string())
    _, offsets, data = arr.buffers()
    n = len(arr)
    offs = np.frombuffer(offsets, dtype="<i8", count=n + 1)
    raw = b"" if data is None else data.to_pybytes()
    return raw, offs.tobytes()


def exact_dedup(texts: Sequence[str], keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(survivor index per row, 16-byte content hash per row as a (n, 16) uint8 array)."""
    survivor, hashes = _prep.exact_dedup(*_buffers(texts), *_buffers(keys))
    return np.frombuffer(survivor, dtype="<u4"), np.frombuffer(hashes, dtype=np.uint8).reshape(-1, 16)


def sample_nested(keys: Sequence[str], groups: np.ndarray, k: Sequence[int], seed: int, stage: str) -> np.ndarray:
    """Row indices of the nested sample, ordered by (group, ticket, key)."""
    picked = _prep.sample_nested(*_buffers(keys), groups.astype("<u4").tobytes(), list(k), seed, stage)
    return np.frombuffer(picked, dtype="<u4")


def sha256_file(path: str) -> str:
    return _prep.sha256_file(path)
