"""A `reelloop` run killed with SIGKILL leaves no process behind: without a Prefect API it starts
no server at all, and with one configured it starts none either (Prefect's temporary server,
which outlived most kills before, is never started by the command line)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
RUN_BEFORE_KILL_SECONDS = 4.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_processes(session: int) -> list[psutil.Process]:
    """Every live process of the session the killed run led (its children included)."""
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getsid(process.pid) == session and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def command_lines(processes: list[psutil.Process]) -> list[str]:
    lines = []
    for process in processes:
        try:
            lines.append(" ".join(process.cmdline()))
        except psutil.Error:
            continue
    return lines


@pytest.mark.parametrize("api", ["none", "configured"])
def test_a_killed_run_leaves_no_server_behind(api: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REELLOOP_"))}
    argv = ["--db", str(tmp_path / "wh.duckdb")]
    if api == "configured":  # nothing listens there: the run fails to reach it, starts nothing
        env["PREFECT_API_URL"] = f"http://127.0.0.1:{free_port()}/api"
        env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    run = subprocess.Popen(
        [sys.executable, "-m", "cli.main", *argv, "simulate", "--out", str(tmp_path / "sim"),
         "--requests", "3000"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    seen: list[str] = []
    deadline = time.monotonic() + RUN_BEFORE_KILL_SECONDS
    while time.monotonic() < deadline and run.poll() is None:
        seen += command_lines([p for p in session_processes(run.pid) if p.pid != run.pid])
        time.sleep(0.1)
    if run.poll() is None:
        os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    time.sleep(0.5)
    assert seen == [], f"the run started other processes: {seen}"
    assert session_processes(run.pid) == [], command_lines(session_processes(run.pid))
