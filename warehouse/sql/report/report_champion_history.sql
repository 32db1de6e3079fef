-- promotion decisions, newest first
-- reads: champion_history; no parameters
create or replace view report_champion_history as
with

champion_history as (
    select
        decided_at, model_id, promoted, previous_champion_id,
        challenger_metric, champion_metric, reason
    from champion_history
),

final as (
    select * from champion_history
)

select * from final
order by decided_at desc, model_id
