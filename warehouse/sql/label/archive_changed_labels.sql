-- copy the current rows of the generations in `label_changes` to labels_history before they are replaced
insert into labels_history (
    generation_id, request_id, model_version, label_version, impressions, views, completion_score, likes, favorites, shares, comments, downloads, dislikes, reports, studio_impressions, selects, regenerates, quality_score, quality_low, quality_high, label, effective_impressions, watch_ms,
    labeled_at, superseded_at
)
with

labels as (
    select
        generation_id, request_id, model_version, label_version, impressions, views, completion_score, likes, favorites, shares, comments, downloads, dislikes, reports, studio_impressions, selects, regenerates, quality_score, quality_low, quality_high, label, effective_impressions, watch_ms,
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
