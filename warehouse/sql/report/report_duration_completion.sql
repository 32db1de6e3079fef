-- completion by video length in whole seconds: raw share of views watched to the end (watch_ms >= duration_ms)
-- beside the labels' mean completion_score of the generations of that length (after the correction)
-- reads: events, generations, labels; no parameters
create or replace view report_duration_completion as
with

events as (
    select generation_id, watch_ms
    from events
    where event_type = 'view' and watch_ms is not null
),

generations as (
    select generation_id, duration_ms
    from generations
),

labels as (
    select generation_id, completion_score
    from labels
),

raw_by_second as (
    select
        (generations.duration_ms // 1000)::bigint as duration_s,
        count(*) as views,
        count(*) filter (where events.watch_ms >= generations.duration_ms) as completions
    from events
    inner join generations using (generation_id)
    group by duration_s
),

labeled_by_second as (
    select
        (generations.duration_ms // 1000)::bigint as duration_s,
        count(labels.completion_score) as labeled_generations,
        avg(labels.completion_score) as mean_completion_score
    from labels
    inner join generations using (generation_id)
    group by duration_s
),

final as (
    select
        duration_s,
        coalesce(raw_by_second.views, 0) as views,
        coalesce(raw_by_second.completions, 0) as completions,
        raw_by_second.completions / nullif(raw_by_second.views, 0) as raw_completion_rate,
        coalesce(labeled_by_second.labeled_generations, 0) as labeled_generations,
        labeled_by_second.mean_completion_score
    from raw_by_second
    full outer join labeled_by_second using (duration_s)
)

select * from final
order by duration_s
