-- the Beta priors adopted for label version $label_version
-- registered inputs: none; parameters: $label_version
with

label_priors as (
    select label_version, signal, segment, alpha, beta, generations, trials_scale from label_priors
),

final as (
    select signal, segment, alpha, beta, generations, trials_scale
    from label_priors
    where label_version = $label_version
)

select * from final
order by signal, segment
