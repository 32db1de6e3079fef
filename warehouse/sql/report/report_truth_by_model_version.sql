-- per model_version, the labels' mean quality beside the mean true quality: does the version ranking hold?
-- reads: labels, generations, report_truth (the truth parquet, loaded by warehouse.report_data.load_truth); no parameters
create or replace view report_truth_by_model_version as
with

labels as (
    select generation_id, model_version, quality_score
    from labels
),

generations as (
    select generation_id, model_version
    from generations
),

report_truth as (
    select generation_id, true_quality
    from report_truth
),

final as (
    select
        coalesce(labels.model_version, generations.model_version, '(unknown)') as model_version,
        count(*) as generations,
        avg(labels.quality_score) as mean_quality,
        avg(report_truth.true_quality) as mean_true_quality,
        stddev_samp(report_truth.true_quality) / sqrt(count(*)) as se_true_quality
    from labels
    inner join report_truth using (generation_id)
    left join generations using (generation_id)
    group by all
)

select * from final
order by model_version
