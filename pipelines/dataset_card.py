"""The dataset card (README.md) of an exported dataset: YAML front matter the Hugging Face Hub and
`datasets` read (license, language, task categories, size, configs), then prose an ML engineer needs
before training: how to load it, its columns, how labels and confidences are made, its filters and
options, known biases, limitations, provenance, row counts and exclusions.

Pure text: the writer (pipelines.dataset_files) passes what it wrote; nothing here reads the clock or
the output path, so the same export gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

SIZE_CATEGORIES: tuple[tuple[int, str], ...] = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)
LARGEST_SIZE_CATEGORY = "n>1B"
VIDEO_COLUMNS: dict[str, tuple[str, ...]] = {
    "dpo": ("chosen", "rejected"),
    "kto": ("completion",),
    "reward": ("completion",),
}


@dataclass(frozen=True)
class CardFile:
    """A data file as the card lists it."""

    split: str
    rows: int


@dataclass(frozen=True)
class DatasetContent:
    """One dataset to write: its rows per split, how to describe it, and what was left out."""

    name: str
    title: str
    description: str
    schema: dict[str, pl.DataType]
    column_descriptions: dict[str, str]
    splits: dict[str, pl.DataFrame]
    excluded: dict[str, int]
    exclusion_order: Sequence[str]
    exclusion_units: dict[str, str]
    policies: Sequence[str]
    model_versions: dict[str, int]
    created_range: tuple[datetime | None, datetime | None] = (None, None)
    sections: Sequence[tuple[str, str]] = ()
    """Prose sections of this dataset only: (heading, markdown)."""
    details: dict[str, object] = field(default_factory=dict)
    """Extra manifest entries (e.g. how DPO evidence merged)."""
    tags: Sequence[str] = ()


@dataclass(frozen=True)
class ExportMetadata:
    """What the whole export was built from (all of it from warehouse state, none from the clock)."""

    parameters: dict[str, object]
    label_version: str
    as_of: datetime | None
    champion: dict[str, str] | None
    option_descriptions: dict[str, str] = field(default_factory=dict)
    shared_sections: Sequence[tuple[str, str]] = ()
    """Prose sections every card carries after the dataset's own: (heading, markdown)."""


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 text of a timestamp, or None."""
    return None if moment is None else moment.isoformat()


def markdown_cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def yaml_text(value: str) -> str:
    """A YAML scalar for any text: a JSON string is valid YAML and never misread as another type."""
    return json.dumps(value, ensure_ascii=False)


def size_category(rows: int) -> str:
    """The Hub's size_categories bucket of a row count."""
    for bound, name in SIZE_CATEGORIES:
        if rows < bound:
            return name
    return LARGEST_SIZE_CATEGORY


def yaml_list(key: str, values: Sequence[str]) -> list[str]:
    """`key:` followed by one `- value` line per value."""
    return [f"{key}:", *(f"- {yaml_text(v)}" for v in values)]


def card_front_matter(
    content: DatasetContent, files: Sequence[CardFile], metadata: ExportMetadata
) -> list[str]:
    """YAML front matter: license, language, task categories, size, pretty name, tags and `configs`
    (one data_files entry per non-empty split, so `datasets.load_dataset(<folder>)` finds them)."""
    params = metadata.parameters
    license_id = str(params.get("license", "other"))
    lines = ["---", f"license: {yaml_text(license_id)}"]
    if license_id == "other":
        lines.append(f"license_name: {yaml_text('reelloop-user-generations')}")
    lines += yaml_list("language", [str(v) for v in params.get("language") or ["en"]])  # type: ignore[union-attr]
    lines += yaml_list("task_categories", ["text-to-video"])
    lines += yaml_list("size_categories", [size_category(sum(f.rows for f in files))])
    lines.append(f"pretty_name: {yaml_text(content.title)}")
    lines += yaml_list("tags", list(dict.fromkeys(["reelloop", content.name, *content.tags])))
    lines += ["configs:", "- config_name: default"]
    splits = [split for split in content.splits if any(f.split == split for f in files)]
    if splits:
        lines.append("  data_files:")
        for split in splits:
            lines += [f"  - split: {split}", f"    path: data/{split}-*"]
    return [*lines, "---", "", f"# {content.title}", "", content.description, ""]


def card_loading(content: DatasetContent) -> list[str]:
    """How to load the dataset, and how to turn its URI columns into decoded videos."""
    lines = [
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        'ds = load_dataset("<this folder>")  # splits from the `configs` above',
        '# or: load_dataset("parquet", data_dir="<this folder>/data")',
        "```",
        "",
        "A split with no rows is left out of `configs` (`datasets` cannot load a zero-row split).",
        "",
    ]
    video_columns = VIDEO_COLUMNS.get(content.name)
    if not video_columns:
        return lines
    first = video_columns[0]
    return lines + [
        "The video columns ("
        + ", ".join(f"`{c}`" for c in video_columns)
        + ") hold URIs. Where a decoder is installed (`pip install torchcodec`) and the URIs are "
        "reachable (local paths, http(s), or object stores through their fsspec package and credentials), "
        "cast them to the `Video` feature:",
        "",
        "```python",
        "from datasets import Video",
        "",
        f'ds = ds.cast_column("{first}", Video())  # decodes on access',
        f'ds = ds.cast_column("{first}", Video(decode=False))  # {{path, bytes}}, no decoder needed',
        "```",
        "",
        "`*reference_inputs` is a list of `{kind, uri}` (kind image, video or audio): map each uri to "
        "the matching feature yourself, as kinds differ within a row.",
        "",
    ]


