-- remember the erased subject (and, for a creator, each of their generations) by salted hash, once each,
-- so ingest drops their rows if an old file is delivered again
insert into erased_subjects (subject_kind, subject_hash, erased_at)
with salt as (
    select salt from erasure_salt
),

subjects as (
    select $subject_kind as subject_kind, sha256($subject_id || salt.salt) as subject_hash
    from salt
    union all
    -- a creator's own events as a viewer are theirs too
    select 'viewer' as subject_kind, sha256($subject_id || salt.salt) as subject_hash
    from salt
    where $subject_kind = 'creator'
    union all
    select 'generation' as subject_kind, sha256(erase_subject_generations.generation_id || salt.salt) as subject_hash
    from erase_subject_generations
    cross join salt
),

new_subjects as (
    select distinct subjects.subject_kind, subjects.subject_hash
    from subjects
    anti join erased_subjects
        on erased_subjects.subject_kind = subjects.subject_kind
        and erased_subjects.subject_hash = subjects.subject_hash
)

select subject_kind, subject_hash, $erased_at
from new_subjects
