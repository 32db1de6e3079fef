-- operation: make `labels` hold the changed candidate rows (warehouse.label_store.write_labels), in order:
-- archive the current rows to labels_history, delete them, insert the candidates.
-- registered inputs: label_changes (generation_id, is_new: label_changes.sql of label_candidates),
-- label_candidates (the candidate label rows)
-- parameters: $superseded_at (archive_changed), $labeled_at (insert_changed)

-- name: archive_changed
-- copy the current rows of the generations in `label_changes` to labels_history before they are replaced
insert into labels_history (
    generation_id, request_id, model_version, label_version, impressions, views, completion_score, likes, favorites, shares, comments, downloads, dislikes, reports, studio_impressions, selects, regenerates, quality_score, quality_low, quality_high, label, effective_impressions, watch_ms, long_views, quality_z, long_run_sd,
    labeled_at, superseded_at
)
with

labels as (
    select
        generation_id, request_id, model_version, label_version, impressions, views, completion_score, likes, favorites, shares, comments, downloads, dislikes, reports, studio_impressions, selects, regenerates, quality_score, quality_low, quality_high, label, effective_impressions, watch_ms, long_views, quality_z, long_run_sd,
        labeled_at
    from labels
),

label_changes as (
    select generation_id from label_changes
),

final as (
    select labels.*, $superseded_at as superseded_at
    from labels
    semi join label_changes using (generation_id)
)

select * from final

-- name: delete_changed
-- drop the current rows of the generations in `label_changes` (their new rows are inserted next)
delete from labels
where generation_id in (select generation_id from label_changes)

-- name: insert_changed
-- insert the candidate rows of the generations in `label_changes`, labeled now
insert into labels (
    generation_id, request_id, model_version, label_version, impressions, views, completion_score, likes, favorites, shares, comments, downloads, dislikes, reports, studio_impressions, selects, regenerates, quality_score, quality_low, quality_high, label, effective_impressions, watch_ms, long_views, quality_z, long_run_sd,
    labeled_at
)
with

label_candidates as (
    select
        generation_id, request_id, model_version, label_version, impressions, views, completion_score, likes, favorites, shares, comments, downloads, dislikes, reports, studio_impressions, selects, regenerates, quality_score, quality_low, quality_high, label, effective_impressions, watch_ms, long_views, quality_z, long_run_sd
    from label_candidates
),

label_changes as (
    select generation_id from label_changes
),

final as (
    select label_candidates.*, $labeled_at as labeled_at
    from label_candidates
    semi join label_changes using (generation_id)
)

select * from final
