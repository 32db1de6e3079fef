-- the examination propensities adopted for label version $label_version
-- registered inputs: none; parameters: $label_version
with

label_examination as (
    select label_version, surface, position, impressions, views, propensity from label_examination
),

final as (
    select surface, position, impressions, views, propensity
    from label_examination
    where label_version = $label_version
)

select * from final
order by surface, position
