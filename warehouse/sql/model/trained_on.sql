-- the model of this kind already registered for exactly these training inputs (content fingerprint), if any
-- registered inputs: none; parameters: $fingerprint, $model_kind
with

model_registry as (
    select model_id, created_at, model_kind, metrics from model_registry
),

final as (
    select model_id
    from model_registry
    where model_kind = $model_kind
        and json_extract_string(metrics, '$.training_fingerprint') = $fingerprint
    order by created_at, model_id
    limit 1
)

select * from final
