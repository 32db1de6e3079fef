"""The governance rules an export applies to each dataset, as the sentences its dataset card states."""

from __future__ import annotations

from features.export_config import ExportConfig
from features.export_schema import PROMPTS, STALE_LABEL_VERSION


def governance_policies(dataset: str, config: ExportConfig) -> list[str]:
    """The governance rules applied to `dataset`, as sentences for its dataset card."""
    flagged = f"flagged = any content_flags or >= {config.report_threshold} viewer reports"
    common = [
        "training_consent = false: the generation is in no dataset, nor is any pair that touches it",
        "outputs whose URI or prompt contains the creator id are left out; no creator or viewer ids are exported",
        f"rows come from label_version as stated; others are excluded as `{STALE_LABEL_VERSION}`",
    ]
    split = [
        "train/test split by request: sha256(split_salt, request_id) < test_fraction goes to test, "
        "so siblings never cross the split and a request has the same split in every dataset"
    ]
    specific = {
        "dpo": [
            f"{flagged}: a flagged generation is never `chosen` (it may be `rejected`)",
            f"pairs with merged confidence < {config.min_confidence} are excluded",
            *split,
        ],
        "kto": [
            f"{flagged}: a flagged generation is never a desirable (true) row; it may be undesirable (false)",
            "label `uncertain` is excluded (neither desirable nor undesirable)",
            *split,
        ],
        "reward": [
            f"{flagged}: flagged generations are excluded entirely (never a training target)",
            *split,
        ],
        PROMPTS: [
            f"{flagged}: flagged generations are not counted in any prompt's statistics",
            "one `train` split: the curriculum is a ranking of prompts, not training examples",
        ],
    }
    return common + specific[dataset]
