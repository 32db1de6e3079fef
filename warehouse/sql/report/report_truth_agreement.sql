-- how well quality_score ranks generations by true quality: Spearman (average ranks for ties),
-- Pearson, and how often the truth lies inside [quality_low, quality_high]
-- reads: labels, report_truth (the truth parquet, loaded by warehouse.report_data.load_truth); no parameters
create or replace view report_truth_agreement as
with

labels as (
    select generation_id, quality_score, quality_low, quality_high
    from labels
),

report_truth as (
    select generation_id, true_quality
    from report_truth
),

joined as (
    select labels.*, report_truth.true_quality
    from labels
    inner join report_truth using (generation_id)
),

ranked as (
    select
        *,
        rank() over (order by quality_score)
            + (count(*) over (partition by quality_score) - 1) / 2.0 as quality_rank,
        rank() over (order by true_quality)
            + (count(*) over (partition by true_quality) - 1) / 2.0 as truth_rank
    from joined
),

final as (
    select
        count(*) as generations,
        (select count(*) from labels) as labeled_generations,
        (select count(*) from report_truth) as truth_generations,
        corr(quality_rank, truth_rank) as spearman,
        corr(quality_score, true_quality) as pearson,
        avg(abs(quality_score - true_quality)) as mean_abs_error,
        avg(case when true_quality between quality_low and quality_high then 1.0 else 0.0 end)
            as interval_coverage
    from ranked
)

select * from final
