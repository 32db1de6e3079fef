-- drop the raw record (and any id in the detail) of quarantined rows that hold the subject: JSON records whose
-- viewer_id / creator_id is the subject or whose generation_id is theirs; records that are not JSON when their text
-- contains the id; the row itself stays, so file accounting still adds up
update quarantine
set
    raw = null,
    detail = 'erased subject: raw record removed'
where raw is not null
    and (
        case
            when json_valid(raw)
                then coalesce(
                    json_extract_string(case when json_valid(raw) then raw end, '$.viewer_id') = $subject_id
                    or json_extract_string(case when json_valid(raw) then raw end, '$.creator_id') = $subject_id
                    or json_extract_string(case when json_valid(raw) then raw end, '$.generation_id')
                    in (select generation_id from erase_subject_generations),
                    false
                )
            else contains(raw, $subject_id)
                or exists (
                    select 1
                    from erase_subject_generations
                    where contains(quarantine.raw, erase_subject_generations.generation_id)
                )
        end
    )
