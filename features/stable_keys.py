"""A fixed, quality-blind key per id: the same id gets the same key on every run and machine."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np


def stable_keys(ids: Iterable[str]) -> np.ndarray:
    """A uint64 key per id from the leading 8 bytes of its sha256 (ordering by it is a fixed shuffle)."""
    digests = b"".join(hashlib.sha256(i.encode("utf-8")).digest()[:8] for i in ids)
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)


def smallest_keys(keys: np.ndarray, limit: int) -> np.ndarray:
    """Mask of the (at most) `limit` smallest keys: nested, a smaller limit picks a subset."""
    keep = np.zeros(keys.size, dtype=bool)
    keep[np.argsort(keys, kind="stable")[:limit]] = True
    return keep


def stable_sample(ids: Iterable[str], limit: int) -> np.ndarray:
    """Mask of the (at most) `limit` ids with the smallest stable keys: a fixed, quality-blind subset."""
    return smallest_keys(stable_keys(ids), limit)
