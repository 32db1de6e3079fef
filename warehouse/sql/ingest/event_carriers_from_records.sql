-- event fields of each record (JSON Lines or CSV) in typed carrier columns: <field>__present (a non-null value is
-- there) and one column per accepted representation (__s text, __i integer, __t timestamptz), null when the value
-- does not have that type; CSV (text_typed) values are text, so integers and timestamps are read from digit strings
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
                then json_type(raw, [
                    '$.event_id', '$.event_type', '$.generation_id', '$.viewer_id', '$.occurred_at',
                    '$.surface', '$.position', '$.watch_ms', '$.session_id', '$.app_version'
                ])
        end as kinds,
        case
            when line_reason is null
                then json_extract_string(raw, [
                    '$.event_id', '$.event_type', '$.generation_id', '$.viewer_id', '$.occurred_at',
                    '$.surface', '$.position', '$.watch_ms', '$.session_id', '$.app_version'
                ])
        end as texts,
        case
            when line_reason is null
                -- more keys than contract fields found: some key is not a contract field
                and len(json_keys(raw)) > list_count(kinds)
                then nullif(json_merge_patch(
                    raw,
                    '{"event_id": null, "event_type": null, "generation_id": null,
                      "viewer_id": null, "occurred_at": null, "surface": null,
                      "position": null, "watch_ms": null, "session_id": null,
                      "app_version": null}'
                ), '{}')
        end as extra
    from records
),

field_values as (
    select
        row_number,
        record_bytes,
        raw,
        text_typed,
        line_reason,
        line_detail,
        extra,
        nullif(kinds[1], 'NULL') as event_id__kind,
        texts[1] as event_id__text,
        nullif(kinds[2], 'NULL') as event_type__kind,
        texts[2] as event_type__text,
        nullif(kinds[3], 'NULL') as generation_id__kind,
        texts[3] as generation_id__text,
        nullif(kinds[4], 'NULL') as viewer_id__kind,
        texts[4] as viewer_id__text,
        nullif(kinds[5], 'NULL') as occurred_at__kind,
        texts[5] as occurred_at__text,
        nullif(kinds[6], 'NULL') as surface__kind,
        texts[6] as surface__text,
        nullif(kinds[7], 'NULL') as position__kind,
        texts[7] as position__text,
        nullif(kinds[8], 'NULL') as watch_ms__kind,
        texts[8] as watch_ms__text,
        nullif(kinds[9], 'NULL') as session_id__kind,
        texts[9] as session_id__text,
        nullif(kinds[10], 'NULL') as app_version__kind,
        texts[10] as app_version__text
    from parsed
)

select
    row_number,
    record_bytes,
    raw,
    null::json as src,
    line_reason,
    line_detail,
    extra,
    event_id__kind is not null as event_id__present,
    case when event_id__kind = 'VARCHAR' then event_id__text end as event_id__s,
    event_type__kind is not null as event_type__present,
    case when event_type__kind = 'VARCHAR' then event_type__text end as event_type__s,
    generation_id__kind is not null as generation_id__present,
    case when generation_id__kind = 'VARCHAR' then generation_id__text end as generation_id__s,
    viewer_id__kind is not null as viewer_id__present,
    case when viewer_id__kind = 'VARCHAR' then viewer_id__text end as viewer_id__s,
    occurred_at__kind is not null as occurred_at__present,
    case
        when occurred_at__kind = 'VARCHAR'
            and not (text_typed and regexp_full_match(occurred_at__text, '-?[0-9]+'))
            then occurred_at__text
    end as occurred_at__s,
    case
        when occurred_at__kind in ('BIGINT', 'UBIGINT')
            or (text_typed and occurred_at__kind = 'VARCHAR'
                and regexp_full_match(occurred_at__text, '-?[0-9]+'))
            then try_cast(occurred_at__text as bigint)
    end as occurred_at__i,
    null::timestamptz as occurred_at__t,
    surface__kind is not null as surface__present,
    case when surface__kind = 'VARCHAR' then surface__text end as surface__s,
    position__kind is not null as position__present,
    case
        when position__kind in ('BIGINT', 'UBIGINT')
            or (text_typed and position__kind = 'VARCHAR'
                and regexp_full_match(position__text, '[+-]?[0-9]+'))
            then try_cast(position__text as bigint)
    end as position__i,
    watch_ms__kind is not null as watch_ms__present,
    case
        when watch_ms__kind in ('BIGINT', 'UBIGINT')
            or (text_typed and watch_ms__kind = 'VARCHAR'
                and regexp_full_match(watch_ms__text, '[+-]?[0-9]+'))
            then try_cast(watch_ms__text as bigint)
    end as watch_ms__i,
    session_id__kind is not null as session_id__present,
    case when session_id__kind = 'VARCHAR' then session_id__text end as session_id__s,
    app_version__kind is not null as app_version__present,
    case when app_version__kind = 'VARCHAR' then app_version__text end as app_version__s
from field_values
