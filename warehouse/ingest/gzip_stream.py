"""A gzip landing file as a stream of its decompressed bytes: every member in turn, bytes after the
last member that are not another member ignored (as `gzip -d` does, with a warning), output bounded
per read so a small file that inflates hugely still streams."""

from __future__ import annotations

import io
import logging
import zlib
from pathlib import Path
from typing import BinaryIO

from warehouse.ingest.discovery import display_name

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
GZIP_WBITS = 31  # zlib: a gzip header and trailer


class GzipMembers(io.RawIOBase):
    """The decompressed bytes of every gzip member of a file (see the module docstring)."""

    def __init__(self, path: Path, chunk_bytes: int = 1 << 20) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._name = display_name(Path(path.name))  # valid UTF-8 in the log, as in the warehouse
        self._chunk = chunk_bytes
        self._inflate = zlib.decompressobj(GZIP_WBITS)
        self._out = memoryview(b"")
        self._members = 0
        self._done = False
        self.trailing_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._out and not self._done:
            self._fill()
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def close(self) -> None:
        self._file.close()
        super().close()

    def _fill(self) -> None:
        if self._inflate.eof:
            self._next_member()
            return
        data = self._inflate.unconsumed_tail or self._file.read(self._chunk)
        if not data:
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
        self._out = memoryview(self._inflate.decompress(data, 4 * self._chunk))
        if self._inflate.eof:
            self._members += 1

    def _next_member(self) -> None:
        """After a member: another one, the end of the file, or trailing bytes (ignored)."""
        pending = self._inflate.unused_data
        while len(pending) < len(GZIP_MAGIC):
            more = self._file.read(self._chunk)
            if not more:
                break
            pending += more
        if not pending:
            self._done = True
            return
        if not pending.startswith(GZIP_MAGIC):
            rest = pending + self._file.read()
            self.trailing_bytes = len(rest)
            self._done = True
            log.warning(
                "%s: %d bytes after the last gzip member ignored", self._name, self.trailing_bytes
            )
            return
        self._inflate = zlib.decompressobj(GZIP_WBITS)
        self._out = memoryview(self._inflate.decompress(pending, 4 * self._chunk))
        if self._inflate.eof:
            self._members += 1


def open_gzip(path: Path) -> BinaryIO:
    """A buffered stream of the file's decompressed bytes (a file that is not gzip raises
    zlib.error on the first read: the file is unreadable)."""
    return io.BufferedReader(GzipMembers(path))
