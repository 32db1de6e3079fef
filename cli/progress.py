"""A progress bar on stderr for a stage's long work, drawn only when stderr is a terminal (a
pipe or a log file gets the results alone)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from pipelines.steps import ProgressListener, no_progress


@dataclass
class TerminalBar:
    """Redraws one line `what [#####-----] done/total  elapsed` in place; a newline at the end."""

    stream: TextIO
    width: int = 30
    started: float = field(default_factory=time.monotonic)

    def __call__(self, what: str, done: int, total: int) -> None:
        total = max(total, 1)
        filled = min(self.width, self.width * done // total)
        elapsed = time.monotonic() - self.started
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{what} [{bar}] {done}/{total}  {elapsed:.1f} s\x1b[K")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def progress_listener(stream: TextIO | None = None) -> ProgressListener:
    """A bar on `stream` (default stderr) when it is a terminal, else nothing."""
    stream = stream or sys.stderr
    return TerminalBar(stream) if stream.isatty() else no_progress
