-- the current preference pairs: the pairwise target, weighted by confidence
-- registered inputs: none; parameters: none
with

preference_pairs as (
    select
        pair_id,
        request_id,
        chosen_generation_id,
        rejected_generation_id,
        source,
        confidence,
        label_version
    from preference_pairs
),

final as (
    select * from preference_pairs
    order by pair_id
)

select * from final
