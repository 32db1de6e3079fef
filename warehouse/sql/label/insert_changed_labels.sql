-- insert the candidate rows of the generations in `label_changes`, labeled now
insert into labels (
    generation_id, request_id, model_version, label_version, impressions, views, completion_score, likes, favorites, shares, comments, downloads, dislikes, reports, studio_impressions, selects, regenerates, quality_score, quality_low, quality_high, label, effective_impressions, watch_ms,
    labeled_at
)
with

label_candidates as (
    select
        generation_id, request_id, model_version, label_version, impressions, views, completion_score, likes, favorites, shares, comments, downloads, dislikes, reports, studio_impressions, selects, regenerates, quality_score, quality_low, quality_high, label, effective_impressions, watch_ms
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
