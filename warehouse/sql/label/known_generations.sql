-- every generation whose record was ingested by $generations_through (a full rebuild touches them all)
-- registered inputs: none; parameters: $generations_through
with

generations as (
    select generation_id, ingested_at from generations
),

final as (
    select generation_id
    from generations
    where ingested_at <= $generations_through
)

select * from final
