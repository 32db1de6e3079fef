-- the D2Q quantile grid adopted for label version $label_version
with

label_completion_quantiles as (
    select label_version, duration_bucket, min_duration_ms, ratio_bin, quantile from label_completion_quantiles
),

final as (
    select duration_bucket, min_duration_ms, ratio_bin, quantile
    from label_completion_quantiles
    where label_version = $label_version
)

select * from final
order by duration_bucket, ratio_bin
