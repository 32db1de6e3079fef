"""The registered champion model and its artifact, as train and score read it."""

from __future__ import annotations

from dataclasses import dataclass

from models.artifacts import load_bundle
from models.training import ScoringBundle
from pipelines.steps import IO_RETRY, step
from warehouse.registry import RegisteredModel, read_champion
from warehouse.resource import Warehouse


@dataclass(frozen=True)
class Champion:
    """The registered champion and its loaded model."""

    record: RegisteredModel
    bundle: ScoringBundle


@step(IO_RETRY)
def read_current_champion(warehouse: Warehouse) -> Champion | None:
    """The champion's registry row and its artifact (sha256-checked), or None before the first one."""
    with warehouse.writer(publish=False) as con:
        record = read_champion(con)
    if record is None:
        return None
    return Champion(record, load_bundle(record.artifact_path, record.artifact_sha256))


def require_champion(champion: Champion | None) -> Champion:
    """The champion, or a one-line error saying to train first."""
    if champion is None:
        raise ValueError("no champion model yet: run `reelloop train` first")
    return champion
