-- the fitted noise of the studio pair sources adopted for label version $label_version
-- registered inputs: none; parameters: $label_version
with

label_source_reliability as (
    select label_version, source, votes, agreements, disagreements, noise_sd from label_source_reliability
),

final as (
    select source, votes, agreements, disagreements, noise_sd
    from label_source_reliability
    where label_version = $label_version
)

select * from final
order by source
