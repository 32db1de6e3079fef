-- the clean engagement of every generation ingested by $generations_through, with the record fields labels
-- need, created_at included (a generation without engagement yet gets zeros)
-- registered inputs: none; parameters: $generations_through
with

generations as (
    select generation_id, request_id, model_version, duration_ms, prompt, created_at, ingested_at from generations
),

label_engagement as (
    select * from label_engagement
),

known as (
    select generation_id, request_id, model_version, duration_ms, prompt, created_at
    from generations
    where ingested_at <= $generations_through
),

final as (
    select
        known.*,
        coalesce(label_engagement.impressions, 0) as impressions,
        coalesce(label_engagement.effective_impressions, 0) as effective_impressions,
        coalesce(label_engagement.views, 0) as views,
        coalesce(label_engagement.watch_ms, 0) as watch_ms,
        coalesce(label_engagement.ratio_sum, 0) as ratio_sum,
        coalesce(label_engagement.ratio_sq_sum, 0) as ratio_sq_sum,
        coalesce(label_engagement.long_views, 0) as long_views,
        coalesce(label_engagement.likes, 0) as likes,
        coalesce(label_engagement.unlikes, 0) as unlikes,
        coalesce(label_engagement.favorites, 0) as favorites,
        coalesce(label_engagement.shares, 0) as shares,
        coalesce(label_engagement.comments, 0) as comments,
        coalesce(label_engagement.downloads, 0) as downloads,
        coalesce(label_engagement.dislikes, 0) as dislikes,
        coalesce(label_engagement.reports, 0) as reports,
        coalesce(label_engagement.studio_impressions, 0) as studio_impressions,
        coalesce(label_engagement.selects, 0) as selects,
        coalesce(label_engagement.regenerates, 0) as regenerates
    from known
    left join label_engagement using (generation_id)
)

select * from final
order by generation_id
