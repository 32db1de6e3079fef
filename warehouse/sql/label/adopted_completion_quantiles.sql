-- the D2Q reference distributions adopted for label version $label_version
-- registered inputs: none; parameters: $label_version
with

label_completion_quantiles as (
    select label_version, duration_bucket, min_duration_ms, level, value from label_completion_quantiles
),

final as (
    select duration_bucket, min_duration_ms, level, value
    from label_completion_quantiles
    where label_version = $label_version
)

select * from final
order by duration_bucket, level
