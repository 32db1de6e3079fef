-- staged event rows of an erased person: their viewer_id, or a generation of an erased creator, hashed with the
-- salt in SQL and anti-joined against erased_subjects; such a row is quarantined as erased_subject WITHOUT its raw
-- record (the id never lands again), so the file's rows still add up
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
            sha256(ingest_staged.viewer_id || salt.salt) as viewer_hash,
            sha256(ingest_staged.generation_id || salt.salt) as generation_hash
        from ingest_staged
        cross join salt
    )

    select staged.row_number
    from staged
    where staged.viewer_hash in (select subject_hash from erased where subject_kind = 'viewer')
        or staged.generation_hash in (select subject_hash from erased where subject_kind = 'generation')
) as hit
where ingest_staged.row_number = hit.row_number
