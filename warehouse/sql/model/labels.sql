-- the current quality label of each generation: the pointwise target and its certainty
-- registered inputs: none; parameters: none
with

labels as (
    select generation_id, label_version, quality_score, quality_low, quality_high
    from labels
),

final as (
    select * from labels
    order by generation_id
)

select * from final
