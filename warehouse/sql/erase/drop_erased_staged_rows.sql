-- operation: the ingest hook that quarantines staged rows of erased people as erased_subject, raw record dropped
-- (warehouse.erase.drop_erased_staged_rows): erased_subject_count first (none erased: nothing else runs), then
-- quarantine_erased for the staged kind: {person_column} is the kind's quoted person column (viewer_id of an
-- event, creator_id of a generation record) from warehouse.erase.ERASED_STAGED_ROWS, $person_kind the
-- erased_subjects kind it holds.
-- registered inputs: ingest_staged (the staged rows of one landing file, a temp table of warehouse.ingest)
-- parameters: $person_kind (quarantine_erased)

-- name: erased_subject_count
-- how many subjects are erased (none: ingest skips the erased-subject check entirely)
select count(*) as subjects
from erased_subjects

-- name: quarantine_erased
-- staged rows of an erased person: their person id, or a generation erased with its creator, hashed with the salt
-- in SQL and anti-joined against erased_subjects; such a row is quarantined as erased_subject WITHOUT its raw
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
            sha256(ingest_staged.{person_column} || salt.salt) as person_hash,
            sha256(ingest_staged.generation_id || salt.salt) as generation_hash
        from ingest_staged
        cross join salt
    )

    select staged.row_number
    from staged
    where staged.person_hash in (select subject_hash from erased where subject_kind = $person_kind)
        or staged.generation_hash in (select subject_hash from erased where subject_kind = 'generation')
) as hit
where ingest_staged.row_number = hit.row_number
