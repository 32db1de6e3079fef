"""Random streams and the drawing helpers every part of the simulated world shares.

Each part of the world draws from its own seed sequence `[seed, stream, ...]`, so parts (and event
chunks) are independent of each other and of the order they are drawn in.
"""

from __future__ import annotations

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


def scrambled_ids(prefix: str, index: np.ndarray, salt: int) -> pl.Series:
    """Opaque unique ids `prefix + decimal`: a bijective 64-bit mix (splitmix64) of index and salt."""
    with np.errstate(over="ignore"):
        z = index.astype(np.uint64) + np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return pl.select(pl.lit(prefix) + pl.Series("id", z).cast(pl.String)).to_series()
