"""What the dataset cards of an export say in prose: how labels and confidences are made, how DPO
evidence merges, the consent and content filters, known biases and limitations, each option's meaning,
and how the prompt curriculum ranks prompts. Text only, filled with the export's parameters and counts.
"""

from __future__ import annotations

from typing import Any

from features.export_config import ExportConfig
from features.pair_merging import FEED_SOURCE, MergeRule

OPTION_DESCRIPTIONS: dict[str, str] = {
    "since": "only generations created at or after this time (UTC)",
    "until": "only generations created before this time (UTC)",
    "min_confidence": "DPO: only pairs whose merged confidence is at least this",
    "test_fraction": "share of requests in the test split (by a hash of request_id)",
    "report_threshold": "a generation with this many viewer reports counts as flagged",
    "split_salt": "salt of the request hash that assigns the split",
    "label_version": "the labeling the rows come from",
    "same_model_version": "DPO: only pairs whose two videos share a model version",
    "model_versions": "only generations of these model versions (not set: all)",
    "min_margin": "DPO: only pairs with quality_score(chosen) - quality_score(rejected) >= this",
    "max_pairs_per_prompt": "DPO: at most this many pairs per prompt cluster (most confident kept)",
    "sources": "DPO: only evidence from these pair sources (not set: all)",
    "max_contradiction": "DPO: drop a pair when evidence against its direction is at least this confident",
    "negative_margin": "DPO: keep (explained below) or drop pairs whose chosen side is labelled lower",
    "datasets": "the datasets this export writes",
    "license": "license id in the card's YAML",
    "license_note": "why that license",
    "language": "language codes of the prompts",
    "priority_confidence": "prompts: one-sided confidence of the deficit bound behind `priority`",
    "priority_min_generations": "prompts: clusters with fewer labeled generations get priority 0",
}


def label_section() -> tuple[str, str]:
    """How engagement becomes labels and pair confidences."""
    return (
        "How labels and confidence are derived",
        "Labels come from engagement on the product, not from human raters. Bots and abnormal viewers "
        "are removed and a creator's engagement with their own video never counts; impressions are "
        "weighted by an examination curve over feed positions fitted from the data (position bias), "
        "watch time becomes a completion quantile within duration buckets (duration bias), and each "
        "rate is shrunk toward an empirical-Bayes prior per model version so sparse videos do not look "
        "extreme. `quality_score` is the normal CDF of a weighted sum of the standardised signals; "
        "`label` is `good` when its 5% bound is >= 0.6, `bad` when its 95% bound is <= 0.4, else "
        "`uncertain`.\n\nPreference evidence has three sources: `sibling` (the posterior probability "
        "that one sibling's quality beats the other's reaches 0.9; confidence = that probability), "
        "`select` (in the studio the creator kept one candidate over a sibling shown with it) and "
        "`regenerate` (the creator rerolled one candidate and not the other). A studio vote's "
        "confidence is the probability that its winner is truly better given the vote and the feed, "
        "under a probit choice model whose noise is fitted per source.",
    )


def consent_section(config: ExportConfig) -> tuple[str, str]:
    """The consent and content-flag filters."""
    return (
        "Consent and content filters",
        "A generation whose record says `training_consent = false` is in no dataset, and no pair "
        "touching it is exported. A generation with any `content_flags` (e.g. real_person, "
        f"ip_character, unsafe) or with {config.report_threshold} or more viewer reports is flagged: "
        "it is never DPO `chosen`, never a desirable KTO row, never a reward target and never counted "
        "in the prompt curriculum; it may appear as DPO `rejected` or an undesirable KTO row, which "
        "teaches the model away from it. Outputs whose URI or prompt embeds the creator id are left "
        "out, and no creator or viewer id is exported. Every exclusion is counted below.",
    )


def biases_section() -> tuple[str, str]:
    """What the labels measure and which biases the debiasing does and does not remove."""
    return (
        "Known biases",
        "- Engagement is not quality: viewers reward what is engaging to them (subjects, novelty, "
        "faces, short loops), which overlaps with but is not visual fidelity, prompt adherence or "
        "safety.\n"
        "- Exposure: a video shown to few viewers has a wide interval and is often `uncertain`; the "
        "recommender's choices of whom to show what are not randomised, so audiences differ between "
        "videos.\n"
        "- Position and duration: the examination curve and duration buckets remove the average "
        "effect of feed position and length; they do not remove position effects that differ between "
        "viewers or surfaces, nor a ranker that places better videos higher (that slope remains).\n"
        "- Creators: studio select / regenerate votes reflect one creator's taste and intent, and "
        "active creators contribute more pairs.\n"
        "- Model versions and prompts: versions serve different prompt mixes and periods; compare "
        "them on the same prompts, not by overall means.",
    )


