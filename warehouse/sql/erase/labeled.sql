-- whether the label stage has run on this warehouse (then erasure recomputes the labels at once; flows.erase)
-- registered inputs: none; parameters: none
with

label_runs as (
    select finished_at from label_runs
),

final as (
    select count(*) > 0 as labeled
    from label_runs
)

select * from final
