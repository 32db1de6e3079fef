-- exports already written whose rows hold a generation the subject's data reaches (their folders are not rewritten):
-- rows_with_subject_generations counts rows on the subject's own generations (deleted from export_rows)
-- registered inputs: erase_subject_generations, erase_touched_generations (temp tables of erase/erase_subject.sql)
-- parameters: none
with export_rows as (
    select export_id, generation_id from export_rows
),

exports as (
    select export_id, path from exports
),

touched as (
    select generation_id from erase_touched_generations
),

own as (
    select generation_id from erase_subject_generations
),

reached as (
    select
        export_rows.export_id,
        count(*) filter (where export_rows.generation_id in (select generation_id from own))
            as rows_with_subject_generations,
        count(*) as rows_with_touched_generations
    from export_rows
    where export_rows.generation_id in (select generation_id from touched)
    group by export_rows.export_id
),

final as (
    select
        reached.export_id,
        list(distinct exports.path order by exports.path) filter (where exports.path is not null) as paths,
        any_value(reached.rows_with_subject_generations) as rows_with_subject_generations,
        any_value(reached.rows_with_touched_generations) as rows_with_touched_generations
    from reached
    left join exports using (export_id)
    group by reached.export_id
)

select * from final
order by export_id
