-- mean label quality per model_version with its spread: the numbers behind the version comparison
-- (confidence intervals and Welch tests are computed from n, mean and sd of this view)
-- reads: labels, generations; no parameters
create or replace view report_model_version_quality as
with

labels as (
    select generation_id, model_version, quality_score, label
    from labels
),

generations as (
    select generation_id, model_version
    from generations
),

labeled as (
    select
        coalesce(labels.model_version, generations.model_version, '(unknown)') as model_version,
        labels.quality_score,
        labels.label
    from labels
    left join generations using (generation_id)
),

final as (
    select
        model_version,
        count(*) as generations,
        avg(quality_score) as mean_quality,
        stddev_samp(quality_score) as sd_quality,
        stddev_samp(quality_score) / sqrt(count(*)) as se_quality,
        count(*) filter (where label = 'good') as good,
        count(*) filter (where label = 'bad') as bad,
        count(*) filter (where label = 'uncertain') as uncertain
    from labeled
    group by model_version
)

select * from final
order by model_version
