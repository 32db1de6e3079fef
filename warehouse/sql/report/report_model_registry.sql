-- every registered preference model with its metrics JSON, newest first
-- reads: model_registry; no parameters
create or replace view report_model_registry as
with

model_registry as (
    select
        model_id, created_at, model_kind, label_version, feature_spec_hash,
        train_start, train_end, test_start, test_end, metrics, is_champion
    from model_registry
),

final as (
    select * from model_registry
)

select * from final
order by created_at desc, model_id
