-- how late events arrived, in whole UTC days: a file is one delivery batch whose delivery day is the UTC day
-- on which most of its events occurred (robust to a few skewed clocks); lag_days = delivery day - the event's
-- occurred day (0 = on time, >= 1 = late: it came in a later day's batch; < 0 = occurred after its batch's day)
-- reads: events; no parameters
create or replace view report_event_lateness as
with

events as (
    select source_file, cast(timezone('UTC', occurred_at) as date) as occurred_day
    from events
),

file_delivery as (
    select source_file, mode(occurred_day order by occurred_day desc) as delivery_day
    from events
    group by source_file
),

lagged as (
    select
        events.source_file,
        date_diff('day', events.occurred_day, file_delivery.delivery_day) as lag_days
    from events
    inner join file_delivery using (source_file)
),

final as (
    select
        lag_days::bigint as lag_days,
        count(*) as events,
        count(distinct source_file) as files
    from lagged
    group by lag_days
)

select * from final
order by lag_days
