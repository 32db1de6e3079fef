"""A fixed, quality-blind key per id: the same id gets the same key on every run and machine."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np


def stable_keys(ids: Iterable[str]) -> np.ndarray:
    """A uint64 key per id from the leading 8 bytes of its sha256 (ordering by it is a fixed shuffle)."""
    digests = b"".join(hashlib.sha256(i.encode("utf-8")).digest()[:8] for i in ids)
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)
