-- mean true quality of each label class: good should sit above uncertain, uncertain above bad
-- reads: labels, report_truth (the truth parquet, loaded by warehouse.report_data.load_truth); no parameters
create or replace view report_truth_by_label as
with

labels as (
    select generation_id, label, quality_score
    from labels
),

report_truth as (
    select generation_id, true_quality
    from report_truth
),

final as (
    select
        labels.label,
        count(*) as generations,
        avg(labels.quality_score) as mean_quality,
        avg(report_truth.true_quality) as mean_true_quality,
        stddev_samp(report_truth.true_quality) as sd_true_quality
    from labels
    inner join report_truth using (generation_id)
    group by labels.label
)

select * from final
order by mean_true_quality desc
