-- number of generation records ingested in ($since, $through]: checks that the watermark accounts for every row
-- registered inputs: none; parameters: $since, $through
with

generations as (
    select ingested_at from generations
),

final as (
    select count(*) as generations
    from generations
    where ingested_at > coalesce($since, '-infinity'::timestamptz)
      and ingested_at <= $through
)

select * from final
