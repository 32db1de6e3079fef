-- one row of warehouse totals: what the report is about
-- reads: events, generations, labels, preference_pairs, model_registry, quarantine, label_runs; no parameters
create or replace view report_warehouse_overview as
with

events as (
    select count(*) as events, count(distinct viewer_id) as viewers,
        min(occurred_at) as first_event_at, max(occurred_at) as last_event_at
    from events
),

generations as (
    select count(*) as generations, count(distinct request_id) as requests,
        count(distinct model_version) as model_versions
    from generations
),

labels as (
    select count(*) as labeled_generations, max(label_version) as label_version
    from labels
),

pairs as (
    select count(*) as preference_pairs
    from preference_pairs
),

models as (
    select count(*) as models
    from model_registry
),

quarantine as (
    select count(*) as quarantined_rows
    from quarantine
),

label_runs as (
    select count(*) as label_runs
    from label_runs
),

final as (
    select *
    from events, generations, labels, pairs, models, quarantine, label_runs
)

select * from final
