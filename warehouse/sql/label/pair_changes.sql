-- how the current pairs must change to equal `label_pair_candidates`: pair_ids to remove (gone or
-- changed) and to add (new or changed); an unchanged pair is left alone (its created_at stays)
-- registered inputs: label_pair_candidates; parameters: none
with

label_pair_candidates as (
    select
        pair_id, request_id, prompt, chosen_generation_id, rejected_generation_id, source, confidence, label_version
    from label_pair_candidates
),

preference_pairs as (
    select
        pair_id, request_id, prompt, chosen_generation_id, rejected_generation_id, source, confidence, label_version
    from preference_pairs
),

to_add as (
    select pair_id from (
        select * from label_pair_candidates
        except
        select * from preference_pairs
    )
),

to_remove as (
    select pair_id from (
        select * from preference_pairs
        except
        select * from label_pair_candidates
    )
),

final as (
    select pair_id, 'add' as change from to_add
    union all
    select pair_id, 'remove' as change from to_remove
)

select * from final
order by change, pair_id
