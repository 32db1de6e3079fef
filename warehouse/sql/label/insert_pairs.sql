-- insert the candidate pairs listed for addition in `label_pair_changes`, created now
insert into preference_pairs (
    pair_id, request_id, prompt, chosen_generation_id, rejected_generation_id, source, confidence, label_version,
    created_at
)
with

label_pair_candidates as (
    select
        pair_id, request_id, prompt, chosen_generation_id, rejected_generation_id, source, confidence, label_version
    from label_pair_candidates
),

additions as (
    select pair_id from label_pair_changes where change = 'add'
),

final as (
    select label_pair_candidates.*, $created_at as created_at
    from label_pair_candidates
    semi join additions using (pair_id)
)

select * from final
