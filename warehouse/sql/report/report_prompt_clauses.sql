-- label quality per prompt clause: the comma-separated parts of a prompt (lower-cased, trimmed), which is
-- where style modifiers and settings sit ("cinematic", "in the rain"); a clause counts once per prompt
-- reads: labels, generations; no parameters
create or replace view report_prompt_clauses as
with

labels as (
    select generation_id, quality_score
    from labels
),

generations as (
    select generation_id, prompt
    from generations
),

clauses as (
    select distinct
        labels.generation_id,
        labels.quality_score,
        trim(unnest(string_split(lower(generations.prompt), ','))) as clause
    from labels
    inner join generations using (generation_id)
),

final as (
    select
        clause,
        count(*) as generations,
        avg(quality_score) as mean_quality,
        stddev_samp(quality_score) as sd_quality
    from clauses
    where clause <> ''
    group by clause
)

select * from final
order by clause
