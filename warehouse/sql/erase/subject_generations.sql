-- the generations of the subject when it is a creator (none for a viewer): erased with everything on them
create or replace temp table erase_subject_generations as
with generations as (
    select generation_id, creator_id from generations
)

select distinct generation_id
from generations
where $subject_kind = 'creator'
    and creator_id = $subject_id
