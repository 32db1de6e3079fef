"""Import: a KuaiRand standard-log CSV mapped onto the event contract, as a landing zone."""

from __future__ import annotations

from landing.kuairand import ImportSummary, KuaiRandConfig, write_landing_zone
from pipelines.steps import DIRECT, StepRunner, step


# No retries: the step reads and writes local files; a failure is bad input or a bug, and
# repeating it would only repeat the error.
@step()
def write_kuairand_landing_zone(
    csv_path: str, out_dir: str, config: KuaiRandConfig
) -> ImportSummary:
    """Validate the CSV and write its events and generations under out_dir."""
    return write_landing_zone(csv_path, out_dir, config)


def import_kuairand(
    csv_path: str,
    out_dir: str,
    config: KuaiRandConfig | None = None,
    runner: StepRunner = DIRECT,
) -> ImportSummary:
    """Map a KuaiRand standard-log CSV onto the event contract, into the landing zone out_dir."""
    summary = runner.run(write_kuairand_landing_zone, csv_path, out_dir, config or KuaiRandConfig())
    runner.log.info(
        "KuaiRand %s: %d source rows -> events %s, %d generations, %d files in %s",
        csv_path,
        summary.source_rows,
        summary.events,
        summary.generations,
        len(summary.files),
        out_dir,
    )
    return summary
