-- every generation the subject's data reaches: their own generations and those their events acted on
create or replace temp table erase_touched_generations as
with events as (
    select generation_id, viewer_id from events
),

subject_generations as (
    select generation_id from erase_subject_generations
),

acted_on as (
    select distinct generation_id
    from events
    where viewer_id = $subject_id
)

select generation_id from subject_generations
union
select generation_id from acted_on
