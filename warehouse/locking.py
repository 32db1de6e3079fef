"""The warehouse writer lock: stages that write take turns on the single-writer DuckDB file.

An exclusive `fcntl.flock` on `<db>.lock`: a second writer on this machine waits (logging
"waiting for writer lock") instead of failing on DuckDB's file lock or corrupting anything; the
lock dies with its process, so a crashed run never leaves it stuck. A caller may add an outer
lock taken before it (the flows add a Prefect global concurrency limit, `flows.locking`), which
also orders writers on other machines sharing the file.

The lock is re-entrant within a process: a task that takes it inside a flow
body that already holds it does not deadlock. Hold it only around the code that
opens the warehouse read-write, never around a whole flow whose tasks may run
in other processes (Dask): those would wait for their own parent.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"


@dataclass(frozen=True)
class WriterLockConfig:
    """How long a writer waits for its turn, and how often it says so."""

    timeout_seconds: float = 3600.0
    poll_seconds: float = 0.2
    log_every_seconds: float = 60.0


@dataclass
class WriterLease:
    """The held lock: `outermost` is False for a re-entrant (nested) hold in the same process."""

    lock_path: Path
    outermost: bool
    waited_seconds: float
    _state: _ProcessLock

    def request_publish(self) -> None:
        """Ask the outermost holder to publish a snapshot when it releases successfully."""
        self._state.publish_requested = True

    @property
    def publish_requested(self) -> bool:
        return self._state.publish_requested


@dataclass
class _ProcessLock:
    """Per-process state of one lock file: threads of a process queue on `guard`."""

    guard: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    handle: Any = None
    publish_requested: bool = False


OuterLock = Callable[[float], AbstractContextManager[object]]
"""A lock taken before the file lock, given the seconds left to wait for it."""

_registry_guard = threading.Lock()
_registry: dict[str, _ProcessLock] = {}


def lock_path_for(db_path: str | Path) -> Path:
    """`<db>.lock` beside the warehouse file."""
    return Path(f"{Path(db_path).resolve()}{LOCK_SUFFIX}")


def _state_for(lock_path: Path) -> _ProcessLock:
    with _registry_guard:
        return _registry.setdefault(str(lock_path), _ProcessLock())


def holder_of(lock_path: Path) -> str:
    """Who holds the lock, as its holder wrote it (pid, host, since), for the waiting log line."""
    try:
        text = lock_path.read_text(encoding="utf-8").strip()
    except OSError:
        return "unknown"
    return text or "unknown"


def lock_holder(db_path: str | Path) -> str | None:
    """Who holds the writer lock of `db_path` now (as its holder wrote it), or None when it is
    free. Probes without waiting; a lock this process holds counts as held."""
    lock_path = lock_path_for(db_path)
    if _state_for(lock_path).depth > 0:
        return f"pid {os.getpid()} (this process)"
    if not lock_path.exists():
        return None
    with open(lock_path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return holder_of(lock_path)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None


@contextmanager
def warehouse_writer(
    db_path: str | Path,
    *,
    timeout_seconds: float | None = None,
    config: WriterLockConfig | None = None,
    outer_lock: OuterLock | None = None,
) -> Iterator[WriterLease]:
    """Hold the warehouse writer lock for `db_path`; waits (up to the timeout) while another run writes.

    Raises TimeoutError after `timeout_seconds` (default `config.timeout_seconds`). The outermost
    hold of this process first enters `outer_lock(seconds left)` when one is given.
    """
    config = config or WriterLockConfig()
    timeout = config.timeout_seconds if timeout_seconds is None else timeout_seconds
    lock_path = lock_path_for(db_path)
    state = _state_for(lock_path)
    started = time.monotonic()
    deadline = started + timeout
    if not state.guard.acquire(blocking=False):
        log.info("waiting for writer lock %s (held by another thread of this process)", lock_path)
        if not state.guard.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"timed out after {timeout:g} s waiting for writer lock {lock_path}")
    try:
        if state.depth > 0:
            state.depth += 1
            try:
                yield WriterLease(lock_path, False, time.monotonic() - started, state)
            finally:
                state.depth -= 1
            return
        with ExitStack() as stack:
            if outer_lock is not None:
                stack.enter_context(outer_lock(max(0.0, deadline - time.monotonic())))
            handle = _acquire_file_lock(lock_path, deadline, timeout, config)
            stack.callback(_release_file_lock, handle)
            state.handle, state.depth, state.publish_requested = handle, 1, False
            try:
                yield WriterLease(lock_path, True, time.monotonic() - started, state)
            finally:
                state.handle, state.depth, state.publish_requested = None, 0, False
    finally:
        state.guard.release()


def _acquire_file_lock(
    lock_path: Path, deadline: float, timeout: float, config: WriterLockConfig
) -> Any:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - closed in _release_file_lock
    waiting_since = None
    last_logged = 0.0
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if waiting_since is None or now - last_logged >= config.log_every_seconds:
                    log.warning(
                        "waiting for writer lock %s (held by %s)", lock_path, holder_of(lock_path)
                    )
                    waiting_since = waiting_since or now
                    last_logged = now
                if now >= deadline:
                    raise TimeoutError(
                        f"timed out after {timeout:g} s waiting for writer lock {lock_path} "
                        f"(held by {holder_of(lock_path)})"
                    ) from None
                time.sleep(min(config.poll_seconds, max(0.0, deadline - now)))
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC).isoformat()}\n"
        )
        handle.flush()
    except BaseException:
        handle.close()
        raise
    if waiting_since is not None:
        log.info("got writer lock %s after %.1f s", lock_path, time.monotonic() - waiting_since)
    return handle


def _release_file_lock(handle: Any) -> None:
    try:
        handle.seek(0)
        handle.truncate()
        handle.flush()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


# struct flock of Linux (64-bit): l_type, l_whence, l_start, l_len, l_pid
FLOCK_LAYOUT = "hhqqi4x"


def file_opener(db_path: str | Path) -> str | None:
    """Another process holding the DuckDB file `db_path` open (DuckDB locks the whole file: shared
    for a read-only client, exclusive for a writer), as "pid N (program)", or None. Asks the
    kernel (F_GETLK) without taking any lock; None where it cannot tell."""
    try:
        fd = os.open(db_path, os.O_RDONLY)
    except OSError:
        return None
    try:
        probe = struct.pack(FLOCK_LAYOUT, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        lock_type, _, _, _, pid = struct.unpack(FLOCK_LAYOUT, fcntl.fcntl(fd, fcntl.F_GETLK, probe))
    except (OSError, struct.error):
        return None
    finally:
        os.close(fd)
    if lock_type == fcntl.F_UNLCK or pid <= 0:
        return None
    try:
        program = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode() or "?"
    except (OSError, UnicodeDecodeError):
        program = "unknown program"
    return f"pid {pid} ({program})"
