-- clean engagement counts of each generation in `label_touched_generations`: abnormal viewers excluded
-- everywhere, the creator excluded from feed (non-studio) counts, likes net of the same viewer's unlikes
with

generations as (
    select generation_id, request_id, creator_id, model_version, duration_ms from generations
),

label_touched_generations as (
    select generation_id from label_touched_generations
),

label_abnormal_viewers as (
    select viewer_id from label_abnormal_viewers
),

touched as (
    select generations.*
    from generations
    semi join label_touched_generations using (generation_id)
),

clean_events as (
    select
        events.generation_id,
        events.viewer_id,
        events.event_type,
        events.occurred_at,
        events.watch_ms,
        coalesce(events.surface = 'studio', false) as is_studio,
        events.viewer_id = touched.creator_id as is_self
    from events
    inner join touched using (generation_id)
    anti join label_abnormal_viewers using (viewer_id)
    where events.ingested_at <= $through
),

counts as (
    select
        generation_id,
        count(*) filter (where not is_studio and not is_self and event_type = 'impression') as impressions,
        count(*) filter (where not is_studio and not is_self and event_type = 'view') as views,
        coalesce(sum(watch_ms) filter (where not is_studio and not is_self and event_type = 'view'), 0) as watch_ms,
        count(*) filter (where not is_studio and not is_self and event_type = 'unlike') as unlikes,
        count(*) filter (where not is_studio and not is_self and event_type = 'favorite') as favorites,
        count(*) filter (where not is_studio and not is_self and event_type = 'share') as shares,
        count(*) filter (where not is_studio and not is_self and event_type = 'comment') as comments,
        count(*) filter (where not is_studio and not is_self and event_type = 'download') as downloads,
        count(*) filter (where not is_studio and not is_self and event_type = 'dislike') as dislikes,
        count(*) filter (where not is_studio and not is_self and event_type = 'report') as reports,
        count(*) filter (where is_studio and event_type = 'impression') as studio_impressions,
        count(*) filter (where is_studio and event_type = 'select') as selects,
        count(*) filter (where is_studio and event_type = 'regenerate') as regenerates
    from clean_events
    group by generation_id
),

-- the latest like/unlike of each viewer decides (an unlike wins a tie): an unlike cancels an earlier like
like_states as (
    select
        generation_id,
        viewer_id,
        arg_max(event_type, {'at': occurred_at, 'unlike': event_type = 'unlike'}) as last_action
    from clean_events
    where not is_studio and not is_self and event_type in ('like', 'unlike')
    group by generation_id, viewer_id
),

net_likes as (
    select generation_id, count(*) filter (where last_action = 'like') as likes
    from like_states
    group by generation_id
),

final as (
    select
        touched.generation_id,
        touched.request_id,
        touched.model_version,
        touched.duration_ms,
        coalesce(counts.impressions, 0) as impressions,
        coalesce(counts.views, 0) as views,
        coalesce(counts.watch_ms, 0) as watch_ms,
        coalesce(net_likes.likes, 0) as likes,
        coalesce(counts.unlikes, 0) as unlikes,
        coalesce(counts.favorites, 0) as favorites,
        coalesce(counts.shares, 0) as shares,
        coalesce(counts.comments, 0) as comments,
        coalesce(counts.downloads, 0) as downloads,
        coalesce(counts.dislikes, 0) as dislikes,
        coalesce(counts.reports, 0) as reports,
        coalesce(counts.studio_impressions, 0) as studio_impressions,
        coalesce(counts.selects, 0) as selects,
        coalesce(counts.regenerates, 0) as regenerates
    from touched
    left join counts using (generation_id)
    left join net_likes using (generation_id)
)

select * from final
