-- the current champion model, if any
-- registered inputs: none; parameters: none
with

model_registry as (
    select
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
        artifact_path,
        artifact_sha256,
        is_champion
    from model_registry
),

final as (
    select * exclude (is_champion)
    from model_registry
    where is_champion
    order by created_at desc, model_id desc
    limit 1
)

select * from final