def type_name(dtype: pl.DataType) -> str:
    """A column type as the Parquet files hold it: string, int64, list<string>, struct<kind: string>."""
    if isinstance(dtype, pl.List):
        return f"list<{type_name(dtype.inner)}>"
    if isinstance(dtype, pl.Struct):
        return "struct<" + ", ".join(f"{f.name}: {type_name(f.dtype)}" for f in dtype.fields) + ">"
    return {pl.Boolean: "bool", pl.String: "string"}.get(type(dtype), str(dtype).lower())


def card_columns(content: DatasetContent) -> list[str]:
    """The columns with their types and meaning."""
    lines = ["## Columns", "", "| column | type | meaning |", "|---|---|---|"]
    for name, dtype in content.schema.items():
        meaning = markdown_cell(content.column_descriptions[name])
        lines.append(f"| {name} | {markdown_cell(type_name(dtype))} | {meaning} |")
    return [*lines, ""]


def prose(sections: Sequence[tuple[str, str]]) -> list[str]:
    """Markdown sections from (heading, body) pairs."""
    lines: list[str] = []
    for heading, body in sections:
        lines += [f"## {heading}", "", body, ""]
    return lines


def card_options(metadata: ExportMetadata) -> list[str]:
    """Every export parameter with its value and meaning (label_version: the one actually used)."""
    lines = ["## Export options", "", "| option | value | meaning |", "|---|---|---|"]
    for name, value in sorted(metadata.parameters.items()):
        if name == "label_version" and value is None:
            shown = f"{metadata.label_version} (the warehouse's newest)"
        elif value is None or value == []:
            shown = "not set"
        else:
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        meaning = metadata.option_descriptions.get(name, "")
        lines.append(f"| {name} | {markdown_cell(shown)} | {markdown_cell(meaning)} |")
    return [*lines, ""]


def card_provenance(content: DatasetContent, metadata: ExportMetadata, export_id: str) -> list[str]:
    """Where the rows come from: export id, label version, window, generators, champion."""
    params = metadata.parameters
    window = f"[{params.get('since') or 'beginning'}, {params.get('until') or 'end'})"
    first, last = (iso(moment) or "n/a" for moment in content.created_range)
    champion = metadata.champion
    versions = ", ".join(f"`{markdown_cell(v)}` ({n})" for v, n in content.model_versions.items())
    champion_text = (
        f"`{champion['model_id']}` ({champion['model_kind']}, label_version `{champion['label_version']}`)"
        if champion
        else "none registered"
    )
    return [
        "## Provenance",
        "",
        f"- export_id: `{export_id}`",
        f"- label_version: `{metadata.label_version}`",
        f"- as of (latest label or pair in the warehouse): {iso(metadata.as_of) or 'n/a'}",
        f"- window on generation created_at: {window}; exported generations created {first} to {last}",
        "- generator model versions (generations in rows): " + (versions or "none"),
        f"- preference model champion: {champion_text}",
        "",
    ]


def card_rows_and_exclusions(content: DatasetContent, files: Sequence[CardFile]) -> list[str]:
    """Rows per split, the governance policies applied, and exclusions per reason with their unit."""
    lines = ["## Rows", "", "| split | rows | files |", "|---|---|---|"]
    for split in content.splits:
        split_files = [f for f in files if f.split == split]
        lines.append(f"| {split} | {sum(f.rows for f in split_files)} | {len(split_files)} |")
    lines += ["", "## Filters and governance", ""]
    lines += [f"- {policy}" for policy in content.policies]
    lines += [
        "",
        "## Excluded rows",
        "",
        "Each excluded row is counted once, under the first reason that applies, in this order: "
        + ", ".join(f"`{reason}`" for reason in content.exclusion_order)
        + ".",
        "",
        "| reason | excluded | counted in |",
        "|---|---|---|",
    ]
    return lines + [
        f"| {reason} | {content.excluded.get(reason, 0)} | {content.exclusion_units[reason]} |"
        for reason in content.exclusion_order
    ]


def card_traceability(
    content: DatasetContent, metadata: ExportMetadata, export_id: str
) -> list[str]:
    """How each row traces back to the warehouse, and the license note."""
    return [
        "",
        "## Traceability",
        "",
        "Every row keeps its generation ids and label_version (DPO rows also the preference_pairs ids "
        "of their evidence); the warehouse tables `labels`, `preference_pairs` and `generations` hold "
        f"them. The warehouse table `export_rows` (export_id = `{export_id}`) lists each row's "
        "generations by dataset, split and row index; `exports` records the export. No creator or "
        "viewer ids are exported.",
        "",
        "## License",
        "",
        f"`{metadata.parameters.get('license', 'other')}`: {metadata.parameters.get('license_note', '')}",
        "",
    ]


def dataset_card(
    content: DatasetContent, files: Sequence[CardFile], metadata: ExportMetadata, export_id: str
) -> str:
    """README.md: YAML front matter, then the card's sections."""
    lines = [
        *card_front_matter(content, files, metadata),
        *card_loading(content),
        *card_columns(content),
        *prose(content.sections),
        *prose(metadata.shared_sections),
        *card_options(metadata),
        *card_provenance(content, metadata, export_id),
        *card_rows_and_exclusions(content, files),
        *card_traceability(content, metadata, export_id),
    ]
    return "\n".join(lines)
