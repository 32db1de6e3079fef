-- the newest label run: the state watermark the current labels and pairs reflect
-- registered inputs: none; parameters: none
with

label_runs as (
    select
        label_version, events_through, events_count, generations_through, generations_count, finished_at
    from label_runs
),

final as (
    select * from label_runs
)

select * from final
order by finished_at desc
limit 1
