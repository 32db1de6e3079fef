-- joint distribution of quality_score and true_quality in percent bins (0..99): a 2D histogram
-- reads: labels, report_truth (the truth parquet, loaded by warehouse.report_data.load_truth); no parameters
create or replace view report_truth_hist2d as
with

labels as (
    select generation_id, quality_score
    from labels
),

report_truth as (
    select generation_id, true_quality
    from report_truth
),

binned as (
    select
        least(greatest(floor(labels.quality_score * 100), 0), 99)::integer as quality_pct,
        least(greatest(floor(report_truth.true_quality * 100), 0), 99)::integer as truth_pct
    from labels
    inner join report_truth using (generation_id)
),

final as (
    select quality_pct, truth_pct, count(*) as generations
    from binned
    group by quality_pct, truth_pct
)

select * from final
order by quality_pct, truth_pct
