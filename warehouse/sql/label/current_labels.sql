-- the current labels, as evaluation reads them
-- registered inputs: none; parameters: none
with

labels as (
    select generation_id, label_version, impressions, quality_score, quality_low, quality_high, label from labels
),

final as (
    select * from labels
)

select * from final
order by generation_id
