-- operation: register a trained model and its promotion decision (warehouse.registry.register_model_and_decision),
-- in one transaction and in this order; clear_champion and crown_champion run only when it is promoted.
-- parameters: $model_id, $created_at, $model_kind, $label_version, $feature_spec_hash, $train_start, $train_end,
-- $test_start, $test_end, $metrics, $artifact_path, $artifact_sha256 (insert_model); $model_id, $decided_at,
-- $promoted, $previous_champion_id, $challenger_metric, $champion_metric, $reason (insert_champion_history);
-- $model_id (crown_champion)

-- name: insert_model
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

-- name: insert_champion_history
-- record one promotion decision: who challenged, who was champion, the metrics compared and why
insert into champion_history (
    model_id,
    decided_at,
    promoted,
    previous_champion_id,
    challenger_metric,
    champion_metric,
    reason
)
values (
    $model_id,
    $decided_at,
    $promoted,
    $previous_champion_id,
    $challenger_metric,
    $champion_metric,
    $reason
)

-- name: clear_champion
-- no model is champion any more (the next statement crowns the new one, in the same transaction)
update model_registry
set is_champion = false
where is_champion

-- name: crown_champion
-- make one registered model the champion
update model_registry
set is_champion = true
where model_id = $model_id
