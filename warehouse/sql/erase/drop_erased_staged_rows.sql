-- operation: the ingest hook that quarantines staged rows of erased people as erased_subject, raw record dropped
-- (warehouse.erase.drop_erased_staged_rows): erased_subject_count first (none erased: nothing else runs), then
-- quarantine_erased for the staged kind: {person_column} is the kind's quoted person column (viewer_id of an
-- event, creator_id of a generation record) from warehouse.erase.ERASED_STAGED_ROWS, $person_kind the
-- erased_subjects kind it holds.
-- registered inputs: ingest_staged (the staged rows of one landing file, a temp table of warehouse.ingest)
-- parameters: $person_kind (quarantine_erased)
-- redact_raw_naming_erased: rejected staged rows whose raw record names an erased subject anywhere keep their reason
-- but not their raw record

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

-- name: redact_raw_naming_erased
-- rejected staged rows whose raw record names an erased person or generation in any form (any key, a misspelled or
-- duplicate one, JSON-escaped, a CSV cell, a cut line, free text): each JSON string of the raw text (escapes
-- decoded), each comma-separated cell and each word between blanks and punctuation is hashed with the salt and
-- looked up; a hit drops the raw record and keeps the row's reason, so the file's rows still add up and the id never
-- lands again
update ingest_staged
set
    raw = null,
    detail = coalesce(ingest_staged.detail || ' ', '') || '(raw record removed: it names an erased subject)'
from (
    with salt as (
        select salt from erasure_salt
    ),

    erased as (
        select subject_hash from erased_subjects
    ),

    tokens as (
        select
            ingest_staged.row_number,
            unnest(list_concat(
                list_transform(
                    regexp_extract_all(ingest_staged.raw, '"((?:[^"\\]|\\.)*)"', 1),
                    lambda s: coalesce(try(json_extract_string('"' || s || '"', '$')), s)
                ),
                list_concat(
                    list_transform(string_split(ingest_staged.raw, ','), lambda cell: trim(cell, '" ')),
                    -- text that is not JSON: the words between blanks and punctuation
                    regexp_split_to_array(ingest_staged.raw, '[\s,;:=&|"''(){}<>\[\]]+')
                )
            )) as token
        from ingest_staged
        where ingest_staged.reason_code is not null
            and ingest_staged.raw is not null
    )

    select distinct tokens.row_number
    from tokens
    cross join salt
    where sha256(tokens.token || salt.salt) in (select subject_hash from erased)
) as hit
where ingest_staged.row_number = hit.row_number

-- name: redact_extra_naming_erased
-- valid staged rows whose `extra` fields (outside the contract) name an erased person or generation under any key:
-- each JSON string of the text (escapes decoded, keys too) is hashed with the salt and looked up; a hit drops `extra`
-- and keeps the row
update ingest_staged
set extra = null
from (
    with salt as (
        select salt from erasure_salt
    ),

    erased as (
        select subject_hash from erased_subjects
    ),

    tokens as (
        select
            ingest_staged.row_number,
            unnest(list_transform(
                regexp_extract_all(ingest_staged.extra::varchar, '"((?:[^"\\]|\\.)*)"', 1),
                lambda s: coalesce(try(json_extract_string('"' || s || '"', '$')), s)
            )) as token
        from ingest_staged
        where ingest_staged.reason_code is null
            and ingest_staged.extra is not null
    )

    select distinct tokens.row_number
    from tokens
    cross join salt
    where sha256(tokens.token || salt.salt) in (select subject_hash from erased)
) as hit
where ingest_staged.row_number = hit.row_number
