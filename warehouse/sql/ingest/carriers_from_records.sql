-- The contract fields of each text record (JSON Lines or CSV) in typed carrier columns: <field>__present (a non-null
-- value is there) and one column per accepted representation (__s text, __i integer, __d number, __b boolean,
-- __t timestamptz, __l typed list), null when the value does not have that type.
-- Reads the registered relation `ingest_records` (records_from_jsonl / records_from_csv); CSV (text_typed) values
-- are text, so integers and timestamps are read from digit strings and lists arrive as JSON text.
-- A template (Python str.format, so literal braces are doubled) that warehouse.ingest.carriers fills from the
-- contract of the record kind: json_paths (the fields' JSON paths), null_patch (a JSON object of every field set to
-- null), field_values and carrier_columns (the per-field columns, from ingest/carrier_expressions).
with records as (
    select * from ingest_records
),

parsed as (
    -- one parse for the JSON types of all contract fields, one for their text; extra keys only when present
    select
        row_number,
        record_bytes,
        raw,
        text_typed,
        line_reason,
        line_detail,
        case
            when line_reason is null
                then json_type(raw, [{json_paths}])
        end as kinds,
        case
            when line_reason is null
                then json_extract_string(raw, [{json_paths}])
        end as texts,
        case
            when line_reason is null
                -- more keys than contract fields found: some key is not a contract field
                and len(json_keys(raw)) > list_count(kinds)
                then nullif(json_merge_patch(raw, {null_patch}), '{{}}')
        end as extra
    from records
),

strict as (
    -- NaN and Infinity are not JSON: a contract field holding one fails its type check; in the other keys (extra,
    -- usually absent) the record is malformed, so `extra` only ever holds JSON
    select
        * replace (
            coalesce(line_reason, case when lenient_extra then 'malformed_record' end) as line_reason,
            coalesce(line_detail, case when lenient_extra then 'line is not strict JSON (NaN or Infinity)' end)
                as line_detail
        )
    from (
        select
            *,
            case
                when extra is not null
                    then regexp_matches(
                        regexp_replace(extra, '"(?:[^"\\]|\\.)*"', '""', 'g'), '[:\[,]\s*[+-]?(?i:nan|inf)'
                    )
                else false
            end as lenient_extra
        from parsed
    )
),

field_values as (
    select
        row_number,
        record_bytes,
        raw,
        text_typed,
        line_reason,
        line_detail,
        case when lenient_extra then null else extra end as extra,
        {field_values}
    from strict
)

select
    row_number,
    record_bytes,
    raw,
    null::json as src,
    line_reason,
    line_detail,
    extra,
    {carrier_columns}
from field_values
