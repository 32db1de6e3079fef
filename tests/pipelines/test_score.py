"""Reading a file of prompts for `score-prompt --file`: one prompt per non-blank line, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.score import MAX_PROMPT_CHARS, read_prompt_file


def test_each_non_blank_line_is_a_prompt_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "prompts.txt"
    path.write_bytes("\ufeffa red fox\r\n\r\n   \n  a neon sign, at night  \nlast".encode())
    assert read_prompt_file(path) == [(1, "a red fox"), (4, "a neon sign, at night"), (5, "last")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\n  \n", "holds no prompt"),
        (b"a fox\n\xff\xfe broken", "not UTF-8"),
        (
            ("x" * (MAX_PROMPT_CHARS + 1)).encode(),
            f"prompts.txt:1: prompt of {MAX_PROMPT_CHARS + 1}",
        ),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "prompts.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as error:
        read_prompt_file(path)
    assert "\n" not in str(error.value)
    with pytest.raises(FileNotFoundError, match="prompt file not found"):
        read_prompt_file(tmp_path / "missing.txt")
