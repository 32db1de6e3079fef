"""The event contract (DESIGN.md, "Event contract"): what apps write and what ingest accepts.

One definition of the record kinds, their fields, types, required fields and vocabularies, for
the writers of landing zones (simulator, importers) and for ingest's checks and carrier SQL.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

EVENTS = "events"
GENERATIONS = "generations"
RECORD_KINDS: tuple[str, ...] = (EVENTS, GENERATIONS)

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
REFERENCE_KINDS: tuple[str, ...] = ("image", "video", "audio")

# An id is valid only with a visible character and no control character. Ingest's SQL applies the
# same two classes (warehouse/sql/ingest/staged_*.sql) and erase accepts exactly what ingest does.
INVISIBLE_CATEGORIES: frozenset[str] = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
ID_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def id_problem(value: str) -> str | None:
    """Why `value` is not an acceptable id ("empty": no visible character; "control": a control
    character, NUL, C0/C1, U+2028/2029), or None."""
    if all(unicodedata.category(c) in INVISIBLE_CATEGORIES for c in value):
        return "empty"
    if ID_CONTROL_CHARACTERS.search(value):
        return "control"
    return None


@dataclass(frozen=True)
class ContractField:
    """One field of a record kind, the type the contract gives it, and whether it is required."""

    name: str
    value_type: str
    """string | integer | number | boolean | timestamp | references | embedding | string_list"""
    required: bool = False


EVENT_FIELDS: tuple[ContractField, ...] = (
    ContractField("event_id", "string", required=True),
    ContractField("event_type", "string", required=True),
    ContractField("generation_id", "string", required=True),
    ContractField("viewer_id", "string", required=True),
    ContractField("occurred_at", "timestamp", required=True),
    ContractField("surface", "string"),
    ContractField("position", "integer"),
    ContractField("watch_ms", "integer"),
    ContractField("session_id", "string"),
    ContractField("app_version", "string"),
)
GENERATION_FIELDS: tuple[ContractField, ...] = (
    ContractField("generation_id", "string", required=True),
    ContractField("request_id", "string", required=True),
    ContractField("creator_id", "string", required=True),
    ContractField("prompt", "string", required=True),
    ContractField("model_version", "string", required=True),
    ContractField("created_at", "timestamp", required=True),
    ContractField("duration_ms", "integer", required=True),
    ContractField("width", "integer"),
    ContractField("height", "integer"),
    ContractField("fps", "number"),
    ContractField("seed", "integer"),
    ContractField("reference_inputs", "references"),
    ContractField("output_uri", "string"),
    ContractField("output_embedding", "embedding"),
    ContractField("training_consent", "boolean"),
    ContractField("content_flags", "string_list"),
)
CONTRACTS: dict[str, tuple[ContractField, ...]] = {
    EVENTS: EVENT_FIELDS,
    GENERATIONS: GENERATION_FIELDS,
}


def field_names(kind: str) -> tuple[str, ...]:
    """The contract's field names of a record kind, in contract order."""
    return tuple(f.name for f in CONTRACTS[kind])


def required_field_names(kind: str) -> tuple[str, ...]:
    """The required field names of a record kind, in contract order."""
    return tuple(f.name for f in CONTRACTS[kind] if f.required)
