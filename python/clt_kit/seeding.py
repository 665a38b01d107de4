"""Explicit, order-independent seeds: every random stream is derived from a seed and a name."""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *names: object) -> int:
    """A 63-bit seed from a base seed and a path of names (stable across runs and platforms)."""
    text = "\x1f".join([str(seed), *map(str, names)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def rng(seed: int, *names: object) -> random.Random:
    """A private `random.Random` for one named stream."""
    return random.Random(derive_seed(seed, *names))
