"""The Prefect side of the warehouse writer lock: a global concurrency limit ordering writers.

With `reelloop serve --prefect-writer-limit` (env REELLOOP_WRITER_LIMIT) every writer also takes
the one slot of a Prefect global concurrency limit (`reelloop-warehouse-writer`) before the file
lock (`warehouse.locking`): the slot shows in the Prefect UI who is writing and also orders writers
on other machines sharing the file. Off by default: inside a flow run an uncontended slot can take
~2 s to acquire.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from prefect import get_run_logger
from prefect.exceptions import MissingContextError

from warehouse.locking import OuterLock
from warehouse.resource import Warehouse

log = logging.getLogger(__name__)

WRITER_LIMIT_NAME = "reelloop-warehouse-writer"
WRITER_LIMIT_ENV = "REELLOOP_WRITER_LIMIT"


@dataclass(frozen=True)
class PrefectLimitConfig:
    """The Prefect global concurrency limit writers occupy, and how long a slot is leased."""

    prefect_limit: str
    prefect_lease_seconds: float = 300.0


def _logger() -> logging.Logger | logging.LoggerAdapter:
    """The flow-run logger inside a Prefect run (so the line shows in the UI), else this module's."""
    try:
        return get_run_logger()
    except MissingContextError:
        return log


def writer_limit_from_env() -> OuterLock | None:
    """The Prefect writer limit as an outer lock when REELLOOP_WRITER_LIMIT names one, else None."""
    name = os.environ.get(WRITER_LIMIT_ENV) or None
    return None if name is None else prefect_writer_limit(PrefectLimitConfig(name))


def prefect_writer_limit(config: PrefectLimitConfig) -> OuterLock:
    """An outer lock occupying the one slot of the Prefect limit `config.prefect_limit`."""

    @contextmanager
    def occupy(timeout: float) -> Iterator[None]:
        with ExitStack() as stack:
            _enter_prefect_limit(stack, config, timeout)
            yield

    return occupy


def _enter_prefect_limit(stack: ExitStack, config: PrefectLimitConfig, timeout: float) -> None:
    """Occupy the one slot of the Prefect writer limit; without a reachable API the file lock alone orders writers."""
    from prefect.concurrency.sync import concurrency

    try:
        if _limit_is_full(config.prefect_limit):
            _logger().info("waiting for writer lock (Prefect limit %s)", config.prefect_limit)
        stack.enter_context(
            concurrency(
                config.prefect_limit,
                occupy=1,
                timeout_seconds=timeout,
                lease_duration=config.prefect_lease_seconds,
                strict=False,
            )
        )
    except TimeoutError as exc:
        raise TimeoutError(
            f"timed out after {timeout:g} s waiting for writer lock (Prefect limit {config.prefect_limit})"
        ) from exc
    except Exception as exc:  # an unreachable API must not stop a write the file lock protects
        _logger().warning(
            "Prefect concurrency limit %s unavailable (%s); relying on the file lock",
            config.prefect_limit,
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )


def _limit_is_full(name: str) -> bool:
    """Whether every slot of the Prefect limit is taken now (only to say that we are waiting)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            return False
    return limit.active_slots >= limit.limit


def ensure_writer_limit(name: str = WRITER_LIMIT_NAME, *, slots: int = 1) -> bool:
    """Create the Prefect global concurrency limit `name` with `slots` slots if it is missing.

    Returns True when it was created, False when it existed already.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return False
        except ObjectNotFound:
            pass
        try:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=slots)
            )
        except ObjectAlreadyExists:
            return False
    log.info("created Prefect global concurrency limit %s (%d slot)", name, slots)
    return True


def warehouse_at(db_path: str) -> Warehouse:
    """The warehouse at `db_path` as the flows use it: writers also take the Prefect limit when
    REELLOOP_WRITER_LIMIT names one."""
    return Warehouse.at(db_path, outer_lock=writer_limit_from_env())
