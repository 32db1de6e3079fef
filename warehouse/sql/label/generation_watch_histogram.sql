-- clean feed views of each touched generation per watch-ratio bin: watch_ms / duration_ms capped at
-- $ratio_cap, cut into $ratio_bins equal bins (the input of the duration-aware completion quantile)
with

generations as (
    select generation_id, creator_id, duration_ms from generations
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

view_ratios as (
    select
        events.generation_id,
        least(events.watch_ms::double / touched.duration_ms, $ratio_cap) as watch_ratio
    from events
    inner join touched using (generation_id)
    anti join label_abnormal_viewers using (viewer_id)
    where events.ingested_at <= $through
      and events.event_type = 'view'
      and events.watch_ms is not null
      and coalesce(events.surface <> 'studio', true)
      and events.viewer_id <> touched.creator_id
),

final as (
    select
        generation_id,
        least(floor(watch_ratio / $ratio_cap * $ratio_bins), $ratio_bins - 1)::integer as ratio_bin,
        count(*) as views
    from view_ratios
    group by all
)

select * from final
