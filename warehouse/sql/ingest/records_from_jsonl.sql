-- one record per JSON Lines line of the registered batch `ingest_batch` (row_number, record blob, record_bytes),
-- with its line-level problem: invalid UTF-8, empty line, not JSON, not a JSON object, not strict JSON (DuckDB's
-- parser also takes trailing commas: a line with one outside its strings is malformed; NaN and Infinity, which it
-- takes too, are judged where the values are read: ingest/carriers_from_records)
with batch as (
    select
        row_number,
        record_bytes,
        record,
        try(decode(record)) as text
    from ingest_batch
),

classified as (
    select
        row_number,
        record_bytes,
        -- invalid UTF-8 stays readable: bytes outside printable ASCII (and \) as \xNN escapes
        coalesce(text, replace(replace(record::varchar, '\x22', '"'), '\x27', '''')) as raw,
        text,
        case when text is not null then try(json_type(text)) end as json_kind
    from batch
),

checked as (
    select
        *,
        -- cheap test first; only a line that may hold a trailing comma has its strings blanked and is tested again
        case
            when json_kind = 'OBJECT' and regexp_matches(text, ',\s*[\]}]')
                then regexp_matches(regexp_replace(text, '"(?:[^"\\]|\\.)*"', '""', 'g'), ',\s*[\]}]')
            else false
        end as lenient
    from classified
)

select
    row_number,
    record_bytes,
    raw,
    false as text_typed,
    case
        when text is null then 'bad_encoding'
        when text = '' then 'malformed_record'
        when json_kind is null then 'malformed_record'
        when json_kind <> 'OBJECT' then 'malformed_record'
        when lenient then 'malformed_record'
    end as line_reason,
    case
        when text is null then 'line is not valid UTF-8'
        when text = '' then 'empty line'
        when json_kind is null then 'line is not valid JSON'
        when json_kind <> 'OBJECT' then 'line is a JSON ' || lower(json_kind) || ', not an object'
        when lenient then 'line is not strict JSON (a trailing comma)'
    end as line_detail
from checked
