-- how far ingestion has gone: newest ingested_at and row counts of events and generations
-- registered inputs: none; parameters: none
with

events as (
    select ingested_at from events
),

generations as (
    select ingested_at from generations
),

event_totals as (
    select max(ingested_at) as events_through, count(*) as events_count from events
),

generation_totals as (
    select max(ingested_at) as generations_through, count(*) as generations_count from generations
),

final as (
    select events_through, events_count, generations_through, generations_count
    from event_totals
    cross join generation_totals
)

select * from final
