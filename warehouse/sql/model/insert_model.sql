-- register one trained model (not champion until a promotion decision says so)
insert into model_registry (
    model_id,
    created_at,
    model_kind,
    label_version,
    feature_spec_hash,
    train_start,
    train_end,
    test_start,
    test_end,
    metrics,
    is_champion,
    artifact_path,
    artifact_sha256
)
values (
    $model_id,
    $created_at,
    $model_kind,
    $label_version,
    $feature_spec_hash,
    $train_start,
    $train_end,
    $test_start,
    $test_end,
    $metrics,
    false,
    $artifact_path,
    $artifact_sha256
)
