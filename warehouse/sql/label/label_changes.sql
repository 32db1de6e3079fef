-- candidate label rows (`label_candidates`) that are new or differ from the current row in any value
-- registered inputs: label_candidates; parameters: none
with

label_candidates as (
    select
        generation_id, request_id, model_version, label_version, impressions, views, completion_score, likes, favorites, shares, comments, downloads, dislikes, reports, studio_impressions, selects, regenerates, quality_score, quality_low, quality_high, label, effective_impressions, watch_ms, long_views, quality_z, long_run_sd
    from label_candidates
),

labels as (
    select
        generation_id, request_id, model_version, label_version, impressions, views, completion_score, likes, favorites, shares, comments, downloads, dislikes, reports, studio_impressions, selects, regenerates, quality_score, quality_low, quality_high, label, effective_impressions, watch_ms, long_views, quality_z, long_run_sd
    from labels
),

differing as (
    select * from label_candidates
    except
    select * from labels
),

final as (
    select differing.generation_id, labels.generation_id is null as is_new
    from differing
    left join labels using (generation_id)
)

select * from final
order by generation_id
