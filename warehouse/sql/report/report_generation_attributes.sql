-- label quality per value of each scalar extra field of the generation records (fields outside the
-- contract that the app sends, e.g. an experiment arm), missing values shown as '(absent)'
-- reads: labels, generations; no parameters
create or replace view report_generation_attributes as
with

labels as (
    select generation_id, quality_score
    from labels
),

generations as (
    select generation_id, extra
    from generations
),

attribute_values as (
    select
        generations.generation_id,
        field.key as attribute,
        json_extract_string(field.value, '$') as value
    from generations, json_each(generations.extra) as field
    where field.type in ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN')
),

attributes as (
    select distinct attribute
    from attribute_values
),

labeled as (
    select
        attributes.attribute,
        coalesce(attribute_values.value, '(absent)') as value,
        labels.quality_score
    from labels
    cross join attributes
    left join attribute_values
        on attribute_values.generation_id = labels.generation_id
        and attribute_values.attribute = attributes.attribute
),

final as (
    select
        attribute,
        value,
        count(*) as generations,
        avg(quality_score) as mean_quality,
        stddev_samp(quality_score) as sd_quality
    from labeled
    group by attribute, value
)

select * from final
order by attribute, value
