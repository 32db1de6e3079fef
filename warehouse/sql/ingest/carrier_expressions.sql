-- The per-field expressions of ingest/carriers_from_records, one block per use: warehouse.ingest.carriers fills
-- each for every contract field (Python str.format, so literal braces are doubled) and names the column it makes.
-- Placeholders (no registered relations, no parameters): index, the field's position in the contract (1-based);
-- the quoted names of the field's columns in the CTEs of ingest/carriers_from_records: kind (its JSON type,
-- 'VARCHAR', 'BIGINT', ...; null when absent or null), text (its value as text), json (a list field's JSON) and
-- present (whether a list field has a non-null value).
-- scalar_field_values / list_field_values: a field's columns in `field_values` (a list field's JSON, in CSV from
-- the cell's JSON text); scalar_present / list_present: its __present carrier; the others: one carrier column
-- each (timestamp_text: in CSV a digit string is epoch milliseconds instead; timestamp_typed: text records carry
-- no typed timestamps, only Parquet does).

-- name: scalar_field_values
nullif(kinds[{index}], 'NULL') as {kind},
texts[{index}] as {text}

-- name: list_field_values
coalesce(kinds[{index}], 'NULL') <> 'NULL' as {present},
case
    when kinds[{index}] = 'ARRAY' then texts[{index}]::json
    when text_typed and kinds[{index}] = 'VARCHAR' then try(json(texts[{index}]))
end as {json}

-- name: scalar_present
{kind} is not null

-- name: list_present
{present}

-- name: string_text
case when {kind} = 'VARCHAR' then {text} end

-- name: integer
case
    when {kind} in ('BIGINT', 'UBIGINT')
        or (text_typed and {kind} = 'VARCHAR'
            and regexp_full_match({text}, '[+-]?[0-9]+'))
        then try_cast({text} as bigint)
end

-- name: number
case
    when {kind} in ('BIGINT', 'UBIGINT', 'DOUBLE')
        or (text_typed and {kind} = 'VARCHAR'
            and regexp_full_match({text}, '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?'))
        then try_cast({text} as double)
end

-- name: boolean
case
    when {kind} = 'BOOLEAN' then {text} = 'true'
    when text_typed and {kind} = 'VARCHAR'
        and lower({text}) in ('true', 'false')
        then lower({text}) = 'true'
end

-- name: timestamp_text
case
    when {kind} = 'VARCHAR'
        and not (text_typed and regexp_full_match({text}, '-?[0-9]+'))
        then {text}
end

-- name: timestamp_epoch_ms
case
    when {kind} in ('BIGINT', 'UBIGINT')
        or (text_typed and {kind} = 'VARCHAR'
            and regexp_full_match({text}, '-?[0-9]+'))
        then try_cast({text} as bigint)
end

-- name: timestamp_typed
null::timestamptz

-- name: references
case
    when json_type({json}) = 'ARRAY'
        and coalesce(list_bool_and(list_transform(
            json_extract({json}, '$[*]'),
            lambda item: json_type(item) = 'OBJECT'
                and coalesce(json_type(item, '$.kind') = 'VARCHAR', false)
                and coalesce(json_type(item, '$.uri') = 'VARCHAR', false)
        )), true)
        then from_json({json}, '[{{"kind": "VARCHAR", "uri": "VARCHAR"}}]')
end

-- name: embedding
case
    when json_type({json}) = 'ARRAY'
        and coalesce(list_bool_and(list_transform(
            json_extract({json}, '$[*]'),
            lambda item: json_type(item) in ('BIGINT', 'UBIGINT', 'DOUBLE')
        )), true)
        then try_cast(from_json({json}, '["DOUBLE"]') as float[])
end

-- name: string_list
case
    when json_type({json}) = 'ARRAY'
        and coalesce(list_bool_and(list_transform(
            json_extract({json}, '$[*]'),
            lambda item: json_type(item) = 'VARCHAR'
        )), true)
        then from_json({json}, '["VARCHAR"]')
end
