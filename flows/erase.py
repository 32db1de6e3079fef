"""The erase flow: `pipelines.erase` as one task (not retried: one audit row per request).

The id travels as a `SecretStr`, so the Prefect API stores it masked, and it is never logged:
logs and the audit table show a salted hash.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import SecretStr

from flows.locking import warehouse_at
from pipelines.erase import erase
from results.erase import ErasureSummary


@task(cache_policy=NO_CACHE)
def erase_and_republish(
    db_path: str, kind: str, subject_id: SecretStr, reason: str | None
) -> ErasureSummary:
    """Delete, relabel, compact and republish under the writer lock."""
    return erase(warehouse_at(db_path), kind, subject_id.get_secret_value(), reason=reason)


@flow(name="erase")
def erase_flow(
    db_path: str, subject_kind: str, subject_id: SecretStr, reason: str | None = None
) -> ErasureSummary:
    """Erase one viewer or creator; the id travels as a SecretStr so Prefect stores it masked."""
    summary = erase_and_republish(db_path, subject_kind, subject_id, reason)
    get_run_logger().info(
        "erasure %s of %s %s...: %d rows deleted",
        summary.erasure_id,
        subject_kind,
        summary.subject_hash[:12],
        summary.total_deleted,
    )
    return summary
