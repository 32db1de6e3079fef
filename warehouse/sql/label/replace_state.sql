-- operation: the deletes that make room for fresh label state rows (warehouse.label_store appends the new
-- rows right after each of them, in the same transaction).
-- registered inputs: label_merged_viewer_activity (viewer_id), label_touched_generations (generation_id)
-- parameters: $label_version (the delete_<fit> blocks)

-- name: clear_viewer_activity
-- forget the running per-viewer counts (a full rebuild recounts every event)
delete from label_viewer_activity

-- name: delete_merged_viewer_activity
-- drop the stored counts of the viewers in `label_merged_viewer_activity` (their merged counts are inserted next)
delete from label_viewer_activity
where viewer_id in (select viewer_id from label_merged_viewer_activity)

-- name: clear_abnormal_viewers
-- forget the abnormal viewers (the current set is inserted next)
delete from label_abnormal_viewers

-- name: delete_touched_slots
-- drop the exposure slots of the generations in `label_touched_generations` (re-aggregated next)
delete from label_engagement_slots
where generation_id in (select generation_id from label_touched_generations)

-- name: delete_touched_engagement
-- drop the engagement rows of the generations in `label_touched_generations` (re-aggregated next)
delete from label_engagement
where generation_id in (select generation_id from label_touched_generations)

-- name: delete_touched_cells
-- drop the engagement cells of the generations in `label_touched_generations` (re-aggregated next)
delete from label_engagement_cells
where generation_id in (select generation_id from label_touched_generations)

-- name: delete_examination
-- drop the label_examination rows of label version $label_version (the refit is inserted next)
delete from label_examination
where label_version = $label_version

-- name: delete_completion_quantiles
-- drop the label_completion_quantiles rows of label version $label_version (the refit is inserted next)
delete from label_completion_quantiles
where label_version = $label_version

-- name: delete_model_parameters
-- drop the label_model_parameters rows of label version $label_version (the refit is inserted next)
delete from label_model_parameters
where label_version = $label_version

-- name: delete_source_reliability
-- drop the label_source_reliability rows of label version $label_version (the refit is inserted next)
delete from label_source_reliability
where label_version = $label_version
