"""Features of a generation known when it was generated (never engagement), for the preference model.

A `FeatureSpec` fixes everything the matrix depends on (hash widths, the model-version vocabulary,
the embedding width), so a model trained on one spec scores new generations with exactly the same
columns; its `sha256` identifies the spec in the model registry.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

log = logging.getLogger(__name__)

REQUIRED_COLUMNS: tuple[str, ...] = ("generation_id", "prompt", "model_version", "duration_ms")
OPTIONAL_COLUMNS: dict[str, pl.DataType] = {
    "width": pl.Int64(),
    "height": pl.Int64(),
    "fps": pl.Float64(),
    "reference_inputs": pl.List(pl.Struct({"kind": pl.String(), "uri": pl.String()})),
    "output_embedding": pl.List(pl.Float64()),
}
WORD_TOKEN_PATTERN = r"(?u)\b\w\w+\b"


@dataclass(frozen=True)
class FeatureSpec:
    """How generations become feature rows; `fit_feature_spec` fills the vocabulary fields from data."""

    word_ngram_range: tuple[int, int] = (1, 2)
    word_hash_features: int = 2**16
    char_ngram_range: tuple[int, int] = (3, 5)
    char_hash_features: int = 2**16
    version_word_hash_features: int = 2**16
    """model_version x prompt word crosses (a model may be good at some subjects); 0 disables."""
    reference_kinds: tuple[str, ...] = ("image", "video", "audio")
    model_versions: tuple[str, ...] = ()
    embedding_dim: int = 0
    fps_scale: float = 30.0
    pixels_scale: float = 1000.0
    schema_version: int = 1

    def canonical_json(self) -> str:
        """Sorted-key compact JSON: equal specs give equal text on every machine."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        """Stable identity of the spec (recorded as `feature_spec_hash` in the model registry)."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        """The spec written by `canonical_json` (lists back to tuples)."""
        raw = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"feature spec has unknown fields: {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})

    @property
    def dense_feature_names(self) -> tuple[str, ...]:
        """Names of the dense columns, in matrix order (they follow the hashed text blocks)."""
        names = [
            "prompt_chars_log",
            "prompt_words_log",
            "prompt_commas_log",
            "prompt_digits_log",
            "prompt_quotes_log",
        ]
        names += [f"model_version={v}" for v in self.model_versions] + ["model_version=<other>"]
        names += ["duration_s_log", "width", "height", "aspect_log", "resolution_missing"]
        names += ["fps", "fps_missing"]
        names += [f"reference_{k}_count" for k in self.reference_kinds]
        names += ["reference_other_count", "reference_count_log"]
        names += [f"embedding_{i}" for i in range(self.embedding_dim)] + ["embedding_missing"]
        return tuple(names)

    @property
    def n_features(self) -> int:
        return (
            self.word_hash_features
            + self.char_hash_features
            + self.version_word_hash_features
            + len(self.dense_feature_names)
        )


@dataclass(frozen=True)
class GenerationFeatures:
    """A sparse feature matrix whose row i describes `generation_ids[i]`."""

    generation_ids: np.ndarray
    matrix: sp.csr_matrix


def fit_feature_spec(generations: pl.DataFrame, spec: FeatureSpec | None = None) -> FeatureSpec:
    """The spec with its vocabulary taken from training generations: model versions, embedding width."""
    spec = spec or FeatureSpec()
    frame = _with_optional_columns(generations)
    versions = tuple(sorted(frame["model_version"].drop_nulls().unique().to_list()))
    widths = (
        frame.select(n=pl.col("output_embedding").list.len())
        .drop_nulls()
        .filter(pl.col("n") > 0)
        .group_by("n")
        .len()
        .sort(["len", "n"], descending=[True, False])
    )
    embedding_dim = int(widths["n"][0]) if widths.height else 0
    return replace(spec, model_versions=versions, embedding_dim=embedding_dim)


def generation_features(generations: pl.DataFrame, spec: FeatureSpec) -> GenerationFeatures:
    """Feature rows for generations (any order, ids kept): hashed prompt text, crosses, dense facts."""
    frame = _with_optional_columns(generations)
    blocks = [
        _prompt_word_block(frame, spec),
        _prompt_char_block(frame, spec),
        _version_word_block(frame, spec),
        sp.csr_matrix(_dense_block(frame, spec)),
    ]
    matrix = sp.hstack(blocks, format="csr", dtype=np.float64)
    return GenerationFeatures(frame["generation_id"].to_numpy(), matrix)


def _with_optional_columns(generations: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in generations.columns]
    if missing:
        raise ValueError(f"generations lack required feature columns: {', '.join(missing)}")
    frame = generations.with_columns(
        pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in OPTIONAL_COLUMNS.items()
        if name not in generations.columns
    )
    if isinstance(frame.schema["output_embedding"], pl.Array):
        frame = frame.with_columns(pl.col("output_embedding").cast(pl.List(pl.Float64)))
    nulls = frame.select(pl.col(c).null_count() for c in REQUIRED_COLUMNS).row(0)
    if any(nulls):
        bad = [c for c, n in zip(REQUIRED_COLUMNS, nulls, strict=True) if n]
        raise ValueError(f"generations have null required feature columns: {', '.join(bad)}")
    return frame


def _hashed_block(documents: pl.Series, vectorizer: HashingVectorizer) -> sp.csr_matrix:
    """Hash each distinct document once (siblings share a prompt), then spread to the rows."""
    codes = (documents.rank("dense").cast(pl.Int64) - 1).to_numpy()
    distinct = documents.unique().sort().to_list()
    return vectorizer.transform(distinct)[codes]


def _prompt_word_block(frame: pl.DataFrame, spec: FeatureSpec) -> sp.csr_matrix:
    vectorizer = HashingVectorizer(
        analyzer="word",
        ngram_range=spec.word_ngram_range,
        n_features=spec.word_hash_features,
        token_pattern=WORD_TOKEN_PATTERN,
        alternate_sign=False,
    )
    return _hashed_block(frame["prompt"], vectorizer)


def _prompt_char_block(frame: pl.DataFrame, spec: FeatureSpec) -> sp.csr_matrix:
    vectorizer = HashingVectorizer(
        analyzer="char_wb",
        ngram_range=spec.char_ngram_range,
        n_features=spec.char_hash_features,
        alternate_sign=False,
    )
    return _hashed_block(frame["prompt"], vectorizer)


def _version_word_block(frame: pl.DataFrame, spec: FeatureSpec) -> sp.csr_matrix:
    if spec.version_word_hash_features == 0:
        return sp.csr_matrix((frame.height, 0))
    known = pl.col("model_version").is_in(list(spec.model_versions))
    version = pl.when(known).then(pl.col("model_version")).otherwise(pl.lit("<other>"))
    crossed = frame.select(
        pl.col("prompt")
        .str.to_lowercase()
        .str.extract_all(WORD_TOKEN_PATTERN)
        .list.join(" ")
        .alias("words"),
        version.alias("version"),
    ).select(
        pl.concat_str(
            pl.col("version").str.replace_all(r"\s", "_"),
            pl.lit(" "),
            pl.col("words"),
        ).alias("document")
    )
    vectorizer = HashingVectorizer(
        analyzer=_version_crossed_tokens,
        n_features=spec.version_word_hash_features,
        alternate_sign=False,
    )
    return _hashed_block(crossed["document"], vectorizer)


def _version_crossed_tokens(document: str) -> list[str]:
    """`"<version> w1 w2"` -> `["<version>|w1", "<version>|w2"]` (the version's own bias is dense)."""
    version, *words = document.split(" ")
    return [f"{version}|{w}" for w in words if w]


def _dense_block(frame: pl.DataFrame, spec: FeatureSpec) -> np.ndarray:
    prompt = pl.col("prompt")
    width = pl.col("width").cast(pl.Float64)
    height = pl.col("height").cast(pl.Float64)
    has_resolution = (width > 0) & (height > 0)
    fps = pl.col("fps").cast(pl.Float64)
    has_fps = fps > 0
    kinds = pl.col("reference_inputs").list.eval(
        pl.element().struct.field("kind").str.to_lowercase()
    )
    known_versions = list(spec.model_versions)
    columns = [
        prompt.str.len_chars().log1p(),
        prompt.str.count_matches(WORD_TOKEN_PATTERN).log1p(),
        prompt.str.count_matches(",", literal=True).log1p(),
        prompt.str.count_matches(r"\d").log1p(),
        prompt.str.count_matches(r"[\"'“”‘’]").log1p(),
        *[(pl.col("model_version") == v).cast(pl.Float64) for v in known_versions],
        (~pl.col("model_version").is_in(known_versions)).cast(pl.Float64),
        (pl.col("duration_ms").cast(pl.Float64) / 1000.0).clip(lower_bound=1e-3).log(),
        pl.when(has_resolution).then(width / spec.pixels_scale).otherwise(0.0),
        pl.when(has_resolution).then(height / spec.pixels_scale).otherwise(0.0),
        pl.when(has_resolution).then((width / height).log()).otherwise(0.0),
        (~has_resolution.fill_null(False)).cast(pl.Float64),
        pl.when(has_fps).then(fps / spec.fps_scale).otherwise(0.0),
        (~has_fps.fill_null(False)).cast(pl.Float64),
        *[kinds.list.count_matches(k).fill_null(0) for k in spec.reference_kinds],
        (
            pl.col("reference_inputs").list.len().fill_null(0)
            - pl.sum_horizontal(
                kinds.list.count_matches(k).fill_null(0) for k in spec.reference_kinds
            )
        ),
        pl.col("reference_inputs").list.len().fill_null(0).cast(pl.Float64).log1p(),
    ]
    dense = frame.select(
        c.cast(pl.Float64).fill_null(0.0).alias(f"c{i}") for i, c in enumerate(columns)
    ).to_numpy()
    return np.hstack([dense, _embedding_block(frame["output_embedding"], spec.embedding_dim)])


def _embedding_block(embeddings: pl.Series, dim: int) -> np.ndarray:
    """Embedding columns plus a missing indicator; absent or wrong-width embeddings are zeros."""
    out = np.zeros((embeddings.len(), dim + 1), dtype=np.float64)
    lengths = embeddings.list.len().fill_null(0).to_numpy()
    present = lengths == dim if dim > 0 else np.zeros(embeddings.len(), dtype=bool)
    wrong_width = int(((lengths > 0) & ~present).sum())
    if wrong_width:
        log.warning("%d embeddings not of width %d were treated as missing", wrong_width, dim)
    if present.any():
        values = embeddings.filter(pl.Series(present)).cast(pl.List(pl.Float64)).explode()
        out[present, :dim] = values.fill_null(0.0).fill_nan(0.0).to_numpy().reshape(-1, dim)
    out[~present, dim] = 1.0
    return out


def generation_frame(
    prompt: str,
    model_versions: Sequence[str],
    *,
    duration_ms: int,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
) -> pl.DataFrame:
    """One hypothetical generation per model version of a new prompt (no output, so no embedding)."""
    n = len(model_versions)
    return pl.DataFrame(
        {
            "generation_id": [f"prompt:{v}" for v in model_versions],
            "prompt": [prompt] * n,
            "model_version": list(model_versions),
            "duration_ms": [duration_ms] * n,
            "width": [width] * n,
            "height": [height] * n,
            "fps": [fps] * n,
        },
        schema_overrides={"width": pl.Int64, "height": pl.Int64, "fps": pl.Float64},
    )
