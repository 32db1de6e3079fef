-- one row per labeled generation with its prompt and its quality relative to the model version that served
-- it (quality_score minus that version's mean): what the prompt-weakness views group by clause and n-gram
-- reads: labels, generations; no parameters
create or replace view report_labeled_prompts as
with

labels as (
    select generation_id, model_version, quality_score
    from labels
),

generations as (
    select generation_id, prompt, model_version
    from generations
),

labeled as (
    select
        labels.generation_id,
        labels.quality_score,
        generations.prompt,
        coalesce(labels.model_version, generations.model_version) as model_version
    from labels
    inner join generations using (generation_id)
),

final as (
    select
        generation_id,
        prompt,
        model_version,
        quality_score,
        quality_score - avg(quality_score) over (partition by model_version) as quality_adjusted
    from labeled
)

select * from final
