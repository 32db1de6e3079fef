-- engagement funnel over viewer-generation pairs outside the studio, overall ('(all)') and per model_version:
-- shown (impression) -> viewed -> completed (a view with watch_ms >= duration_ms) -> liked / shared / downloaded;
-- every stage counts only pairs that were shown, and like/share/download only pairs that also viewed;
-- a like counts when the pair's latest like is later than its latest unlike
-- reads: events, generations; no parameters
create or replace view report_funnel as
with

events as (
    select generation_id, viewer_id, event_type, occurred_at, watch_ms
    from events
    where surface is distinct from 'studio'
),

generations as (
    select generation_id, model_version, duration_ms
    from generations
),

pairs as (
    select
        events.generation_id,
        events.viewer_id,
        bool_or(events.event_type = 'impression') as shown,
        bool_or(events.event_type = 'view') as viewed,
        bool_or(
            events.event_type = 'view' and events.watch_ms >= generations.duration_ms
        ) as completed,
        coalesce(
            max(events.occurred_at) filter (where events.event_type = 'like')
            > coalesce(
                max(events.occurred_at) filter (where events.event_type = 'unlike'),
                '-infinity'::timestamptz
            ),
            false
        ) as liked,
        bool_or(events.event_type = 'share') as shared,
        bool_or(events.event_type = 'download') as downloaded
    from events
    left join generations using (generation_id)
    group by events.generation_id, events.viewer_id
),

pairs_with_version as (
    select pairs.*, coalesce(generations.model_version, '(unknown)') as model_version
    from pairs
    left join generations using (generation_id)
    where pairs.shown
),

per_version as (
    select
        case when grouping(model_version) = 1 then '(all)' else model_version end as model_version,
        count(*) as shown,
        count(*) filter (where viewed) as viewed,
        count(*) filter (where viewed and coalesce(completed, false)) as completed,
        count(*) filter (where viewed and liked) as liked,
        count(*) filter (where viewed and shared) as shared,
        count(*) filter (where viewed and downloaded) as downloaded
    from pairs_with_version
    group by grouping sets ((model_version), ())
),

final as (
    unpivot per_version
    on shown, viewed, completed, liked, shared, downloaded
    into name stage value pairs
)

select
    model_version,
    stage,
    case stage
        when 'shown' then 1 when 'viewed' then 2 when 'completed' then 3
        when 'liked' then 4 when 'shared' then 5 when 'downloaded' then 6
    end as stage_order,
    pairs,
    pairs / nullif(max(pairs) filter (where stage = 'shown') over (partition by model_version), 0) as rate_of_shown
from final
order by model_version, stage_order
