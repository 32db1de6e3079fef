-- how late events arrived: lag_days = whole days between an event's occurred_at and the newest
-- occurred_at in the same source file (a file is one delivery batch; lag_days >= 1 means late)
create or replace view report_event_lateness as
with

events as (
    select source_file, occurred_at
    from events
),

file_newest as (
    select source_file, max(occurred_at) as newest_occurred_at
    from events
    group by source_file
),

lagged as (
    select
        events.source_file,
        file_newest.newest_occurred_at - events.occurred_at as lag
    from events
    inner join file_newest using (source_file)
),

final as (
    select
        floor(epoch(lag) / 86400)::bigint as lag_days,
        count(*) as events,
        count(distinct source_file) as files
    from lagged
    group by lag_days
)

select * from final
order by lag_days
