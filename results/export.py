"""What an export wrote: where, from which label version, rows per dataset and split, exclusions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ExportSummary:
    """One export: its id, folder, provenance, counts[dataset][split] and excluded[dataset][reason]."""

    export_id: str
    path: str
    label_version: str | None
    as_of: str | None
    counts: dict[str, dict[str, int]]
    excluded: dict[str, dict[str, int]]
    newly_recorded: bool
    pair_merging: dict[str, Any] = field(default_factory=dict)
    """How DPO evidence rows became rows: read, excluded per row, merged, dropped, exported."""
