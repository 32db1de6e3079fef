"""Prompt text as the curriculum and the report read it: words, filler words, and the key that groups
near-identical prompts (same content words in the same order, whatever the case, punctuation or filler).

Pure polars; the same rules serve the prompt curriculum (features.prompt_curriculum), the DPO per-prompt
cap (features.export) and the report's prompt weaknesses (report.derive).
"""

from __future__ import annotations

import hashlib

import polars as pl

# English function words (articles, pronouns, prepositions, conjunctions, auxiliaries): they carry no content of their own, so an n-gram made of them (or a 2-gram
# holding one) says nothing about what a prompt asks for.
# fmt: off
STOP_WORDS: frozenset[str] = frozenset((
    "a", "about", "above", "across", "after", "again", "against", "all", "almost", "along",
    "also", "although", "am", "among", "amongst", "an", "and", "any", "are", "around", "as", "at",
    "be", "because", "been", "before", "behind", "being", "below", "beside", "besides", "between",
    "beyond", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during",
    "each", "either", "even", "ever", "every", "few", "for", "from", "further", "had", "has",
    "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how",
    "however", "i", "if", "in", "inside", "into", "is", "it", "its", "itself", "just", "me",
    "more", "most", "my", "myself", "near", "neither", "no", "nor", "not", "now", "of", "off",
    "on", "once", "only", "onto", "or", "other", "our", "ours", "ourselves", "out", "outside",
    "over", "own", "per", "quite", "rather", "really", "same", "she", "should", "since", "so",
    "some", "still", "such", "than", "that", "the", "their", "theirs", "them", "themselves",
    "then", "there", "therefore", "these", "they", "this", "those", "though", "through", "thus",
    "to", "too", "toward", "towards", "under", "unless", "until", "up", "upon", "very", "via",
    "was", "we", "were", "what", "when", "where", "whether", "which", "while", "who", "whom",
    "why", "will", "with", "within", "without", "would", "yet", "you", "your", "yours",
    "yourself", "yourselves",
))
# fmt: on
MIN_WORD_CHARS: int = 3
"""Words shorter than this (fragments such as the `s` of "it's" or the `up` of "close-up") are filler."""
WORD_PATTERN: str = r"[^\p{L}\p{N}]+"
"""Anything that is not a letter or a digit separates words (as the report's n-gram views split them)."""
PROMPT_KEY_HEX_CHARS: int = 16


def prompt_words(prompt: pl.Expr) -> pl.Expr:
    """The lower-cased words (letters and digits) of a prompt, in order, as a list."""
    return (
        prompt.str.to_lowercase()
        .str.replace_all(WORD_PATTERN, " ")
        .str.strip_chars()
        .str.split(" ")
        .list.eval(pl.element().filter(pl.element() != ""))
    )


def is_filler_word(word: pl.Expr, min_chars: int = MIN_WORD_CHARS) -> pl.Expr:
    """True for a stop word, a fragment shorter than `min_chars`, or a number on its own."""
    return (
        word.is_in(sorted(STOP_WORDS))
        | (word.str.len_chars() < min_chars)
        | word.str.contains(r"^\p{N}+$")
    )


def content_words(prompt: pl.Expr, min_chars: int = MIN_WORD_CHARS) -> pl.Expr:
    """The prompt's words without filler, in order."""
    return prompt_words(prompt).list.eval(
        pl.element().filter(~is_filler_word(pl.element(), min_chars))
    )


def prompt_text_key(prompt: pl.Expr) -> pl.Expr:
    """The text that groups near-identical prompts: content words in order, joined by spaces.

    "A red fox, chasing a butterfly!" and "a red fox chasing the butterfly" share it; "fox chasing a
    dog" and "dog chasing a fox" do not (word order carries meaning). A prompt of filler words only
    keeps all its words.
    """
    content = content_words(prompt).list.join(" ")
    return pl.when(content != "").then(content).otherwise(prompt_words(prompt).list.join(" "))


def prompt_cluster_ids(prompts: pl.Series) -> pl.Series:
    """A stable id per prompt: the leading hex of sha256 of its `prompt_text_key` (sha256, not polars'
    hash, so ids survive library upgrades); computed once per distinct key."""
    keys = prompts.to_frame("prompt").select(prompt_text_key(pl.col("prompt")).alias("key"))["key"]
    distinct = keys.drop_nulls().unique().sort()
    ids = [
        hashlib.sha256(key.encode("utf-8")).hexdigest()[:PROMPT_KEY_HEX_CHARS]
        for key in distinct.to_list()
    ]
    mapping = pl.DataFrame(
        {"key": distinct, "prompt_cluster": pl.Series(ids, dtype=pl.String)},
        schema={"key": pl.String, "prompt_cluster": pl.String},
    )
    return (
        keys.to_frame("key")
        .join(mapping, on="key", how="left", maintain_order="left")["prompt_cluster"]
        .alias("prompt_cluster")
    )
