-- how far the label state tables have read events and generations (at most one row)
-- registered inputs: none; parameters: none
with

label_state as (
    select
        label_version, events_through, events_count, generations_through, generations_count, updated_at
    from label_state
),

final as (
    select * from label_state
)

select * from final
order by updated_at desc
limit 1
