-- the current preference pairs, as the export reads them
-- registered inputs: none; parameters: none
with

preference_pairs as (
    select
        pair_id,
        request_id,
        prompt,
        chosen_generation_id,
        rejected_generation_id,
        source,
        confidence,
        label_version
    from preference_pairs
),

final as (
    select * from preference_pairs
)

select * from final
order by pair_id
