-- generation fields of each record (JSON Lines or CSV) in typed carrier columns: <field>__present and one column
-- per accepted representation (__s text, __i integer, __d number, __b boolean, __t timestamptz, __l typed list),
-- null when the value does not have that type; in CSV (text_typed) lists arrive as JSON text
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
                    '$.generation_id', '$.request_id', '$.creator_id', '$.prompt', '$.model_version',
                    '$.created_at', '$.duration_ms', '$.width', '$.height', '$.fps',
                    '$.seed', '$.reference_inputs', '$.output_uri', '$.output_embedding', '$.training_consent',
                    '$.content_flags'
                ])
        end as kinds,
        case
            when line_reason is null
                then json_extract_string(raw, [
                    '$.generation_id', '$.request_id', '$.creator_id', '$.prompt', '$.model_version',
                    '$.created_at', '$.duration_ms', '$.width', '$.height', '$.fps',
                    '$.seed', '$.reference_inputs', '$.output_uri', '$.output_embedding', '$.training_consent',
                    '$.content_flags'
                ])
        end as texts,
        case
            when line_reason is null
                -- more keys than contract fields found: some key is not a contract field
                and len(json_keys(raw)) > list_count(kinds)
                then nullif(json_merge_patch(
                    raw,
                    '{"generation_id": null, "request_id": null, "creator_id": null,
                      "prompt": null, "model_version": null, "created_at": null,
                      "duration_ms": null, "width": null, "height": null,
                      "fps": null, "seed": null, "reference_inputs": null,
                      "output_uri": null, "output_embedding": null, "training_consent": null,
                      "content_flags": null}'
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
        nullif(kinds[1], 'NULL') as generation_id__kind,
        texts[1] as generation_id__text,
        nullif(kinds[2], 'NULL') as request_id__kind,
        texts[2] as request_id__text,
        nullif(kinds[3], 'NULL') as creator_id__kind,
        texts[3] as creator_id__text,
        nullif(kinds[4], 'NULL') as prompt__kind,
        texts[4] as prompt__text,
        nullif(kinds[5], 'NULL') as model_version__kind,
        texts[5] as model_version__text,
        nullif(kinds[6], 'NULL') as created_at__kind,
        texts[6] as created_at__text,
        nullif(kinds[7], 'NULL') as duration_ms__kind,
        texts[7] as duration_ms__text,
        nullif(kinds[8], 'NULL') as width__kind,
        texts[8] as width__text,
        nullif(kinds[9], 'NULL') as height__kind,
        texts[9] as height__text,
        nullif(kinds[10], 'NULL') as fps__kind,
        texts[10] as fps__text,
        nullif(kinds[11], 'NULL') as seed__kind,
        texts[11] as seed__text,
        coalesce(kinds[12], 'NULL') <> 'NULL' as reference_inputs__present,
        case
            when kinds[12] = 'ARRAY' then texts[12]::json
            when text_typed and kinds[12] = 'VARCHAR' then try(json(texts[12]))
        end as reference_inputs__json,
        nullif(kinds[13], 'NULL') as output_uri__kind,
        texts[13] as output_uri__text,
        coalesce(kinds[14], 'NULL') <> 'NULL' as output_embedding__present,
        case
            when kinds[14] = 'ARRAY' then texts[14]::json
            when text_typed and kinds[14] = 'VARCHAR' then try(json(texts[14]))
        end as output_embedding__json,
        nullif(kinds[15], 'NULL') as training_consent__kind,
        texts[15] as training_consent__text,
        coalesce(kinds[16], 'NULL') <> 'NULL' as content_flags__present,
        case
            when kinds[16] = 'ARRAY' then texts[16]::json
            when text_typed and kinds[16] = 'VARCHAR' then try(json(texts[16]))
        end as content_flags__json
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
    generation_id__kind is not null as generation_id__present,
    case when generation_id__kind = 'VARCHAR' then generation_id__text end as generation_id__s,
    request_id__kind is not null as request_id__present,
    case when request_id__kind = 'VARCHAR' then request_id__text end as request_id__s,
    creator_id__kind is not null as creator_id__present,
    case when creator_id__kind = 'VARCHAR' then creator_id__text end as creator_id__s,
    prompt__kind is not null as prompt__present,
    case when prompt__kind = 'VARCHAR' then prompt__text end as prompt__s,
    model_version__kind is not null as model_version__present,
    case when model_version__kind = 'VARCHAR' then model_version__text end as model_version__s,
    created_at__kind is not null as created_at__present,
    case
        when created_at__kind = 'VARCHAR'
            and not (text_typed and regexp_full_match(created_at__text, '-?[0-9]+'))
            then created_at__text
    end as created_at__s,
    case
        when created_at__kind in ('BIGINT', 'UBIGINT')
            or (text_typed and created_at__kind = 'VARCHAR'
                and regexp_full_match(created_at__text, '-?[0-9]+'))
            then try_cast(created_at__text as bigint)
    end as created_at__i,
    null::timestamptz as created_at__t,
    duration_ms__kind is not null as duration_ms__present,
    case
        when duration_ms__kind in ('BIGINT', 'UBIGINT')
            or (text_typed and duration_ms__kind = 'VARCHAR'
                and regexp_full_match(duration_ms__text, '[+-]?[0-9]+'))
            then try_cast(duration_ms__text as bigint)
    end as duration_ms__i,
    width__kind is not null as width__present,
    case
        when width__kind in ('BIGINT', 'UBIGINT')
            or (text_typed and width__kind = 'VARCHAR'
                and regexp_full_match(width__text, '[+-]?[0-9]+'))
            then try_cast(width__text as bigint)
    end as width__i,
    height__kind is not null as height__present,
    case
        when height__kind in ('BIGINT', 'UBIGINT')
            or (text_typed and height__kind = 'VARCHAR'
                and regexp_full_match(height__text, '[+-]?[0-9]+'))
            then try_cast(height__text as bigint)
    end as height__i,
    fps__kind is not null as fps__present,
    case
        when fps__kind in ('BIGINT', 'UBIGINT', 'DOUBLE')
            or (text_typed and fps__kind = 'VARCHAR'
                and regexp_full_match(fps__text, '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?'))
            then try_cast(fps__text as double)
    end as fps__d,
    seed__kind is not null as seed__present,
    case
        when seed__kind in ('BIGINT', 'UBIGINT')
            or (text_typed and seed__kind = 'VARCHAR'
                and regexp_full_match(seed__text, '[+-]?[0-9]+'))
            then try_cast(seed__text as bigint)
    end as seed__i,
    reference_inputs__present,
    case
        when json_type(reference_inputs__json) = 'ARRAY'
            and coalesce(list_bool_and(list_transform(
                json_extract(reference_inputs__json, '$[*]'),
                lambda item: json_type(item) = 'OBJECT'
                    and coalesce(json_type(item, '$.kind') = 'VARCHAR', false)
                    and coalesce(json_type(item, '$.uri') = 'VARCHAR', false)
            )), true)
            then from_json(reference_inputs__json, '[{"kind": "VARCHAR", "uri": "VARCHAR"}]')
    end as reference_inputs__l,
    output_uri__kind is not null as output_uri__present,
    case when output_uri__kind = 'VARCHAR' then output_uri__text end as output_uri__s,
    output_embedding__present,
    case
        when json_type(output_embedding__json) = 'ARRAY'
            and coalesce(list_bool_and(list_transform(
                json_extract(output_embedding__json, '$[*]'),
                lambda item: json_type(item) in ('BIGINT', 'UBIGINT', 'DOUBLE')
            )), true)
            then try_cast(from_json(output_embedding__json, '["DOUBLE"]') as float[])
    end as output_embedding__l,
    training_consent__kind is not null as training_consent__present,
    case
        when training_consent__kind = 'BOOLEAN' then training_consent__text = 'true'
        when text_typed and training_consent__kind = 'VARCHAR'
            and lower(training_consent__text) in ('true', 'false')
            then lower(training_consent__text) = 'true'
    end as training_consent__b,
    content_flags__present,
    case
        when json_type(content_flags__json) = 'ARRAY'
            and coalesce(list_bool_and(list_transform(
                json_extract(content_flags__json, '$[*]'),
                lambda item: json_type(item) = 'VARCHAR'
            )), true)
            then from_json(content_flags__json, '["VARCHAR"]')
    end as content_flags__l
from field_values
