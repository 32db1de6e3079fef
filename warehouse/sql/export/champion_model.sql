-- the current champion preference model, if any (named in the dataset cards)
-- registered inputs: none; parameters: none
with

model_registry as (
    select model_id, model_kind, label_version, created_at, is_champion
    from model_registry
),

final as (
    select model_id, model_kind, label_version, created_at
    from model_registry
    where is_champion
    order by created_at desc, model_id desc
    limit 1
)

select * from final
