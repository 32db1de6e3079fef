"""The event contract's vocabularies (DESIGN.md, "Event contract"): what apps write, what ingest accepts.

One definition for the writers of landing zones (simulator, importers) and for ingest's checks.
"""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "impression",
    "view",
    "like",
    "unlike",
    "dislike",
    "favorite",
    "share",
    "comment",
    "download",
    "select",
    "regenerate",
    "report",
)
SURFACES: tuple[str, ...] = ("feed", "studio", "profile", "search", "share")
