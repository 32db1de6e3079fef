-- model versions compared on the same prompts: within each request whose candidates came from two versions,
-- the difference of their mean label quality (same prompt, creator and time), summarised per pair of versions
-- over those requests; label-based, not ground truth
-- reads: labels, generations; no parameters
create or replace view report_model_version_paired as
with

labels as (
    select generation_id, model_version, quality_score
    from labels
),

generations as (
    select generation_id, request_id, model_version
    from generations
),

labeled as (
    select
        generations.request_id,
        coalesce(labels.model_version, generations.model_version) as model_version,
        labels.quality_score
    from labels
    inner join generations using (generation_id)
),

request_versions as (
    select request_id, model_version, avg(quality_score) as mean_quality
    from labeled
    group by request_id, model_version
),

paired as (
    select
        a.model_version as version_a,
        b.model_version as version_b,
        a.mean_quality - b.mean_quality as difference
    from request_versions as a
    inner join request_versions as b
        on a.request_id = b.request_id and a.model_version < b.model_version
),

final as (
    select
        version_a,
        version_b,
        count(*) as requests,
        avg(difference) as mean_difference,
        stddev_samp(difference) as sd_difference
    from paired
    group by version_a, version_b
)

select * from final
order by version_a, version_b
