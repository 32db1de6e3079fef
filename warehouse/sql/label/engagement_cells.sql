-- the clean engagement of every generation ingested by $generations_through split by viewer half and period
-- (label_engagement_cells; a generation without engagement has no cell), in a fixed order
-- registered inputs: none; parameters: $generations_through
with

generations as (
    select generation_id, ingested_at from generations
),

label_engagement_cells as (
    select * from label_engagement_cells
),

known as (
    select generation_id from generations where ingested_at <= $generations_through
),

final as (
    select label_engagement_cells.*
    from label_engagement_cells
    semi join known using (generation_id)
)

select * from final
order by generation_id, half, period
