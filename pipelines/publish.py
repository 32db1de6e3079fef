"""The step every writing stage ends with: publish the analysts' snapshot if it is behind."""

from __future__ import annotations

from pipelines.steps import IO_RETRY, step
from warehouse.resource import Warehouse


@step(IO_RETRY)
def publish_if_stale(warehouse: Warehouse) -> None:
    """Publish the read-only snapshot if anything committed since it was taken (also rows a run
    committed but was killed before publishing)."""
    warehouse.publish_if_stale()
