-- every generation of a worker's partition (its cells are all re-aggregated)
-- registered inputs: generations (a worker's partition frame); parameters: none
with

generations as (
    select generation_id from generations
),

final as (
    select generation_id from generations
)

select * from final
