-- operation: erase one viewer or creator (warehouse.erase.erase_subject), one transaction, blocks in the order
-- they run. The deletes are generated per table and column of warehouse.erase.ERASURE_TABLES from the two
-- delete_* templates ({table} and {column}: quoted identifiers from that allowlist only).
-- working sets (temp tables made here): erase_subject_generations, erase_touched_generations, erase_subject_texts
-- (and its temp macro names_erase_subject)
-- parameters: $subject_kind, $subject_id, $subject_forms, $salt, $created_at, $erased_at; $erasure_id, $subject_hash,
-- $requested_at, $completed_at, $deleted_rows, $redacted_quarantine_rows, $affected_exports, $reason (insert_erasure)

-- name: insert_salt
-- the salt of subject hashes, made once (a later erasure keeps the first salt, so hashes stay comparable)
insert into erasure_salt (salt, created_at)
select $salt, $created_at
where not exists (select 1 from erasure_salt)

-- name: subject_hash
-- the salted hash of a subject id, as stored in erased_subjects and erasures
select sha256($subject_id || salt) as subject_hash
from erasure_salt

-- name: subject_generations
-- the generations of the subject when it is a creator (none for a viewer): erased with everything on them
create or replace temp table erase_subject_generations as
with generations as (
    select generation_id, creator_id from generations
)

select distinct generation_id
from generations
where $subject_kind = 'creator'
    and creator_id = $subject_id

-- name: touched_generations
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

-- name: count_subject_generations
-- how many generations of the subject are erased
select count(*) as generations
from erase_subject_generations

-- name: record_erased_subjects
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

-- name: subject_texts
-- every text that names the subject or one of their generations in a stored record: each form of the id
-- ($subject_forms, made by warehouse.erase.id_forms: as given, JSON-escaped, CSV-quoted, the \xNN escapes of a line
-- that is not UTF-8) and each generation id as it is, JSON-escaped and as DuckDB's blob text; `decoded_id` marks the
-- ids also looked for inside JSON strings once their escapes are decoded
create or replace temp table erase_subject_texts as
with generation_ids as (
    select generation_id from erase_subject_generations
),

texts as (
    select unnest($subject_forms) as needle, false as decoded_id
    union all
    select $subject_id, true
    union all
    select generation_id, true from generation_ids
    union all
    select (to_json(generation_id)::varchar)[2:-2], false from generation_ids
    union all
    select replace(replace(encode(generation_id)::varchar, '\x22', '"'), '\x27', ''''), false from generation_ids
)

select needle, bool_or(decoded_id) as decoded_id
from texts
where needle <> ''
group by needle

-- name: subject_matcher
-- names_erase_subject(text): whether a stored text names the subject in any form of erase_subject_texts, as bytes
-- or inside any JSON string of it once its escapes are decoded (any key, a misspelled one, a duplicate, a cut line)
create or replace temp macro names_erase_subject(stored_text) as (
    exists (select 1 from erase_subject_texts where contains(stored_text, erase_subject_texts.needle))
    or (
        contains(stored_text, '\')
        and exists (
            select 1
            from (
                select unnest(list_transform(
                    regexp_extract_all(stored_text, '"((?:[^"\\]|\\.)*)"', 1),
                    lambda s: coalesce(try(json_extract_string('"' || s || '"', '$')), s)
                )) as decoded
            ) as strings
            inner join erase_subject_texts
                on erase_subject_texts.decoded_id and contains(strings.decoded, erase_subject_texts.needle)
        )
    )
)

-- name: redact_quarantine
-- drop the raw record (and the detail) of quarantined rows that name the subject or one of their generations
-- (names_erase_subject); the row itself stays, so file accounting still adds up
update quarantine
set
    raw = null,
    detail = 'erased subject: raw record removed'
where raw is not null
    and names_erase_subject(raw)

-- name: redact_event_extra
-- drop the `extra` JSON (fields outside the contract) of loaded events that name the subject or one of their
-- generations under any key (names_erase_subject); the row itself stays
update events
set extra = null
where extra is not null
    and names_erase_subject(extra::varchar)

-- name: redact_generation_extra
-- drop the `extra` JSON of loaded generation records that name the subject or one of their generations under any
-- key (names_erase_subject); the row itself stays
update generations
set extra = null
where extra is not null
    and names_erase_subject(extra::varchar)

-- name: delete_viewer_rows
-- erase the rows of {table} whose {column} holds the subject as a viewer (a creator's own events as a viewer too)
delete from {table}
where {column} = $subject_id

-- name: delete_generation_rows
-- erase the rows of {table} whose {column} holds one of the subject's generations (a creator's: none for a viewer)
delete from {table}
where {column} in (select generation_id from erase_subject_generations)

-- name: reset_label_state
-- forget how far the label state has read events: the next label run rebuilds it from the remaining events
delete from label_state

-- name: insert_erasure
-- the audit row of one erasure (the subject by salted hash only)
insert into erasures (
    erasure_id, subject_kind, subject_hash, requested_at, completed_at, deleted_rows, redacted_quarantine_rows,
    affected_exports, reason
)
values (
    $erasure_id, $subject_kind, $subject_hash, $requested_at, $completed_at, $deleted_rows,
    $redacted_quarantine_rows, $affected_exports, $reason
)

-- name: drop_subject_generations
-- free the erasure's working set of the subject's generation ids
drop table if exists erase_subject_generations

-- name: drop_subject_texts
-- free the texts naming the subject
drop table if exists erase_subject_texts

-- name: drop_subject_matcher
-- free the matcher of those texts
drop macro if exists names_erase_subject

-- name: drop_touched_generations
-- free the erasure's working set of generation ids the subject's data reaches
drop table if exists erase_touched_generations
