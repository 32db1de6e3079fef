"""The progress bar: drawn on a terminal only, in place, ending its line when the work is done."""

from __future__ import annotations

import io

from cli.progress import TerminalBar, progress_listener
from pipelines.steps import DirectRunner, no_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_redraws_one_line_and_ends_it() -> None:
    stream = Terminal()
    bar = TerminalBar(stream, width=4)
    bar("ingest: files", 1, 4)
    bar("ingest: files", 4, 4)
    text = stream.getvalue()
    assert text.startswith("\ringest: files [#---] 1/4")
    assert "\ringest: files [####] 4/4" in text and text.endswith("\n")
    assert text.count("\n") == 1


def test_no_bar_when_stderr_is_not_a_terminal() -> None:
    assert progress_listener(io.StringIO()) is no_progress
    assert isinstance(progress_listener(Terminal()), TerminalBar)


def test_a_direct_runner_passes_progress_to_its_listener() -> None:
    heard: list[tuple[str, int, int]] = []
    runner = DirectRunner(lambda what, done, total: heard.append((what, done, total)))
    runner.progress("label: passes", 2, 4)
    assert heard == [("label: passes", 2, 4)]
