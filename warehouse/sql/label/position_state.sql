-- clean organic impressions and views per generation and exposure slot, for every generation
with

label_engagement_positions as (
    select generation_id, surface, position, impressions, views from label_engagement_positions
),

final as (
    select * from label_engagement_positions
)

select * from final
