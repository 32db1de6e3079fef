-- mean label quality per model_version and UTC day the generation was created: quality over time
-- reads: labels, generations; no parameters
create or replace view report_model_version_daily as
with

labels as (
    select generation_id, model_version, quality_score
    from labels
),

generations as (
    select generation_id, model_version, created_at
    from generations
),

labeled as (
    select
        coalesce(labels.model_version, generations.model_version) as model_version,
        cast(timezone('UTC', generations.created_at) as date) as created_day,
        labels.quality_score
    from labels
    inner join generations using (generation_id)
),

final as (
    select
        model_version,
        created_day,
        count(*) as generations,
        avg(quality_score) as mean_quality,
        stddev_samp(quality_score) as sd_quality,
        stddev_samp(quality_score) / sqrt(count(*)) as se_quality
    from labeled
    group by model_version, created_day
)

select * from final
order by model_version, created_day
