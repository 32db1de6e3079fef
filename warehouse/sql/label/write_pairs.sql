-- operation: make `preference_pairs` equal the candidates (warehouse.label_store.write_pairs), in order:
-- delete the pairs to remove, insert the pairs to add.
-- registered inputs: label_pair_changes (pair_id, change: pair_changes.sql of label_pair_candidates),
-- label_pair_candidates (the candidate pairs)
-- parameters: $created_at (insert_added)

-- name: delete_removed
-- drop the pairs listed for removal in `label_pair_changes`
delete from preference_pairs
where pair_id in (select pair_id from label_pair_changes where change = 'remove')

-- name: insert_added
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
