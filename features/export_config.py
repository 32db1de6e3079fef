"""What an export is asked for: the window, filters and options an ML engineer picks, the split, the
governance thresholds and the card's license and language, validated into one-line errors."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from features.export_schema import ALL_DATASETS
from features.pair_merging import FEED_SOURCE, MergeRule
from features.pairs import STUDIO_SOURCES
from features.prompt_curriculum import PriorityRule

PAIR_SOURCES: tuple[str, ...] = (FEED_SOURCE, *STUDIO_SOURCES)
"""The sources the label stage gives preference pairs (`--sources` picks among them)."""
NEGATIVE_MARGIN_RULES: tuple[str, ...] = ("keep", "drop")
DEFAULT_LICENSE_NOTE: str = (
    "the videos and prompts are user generations under the product's terms of service, not an open "
    "license: use them only to train the product's own models (set --license when one applies)"
)


# Rows are written sorted by these keys so the same warehouse state gives the same bytes.
@dataclass(frozen=True)
class ExportConfig:
    """What to export: window on generation created_at [since, until), filters, options, split,
    governance, and the card's license and language."""

    since: datetime | None = None
    until: datetime | None = None
    min_confidence: float = 0.0
    test_fraction: float = 0.1
    report_threshold: int = 3  # a generation with >= this many viewer reports is treated as flagged
    split_salt: str = "reelloop-split-v1"
    label_version: str | None = None  # None: the warehouse's newest label_version
    same_model_version: bool = False  # DPO: only pairs whose sides share a model version
    model_versions: tuple[str, ...] = ()  # only generations of these versions (empty: all)
    min_margin: float | None = None  # DPO: only pairs with quality margin >= this
    max_pairs_per_prompt: int | None = None  # DPO: at most this many pairs per prompt cluster
    sources: tuple[str, ...] = ()  # DPO: only evidence from these pair sources (empty: all)
    max_contradiction: float = MergeRule.max_contradiction
    negative_margin: str = "keep"  # DPO: keep (explained in the card) or drop negative margins
    datasets: tuple[str, ...] = ALL_DATASETS
    license: str = "other"
    license_note: str = DEFAULT_LICENSE_NOTE
    language: tuple[str, ...] = ("en",)
    priority_confidence: float = PriorityRule.confidence  # prompts: level of the deficit's bound
    priority_min_generations: int = PriorityRule.min_generations  # prompts: fewer: priority 0

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=UTC))
        for name in ("model_versions", "sources", "datasets", "language"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))
        if self.license != "other" and self.license_note == DEFAULT_LICENSE_NOTE:
            object.__setattr__(self, "license_note", f"set to `{self.license}` by the exporter")
        self.check_ranges()
        self.check_choices()

    def check_ranges(self) -> None:
        """One-line errors for numbers out of range (named as the command line spells them)."""
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError(
                f"--since ({self.since:%Y-%m-%d %H:%M}) must be before --until ({self.until:%Y-%m-%d %H:%M})"
            )
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"--min-confidence must be in [0, 1], got {self.min_confidence}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"--test-fraction must be in [0, 1), got {self.test_fraction}")
        if self.report_threshold < 1:
            raise ValueError(f"--report-threshold must be >= 1, got {self.report_threshold}")
        if self.min_margin is not None and not -1.0 <= self.min_margin <= 1.0:
            raise ValueError(f"--min-margin must be in [-1, 1], got {self.min_margin}")
        if self.max_pairs_per_prompt is not None and self.max_pairs_per_prompt < 1:
            raise ValueError(
                f"--max-pairs-per-prompt must be >= 1, got {self.max_pairs_per_prompt}"
            )
        self.priority_rule  # noqa: B018 (validates)
        self.merge_rule  # noqa: B018 (validates)

    def check_choices(self) -> None:
        """One-line errors for options outside their choices."""
        if self.negative_margin not in NEGATIVE_MARGIN_RULES:
            raise ValueError(
                f"--negative-margin must be one of {', '.join(NEGATIVE_MARGIN_RULES)}, "
                f"got {self.negative_margin!r}"
            )
        unknown = sorted(set(self.datasets) - set(ALL_DATASETS))
        if unknown or not self.datasets:
            raise ValueError(
                f"--datasets must name some of {', '.join(ALL_DATASETS)}, got {', '.join(unknown) or 'none'}"
            )
        unknown = sorted(set(self.sources) - set(PAIR_SOURCES))
        if unknown:
            raise ValueError(
                f"--sources names unknown source(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(PAIR_SOURCES))})"
            )
        if not self.license.strip() or any(not code.strip() for code in self.language):
            raise ValueError("--license and --language must not be empty")

    @property
    def merge_rule(self) -> MergeRule:
        """How DPO evidence about one pair combines."""
        return MergeRule(max_contradiction=self.max_contradiction)

    @property
    def priority_rule(self) -> PriorityRule:
        """How the prompt curriculum turns a deficit into a priority."""
        return PriorityRule(self.priority_confidence, self.priority_min_generations)

    def as_parameters(self) -> dict[str, object]:
        """The parameters as JSON-ready values (ISO timestamps, lists), recorded in manifests and `exports`."""
        params = asdict(self)
        for name in ("since", "until"):
            value = params[name]
            params[name] = None if value is None else value.astimezone(UTC).isoformat()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
