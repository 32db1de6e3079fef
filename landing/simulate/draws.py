"""Random streams and the drawing helpers every part of the simulated world shares.

Each part of the world draws from its own seed sequence `[seed, stream, ...]`, so parts (and event
chunks) are independent of each other and of the order they are drawn in.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from landing.simulate.config import SimulationConfig

STREAM_GENERATIONS = 1
STREAM_VIEWERS = 2
STREAM_EXPOSURE = 3
STREAM_EVENTS = 4
STREAM_EVENT_FILES = 5
STREAM_GENERATION_FILES = 6
STREAM_EMBEDDING_BASIS = 7
STREAM_SIGNALS = 8
STREAM_STUDIO = 9
STREAM_BOT_TARGETS = 10


def stream_rng(config: SimulationConfig, *stream: int) -> np.random.Generator:
    """The generator of one random stream (a `STREAM_*` number, then chunk coordinates) of the seed."""
    return np.random.default_rng([config.seed, *stream])


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, elementwise."""
    return 1.0 / (1.0 + np.exp(-x))


def id_key(seed: int, salt: int) -> np.uint64:
    """A 64-bit key of one kind of id (`salt`) in the world of `seed`: ids of different seeds differ."""
    digest = hashlib.blake2b(f"reelloop-sim:{seed}:{salt}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def scrambled_ids(prefix: str, index: np.ndarray, salt: int, seed: int) -> pl.Series:
    """Opaque unique ids `prefix + decimal`: a bijective 64-bit mix (splitmix64) of index plus the
    key of (seed, salt), so a world's ids are unique and two seeds' worlds share none in practice
    (two id ranges of n meet with probability about n^2 / 2^64)."""
    with np.errstate(over="ignore"):
        z = index.astype(np.uint64) + id_key(seed, salt)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return pl.select(pl.lit(prefix) + pl.Series("id", z).cast(pl.String)).to_series()
