"""The sha256 of a file's content, read in bounded chunks."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK_BYTES = 8 << 20


def file_sha256(path: str | Path, chunk_bytes: int = CHUNK_BYTES) -> str:
    """Hex sha256 of the file at `path` (memory bounded by `chunk_bytes`)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()