def limitations_section() -> tuple[str, str]:
    """What the datasets cannot tell."""
    return (
        "Limitations",
        "- Completions are URIs: the videos themselves are not in the files and must be reachable to "
        "train on them.\n"
        "- Labels are estimates with intervals; `uncertain` labels are left out of KTO, and low "
        "confidence pairs can be filtered with the options.\n"
        "- Only siblings (candidates of one request) are compared; there are no cross-prompt pairs.\n"
        "- The window selects by generation time; engagement that arrives later can still move a "
        "label, so a later export of the same window can differ (its label_version and as-of say so).\n"
        "- Prompts are those of the product's creators; their topics, languages and styles are not "
        "balanced.",
    )


def shared_sections(config: ExportConfig) -> list[tuple[str, str]]:
    """The prose every card of an export carries."""
    return [label_section(), consent_section(config), biases_section(), limitations_section()]


def dedup_section(config: ExportConfig, merging: dict[str, Any]) -> tuple[str, str]:
    """DPO: the one-row-per-pair rule, how confidences combine, and what it did to this export."""
    cap = MergeRule().confidence_cap
    return (
        "One row per pair",
        "Evidence rows of `preference_pairs` about the same two generations (from several sources, "
        "possibly in opposite directions) merge into one row per unordered pair, so no pair appears "
        "twice or in both directions. Confidences combine in log-odds with the feed counted once: "
        f"the `{FEED_SOURCE}` confidence is the feed posterior, and a studio source's confidence is "
        "already a posterior given that feed, so\n\n"
        "`L = L_feed + sum over studio rows of (L_row - L_feed)`\n\n"
        "with each L a log-odds signed toward one side and L_feed = 0 when the feed left the pair "
        f"undecided (no `{FEED_SOURCE}` row). |L| is capped at logit({cap}); the sign picks `chosen`, "
        f"`confidence` = sigmoid(|L|). A pair is dropped as `contradictory_evidence` when an evidence "
        f"row against the merged direction has confidence >= {config.max_contradiction} "
        "(`max_contradiction`) or the evidence cancels out.\n\n"
        f"In this export: {merging.get('evidence_rows', 0)} evidence rows read, "
        f"{merging.get('evidence_rows_excluded', 0)} excluded row by row, "
        f"{merging.get('evidence_rows_merged', 0)} merged into {merging.get('merged_pairs', 0)} pairs "
        f"({merging.get('pairs_with_several_rows', 0)} with several rows, "
        f"{merging.get('pairs_with_opposing_evidence', 0)} with evidence pointing both ways), "
        f"{merging.get('pairs_excluded', 0)} pairs excluded, {merging.get('exported_pairs', 0)} "
        f"exported; {merging.get('exported_cross_model_version', 0)} exported pairs compare two "
        "model versions (restrict with `--same-model-version` or `--model-version`).",
    )


def margin_section(config: ExportConfig, merging: dict[str, Any]) -> tuple[str, str]:
    """DPO: why a margin can disagree with the chosen side, and the rule applied."""
    rule = (
        "kept (`--negative-margin keep`)"
        if config.negative_margin == "keep"
        else "dropped as `negative_margin` (`--negative-margin drop`)"
    )
    return (
        "Negative margins",
        "`margin` is quality_score(chosen) - quality_score(rejected), from the per-video engagement "
        "labels. The feed alone never orders a pair against its labels, but a studio vote can: a "
        "creator's explicit select (or reroll) is direct evidence about these two videos and may "
        "outweigh a higher engagement label of the other sibling, whose feed audience saw it without "
        f"the comparison. Such pairs are {rule}; this export holds "
        f"{merging.get('exported_negative_margin', 0)} of them. Filter them with `margin >= 0` or "
        "use `--min-margin` when a trainer weights by margin.",
    )


def prompts_section(config: ExportConfig, predicted_versions: tuple[str, ...]) -> tuple[str, str]:
    """The curriculum: clusters, the version-adjusted deficit, its bound and the predictions."""
    versions = ", ".join(f"`{v}`" for v in predicted_versions) or "none (no champion)"
    return (
        "How prompts are ranked",
        "Prompts are grouped when their content words (lower-cased, filler words and fragments "
        "removed) are the same in the same order. For each cluster, `expected_quality` is what the "
        "model versions that served it achieve over all prompts, weighted by how many of the "
        "cluster's generations each made, so a prompt is not blamed for a weak version; `deficit` "
        "is expected minus observed. `priority` = max(0, deficit - z * sd / sqrt(n)), with z the "
        f"one-sided normal quantile at {config.priority_confidence} and sd the spread of quality "
        "around the version means over every included generation: clusters that clearly "
        "underperform with enough generations come first; thin evidence gives 0, and so does a "
        f"cluster with fewer than {config.priority_min_generations} labeled generations. Versions scored by "
        f"the preference model: {versions} (each cluster's representative prompt, its median "
        "duration and each version's most common resolution and fps; no output exists, so no "
        "embedding is used). The same scores come from `reelloop score-prompt --file PROMPTS.txt`.",
    )
