-- staged generation rows of an erased creator (by creator_id, or a generation_id erased with its creator), hashed
-- with the salt in SQL and anti-joined against erased_subjects; quarantined as erased_subject WITHOUT the raw record
update ingest_staged
set
    reason_code = 'erased_subject',
    detail = 'erased subject',
    raw = null
from (
    with salt as (
        select salt from erasure_salt
    ),

    erased as (
        select subject_kind, subject_hash from erased_subjects
    ),

    staged as (
        select
            ingest_staged.row_number,
            sha256(ingest_staged.creator_id || salt.salt) as creator_hash,
            sha256(ingest_staged.generation_id || salt.salt) as generation_hash
        from ingest_staged
        cross join salt
    )

    select staged.row_number
    from staged
    where staged.creator_hash in (select subject_hash from erased where subject_kind = 'creator')
        or staged.generation_hash in (select subject_hash from erased where subject_kind = 'generation')
) as hit
where ingest_staged.row_number = hit.row_number
