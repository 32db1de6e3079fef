-- label quality per prompt clause: the comma-separated parts of a prompt (lower-cased, trimmed), which is
-- where style modifiers and settings sit ("cinematic", "in the rain"); a clause counts once per prompt; raw and
-- adjusted for the model version that served each generation (its quality minus its version's mean)
-- reads: report_labeled_prompts (created before it); no parameters
create or replace view report_prompt_clauses as
with

version_adjusted as (
    select generation_id, prompt, quality_score, quality_adjusted
    from report_labeled_prompts
),

clauses as (
    select distinct
        generation_id,
        quality_score,
        quality_adjusted,
        trim(unnest(string_split(lower(prompt), ','))) as clause
    from version_adjusted
),

final as (
    select
        clause,
        count(*) as generations,
        avg(quality_score) as mean_quality,
        stddev_samp(quality_score) as sd_quality,
        avg(quality_adjusted) as mean_adjusted,
        stddev_samp(quality_adjusted) as sd_adjusted
    from clauses
    where clause <> ''
    group by clause
)

select * from final
order by clause
