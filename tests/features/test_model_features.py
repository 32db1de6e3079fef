"""Model features: known at generation time only, aligned with generation ids, stable spec hash."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import polars as pl
import pytest

from features.model_features import (
    FeatureSpec,
    fit_feature_spec,
    generation_features,
    generation_frame,
)

SMALL = FeatureSpec(word_hash_features=64, char_hash_features=64, version_word_hash_features=32)


def generations() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "generation_id": ["a", "b", "c"],
            "prompt": ['A cat, 2 "dogs"', 'A cat, 2 "dogs"', "sunset over hills"],
            "model_version": ["v2", "v1", "v2"],
            "duration_ms": [5000, 2000, 10_000],
            "width": [1280, None, 720],
            "height": [720, None, 1280],
            "fps": [24.0, None, 30.0],
            "reference_inputs": [
                [{"kind": "image", "uri": "s3://x"}],
                None,
                [{"kind": "Video", "uri": "s3://y"}, {"kind": "sketch", "uri": "s3://z"}],
            ],
            "output_embedding": [[0.5, -1.0], None, [2.0, 0.25]],
        }
    )


def dense(spec: FeatureSpec, frame: pl.DataFrame) -> dict[str, np.ndarray]:
    matrix = generation_features(frame, spec).matrix
    names = spec.dense_feature_names
    block = matrix[:, matrix.shape[1] - len(names) :].toarray()
    return dict(zip(names, block.T, strict=True))


def test_spec_hash_is_sha256_of_canonical_json_and_round_trips():
    spec = fit_feature_spec(generations(), SMALL)
    assert spec.model_versions == ("v1", "v2") and spec.embedding_dim == 2
    assert spec.sha256 == hashlib.sha256(spec.canonical_json().encode()).hexdigest()
    assert FeatureSpec.from_json(spec.canonical_json()) == spec
    assert FeatureSpec.from_json(spec.canonical_json()).sha256 == spec.sha256
    assert spec.sha256 != SMALL.sha256
    assert '"model_versions":["v1","v2"]' in spec.canonical_json()
    with pytest.raises(ValueError, match="unknown fields: colour"):
        FeatureSpec.from_json('{"colour": 1}')


def test_dense_features_hold_the_generation_facts():
    spec = fit_feature_spec(generations(), SMALL)
    cols = dense(spec, generations())
    np.testing.assert_allclose(cols["prompt_chars_log"], np.log1p([15, 15, 17]))
    np.testing.assert_allclose(
        cols["prompt_words_log"], np.log1p([2, 2, 3])
    )  # 'A' and '2' are 1 char
    np.testing.assert_allclose(cols["prompt_commas_log"], np.log1p([1, 1, 0]))
    np.testing.assert_allclose(cols["prompt_digits_log"], np.log1p([1, 1, 0]))
    np.testing.assert_allclose(cols["prompt_quotes_log"], np.log1p([2, 2, 0]))
    np.testing.assert_array_equal(cols["model_version=v1"], [0, 1, 0])
    np.testing.assert_array_equal(cols["model_version=v2"], [1, 0, 1])
    np.testing.assert_array_equal(cols["model_version=<other>"], [0, 0, 0])
    np.testing.assert_allclose(cols["duration_s_log"], np.log([5.0, 2.0, 10.0]))
    np.testing.assert_allclose(cols["width"], [1.28, 0.0, 0.72])
    np.testing.assert_allclose(cols["height"], [0.72, 0.0, 1.28])
    np.testing.assert_allclose(
        cols["aspect_log"], [math.log(1280 / 720), 0.0, math.log(720 / 1280)]
    )
    np.testing.assert_array_equal(cols["resolution_missing"], [0, 1, 0])
    np.testing.assert_allclose(cols["fps"], [0.8, 0.0, 1.0])
    np.testing.assert_array_equal(cols["fps_missing"], [0, 1, 0])
    np.testing.assert_array_equal(cols["reference_image_count"], [1, 0, 0])
    np.testing.assert_array_equal(cols["reference_video_count"], [0, 0, 1])
    np.testing.assert_array_equal(cols["reference_other_count"], [0, 0, 1])
    np.testing.assert_allclose(cols["reference_count_log"], np.log1p([1, 0, 2]))
    np.testing.assert_allclose(cols["embedding_0"], [0.5, 0.0, 2.0])
    np.testing.assert_allclose(cols["embedding_1"], [-1.0, 0.0, 0.25])
    np.testing.assert_array_equal(cols["embedding_missing"], [0, 1, 0])


def test_rows_follow_generation_ids_and_siblings_share_prompt_features():
    spec = fit_feature_spec(generations(), SMALL)
    features = generation_features(generations(), spec)
    assert features.generation_ids.tolist() == ["a", "b", "c"]
    assert features.matrix.shape == (3, spec.n_features)
    text = features.matrix[:, : SMALL.word_hash_features + SMALL.char_hash_features].toarray()
    np.testing.assert_array_equal(text[0], text[1])
    assert not np.array_equal(text[0], text[2])
    shuffled = generation_features(generations().reverse(), spec)
    assert shuffled.generation_ids.tolist() == ["c", "b", "a"]
    np.testing.assert_array_equal(shuffled.matrix.toarray(), features.matrix.toarray()[::-1])


def test_version_word_crosses_differ_between_model_versions_of_one_prompt():
    spec = fit_feature_spec(generations(), SMALL)
    matrix = generation_features(generations(), spec).matrix.toarray()
    start = SMALL.word_hash_features + SMALL.char_hash_features
    crosses = matrix[:, start : start + SMALL.version_word_hash_features]
    assert crosses[0].sum() > 0 and not np.array_equal(crosses[0], crosses[1])


def test_engagement_columns_cannot_leak_into_features():
    spec = fit_feature_spec(generations(), SMALL)
    plain = generation_features(generations(), spec).matrix
    with_engagement = generations().with_columns(
        likes=pl.Series([1000, 0, 5]), quality_score=pl.Series([0.9, 0.1, 0.5])
    )
    assert (generation_features(with_engagement, spec).matrix != plain).nnz == 0


def test_unknown_versions_missing_columns_and_bad_embeddings():
    spec = fit_feature_spec(generations(), SMALL)
    frame = generation_frame("a cat", ["v1", "v9"], duration_ms=3000)
    cols = dense(spec, frame)
    np.testing.assert_array_equal(cols["model_version=<other>"], [0, 1])
    np.testing.assert_array_equal(cols["embedding_missing"], [1, 1])
    np.testing.assert_array_equal(cols["resolution_missing"], [1, 1])
    wrong_width = generations().with_columns(
        output_embedding=pl.Series([[1.0, 2.0, 3.0], None, [1.0, 2.0]])
    )
    np.testing.assert_array_equal(dense(spec, wrong_width)["embedding_missing"], [1, 1, 0])
    as_array = generations().with_columns(
        pl.Series(
            "output_embedding", [[0.5, -1.0], None, [2.0, 0.25]], dtype=pl.Array(pl.Float32, 2)
        )
    )
    np.testing.assert_allclose(dense(spec, as_array)["embedding_0"], [0.5, 0.0, 2.0])
    with pytest.raises(ValueError, match="lack required feature columns: duration_ms"):
        generation_features(generations().drop("duration_ms"), spec)
    with pytest.raises(ValueError, match="null required feature columns: prompt"):
        generation_features(generations().with_columns(prompt=pl.lit(None, pl.String)), spec)
