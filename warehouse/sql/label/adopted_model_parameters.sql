-- the label model adopted for $label_version (features.label_parameters), one row per parameter, in a fixed order
-- registered inputs: none; parameters: $label_version
with

label_model_parameters as (
    select label_version, parameter, signal, other, value from label_model_parameters
),

final as (
    select parameter, signal, other, value
    from label_model_parameters
    where label_version = $label_version
)

select * from final
order by parameter, signal, other
