"""`reelloop demo` prints each stage's figures as the stage ends (text, or one JSON document each)."""

from __future__ import annotations

from pathlib import Path

from cli.demo import stage_printer
from results.model import ScoreSummary


def test_demo_prints_each_stage_as_it_ends(capsys) -> None:
    """The demo's listener prints a stage's figures the moment that stage hands its result."""
    printer = stage_printer(Path("demo"), json_lines=False)
    printer(ScoreSummary(model_id="pairwise-1", scored=12))
    assert capsys.readouterr().out == "== score\nmodel pairwise-1 scored 12 new generation(s)\n\n"
    stage_printer(Path("demo"), json_lines=True)(ScoreSummary(model_id="pairwise-1", scored=3))
    assert '"stage": "score"' in capsys.readouterr().out
