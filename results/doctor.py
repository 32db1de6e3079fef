"""What `reelloop doctor` found: one finding per check, each ok, a warning, or a problem."""

from __future__ import annotations

from dataclasses import dataclass

OK = "ok"
WARN = "warn"
FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    """One check: its area (versions, prefect, warehouse), its level and what it saw."""

    area: str
    level: str
    message: str


@dataclass(frozen=True)
class DoctorReport:
    """Every finding, in check order; `healthy` when none is a problem."""

    findings: tuple[Finding, ...]

    @property
    def healthy(self) -> bool:
        return all(finding.level != FAIL for finding in self.findings)
