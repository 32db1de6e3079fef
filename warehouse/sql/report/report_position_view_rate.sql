-- view rate by feed position (slot 0 = top), before and after the labels' position correction:
-- raw impressions and views from feed events (bots included) beside the clean counts the
-- label stage used (label_engagement_slots: abnormal viewers and creators removed, far slots pooled; the
-- generations of the examination sample, see LabelConfig.examination_sample_buckets) and the
-- slot's examination propensity (label_examination, newest fit of the newest label_version);
-- clean_views / clean_effective_impressions is the slot's view rate with the examination effect divided out
-- reads: events, label_engagement_slots, label_examination; no parameters
create or replace view report_position_view_rate as
with

events as (
    select event_type, position
    from events
    where surface = 'feed'
        and position is not null
        and event_type in ('impression', 'view')
),

label_engagement_slots as (
    select position, impressions, views
    from label_engagement_slots
    where surface = 'feed' and position >= 0
),

label_examination as (
    select label_version, position, propensity, fitted_at
    from label_examination
    where surface = 'feed' and position >= 0
),

raw_by_position as (
    select
        position,
        count(*) filter (where event_type = 'impression') as impressions,
        count(*) filter (where event_type = 'view') as views
    from events
    group by position
),

clean_by_position as (
    select
        position,
        sum(impressions)::bigint as clean_impressions,
        sum(views)::bigint as clean_views
    from label_engagement_slots
    group by position
),

newest_fit as (
    select label_version
    from label_examination
    order by fitted_at desc, label_version
    limit 1
),

propensity_by_position as (
    select position, propensity
    from label_examination
    where label_version = (select label_version from newest_fit)
    qualify row_number() over (partition by position order by fitted_at desc) = 1
),

final as (
    select
        position,
        coalesce(raw_by_position.impressions, 0) as impressions,
        coalesce(raw_by_position.views, 0) as views,
        raw_by_position.views / nullif(raw_by_position.impressions, 0) as raw_view_rate,
        coalesce(clean_by_position.clean_impressions, 0) as clean_impressions,
        coalesce(clean_by_position.clean_views, 0) as clean_views,
        propensity_by_position.propensity,
        clean_by_position.clean_impressions * propensity_by_position.propensity
            as clean_effective_impressions
    from raw_by_position
    full outer join clean_by_position using (position)
    left join propensity_by_position using (position)
)

select * from final
order by position
