-- The judged rows of a generation file in temp table `ingest_staged`, in lifecycle order.
-- create: the table; judge: every row of the registered carrier relation `ingest_generation_carriers` judged into
-- it (parameters $max_line_bytes, $raw_preview_chars, $max_id_chars, $max_prompt_chars, $min_timestamp,
-- $max_timestamp, $reference_kinds); embedding_check: the cross-row rule, against `generations` (no parameters);
-- to_parquet: a worker writes it under $directory ($min_timestamp and $max_timestamp bound the day partitions);
-- load: the coordinator inserts its new valid rows into `generations` (parameters $source_file, $ingested_at).

-- name: create
-- the rows of the generation file being loaded, judged: reason_code null = valid (raw kept for every row: the
-- cross-row embedding check may reject a row after its own checks passed)
create or replace temp table ingest_staged (
    row_number bigint not null,
    reason_code varchar,
    detail varchar,
    raw varchar,
    generation_id varchar,
    request_id varchar,
    creator_id varchar,
    prompt varchar,
    model_version varchar,
    created_at timestamptz,
    duration_ms bigint,
    width integer,
    height integer,
    fps double,
    seed bigint,
    reference_inputs struct(kind varchar, uri varchar)[],
    output_uri varchar,
    output_embedding float[],
    training_consent boolean,
    content_flags varchar[],
    extra json
)

-- name: judge
-- judge each generation carrier row against the contract; the first failing rule (fixed precedence) names the
-- reason: oversized line, bad_encoding, malformed_record, missing_field, bad_type, empty_id, oversized_field,
-- bad_enum, bad_timestamp, future_timestamp, negative_value
insert into ingest_staged
with carriers as (
    select * from ingest_generation_carriers
),

timed as (
    select
        *,
        coalesce(
            created_at__t,
            -- RFC 3339 strictly: hours < 24, minutes < 60, offsets within +-23:59; a leap second (:60) is the next second
            case
                when regexp_full_match(
                    created_at__s,
                    '[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)([.][0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])'
                )
                    then case
                        when substr(created_at__s, 18, 2) = '60'
                            then try_cast(upper(left(created_at__s, 17) || '59' || substr(created_at__s, 20)) as timestamptz)
                                + interval 1 second
                        else try_cast(upper(created_at__s) as timestamptz)
                    end
            end,
            try(epoch_ms(created_at__i))::timestamptz
        ) as created_at
    from carriers
),

judged as (
    select
        *,
        case
            when record_bytes > $max_line_bytes
                then {'code': 'oversized_field', 'detail': 'line: ' || record_bytes || ' bytes, over the '
                    || $max_line_bytes || '-byte limit (raw keeps the first ' || $raw_preview_chars || ' characters)'}
            when line_reason is not null then {'code': line_reason, 'detail': line_detail}
            when not generation_id__present
                then {'code': 'missing_field', 'detail': 'generation_id: required field is missing'}
            when not request_id__present then {'code': 'missing_field', 'detail': 'request_id: required field is missing'}
            when not creator_id__present then {'code': 'missing_field', 'detail': 'creator_id: required field is missing'}
            when not prompt__present then {'code': 'missing_field', 'detail': 'prompt: required field is missing'}
            when not model_version__present
                then {'code': 'missing_field', 'detail': 'model_version: required field is missing'}
            when not created_at__present then {'code': 'missing_field', 'detail': 'created_at: required field is missing'}
            when not duration_ms__present
                then {'code': 'missing_field', 'detail': 'duration_ms: required field is missing'}
            when generation_id__s is null then {'code': 'bad_type', 'detail': 'generation_id: expected a string'}
            when request_id__s is null then {'code': 'bad_type', 'detail': 'request_id: expected a string'}
            when creator_id__s is null then {'code': 'bad_type', 'detail': 'creator_id: expected a string'}
            when prompt__s is null then {'code': 'bad_type', 'detail': 'prompt: expected a string'}
            when model_version__s is null then {'code': 'bad_type', 'detail': 'model_version: expected a string'}
            when created_at__s is null and created_at__i is null and created_at__t is null
                then {'code': 'bad_type', 'detail': 'created_at: expected an RFC 3339 string or integer epoch milliseconds'}
            when duration_ms__i is null then {'code': 'bad_type', 'detail': 'duration_ms: expected a 64-bit integer'}
            when (width__present and width__i is null) or width__i > 2147483647
                then {'code': 'bad_type', 'detail': 'width: expected a 32-bit integer'}
            when (height__present and height__i is null) or height__i > 2147483647
                then {'code': 'bad_type', 'detail': 'height: expected a 32-bit integer'}
            when fps__present and (fps__d is null or not isfinite(fps__d))
                then {'code': 'bad_type', 'detail': 'fps: expected a finite number'}
            when seed__present and seed__i is null then {'code': 'bad_type', 'detail': 'seed: expected a 64-bit integer'}
            when reference_inputs__present
                and not coalesce(list_bool_and(list_transform(
                    reference_inputs__l, lambda ref: ref.kind is not null and ref.uri is not null
                )), reference_inputs__l is not null)
                then {'code': 'bad_type', 'detail': 'reference_inputs: expected a list of {kind, uri} objects'}
            when output_uri__present and output_uri__s is null
                then {'code': 'bad_type', 'detail': 'output_uri: expected a string'}
            when output_embedding__present
                and not coalesce(list_bool_and(list_transform(
                    output_embedding__l, lambda x: x is not null and isfinite(x)
                )), output_embedding__l is not null)
                then {'code': 'bad_type', 'detail': 'output_embedding: expected a list of finite numbers'}
            when training_consent__present and training_consent__b is null
                then {'code': 'bad_type', 'detail': 'training_consent: expected a boolean'}
            when content_flags__present
                and not coalesce(list_bool_and(list_transform(
                    content_flags__l, lambda flag: flag is not null
                )), content_flags__l is not null)
                then {'code': 'bad_type', 'detail': 'content_flags: expected a list of strings'}
            when not regexp_matches(generation_id__s, '[^\p{Z}\p{Cc}\p{Cf}]')
                then {'code': 'empty_id', 'detail': 'generation_id: empty or blank'}
            when not regexp_matches(request_id__s, '[^\p{Z}\p{Cc}\p{Cf}]')
                then {'code': 'empty_id', 'detail': 'request_id: empty or blank'}
            when not regexp_matches(creator_id__s, '[^\p{Z}\p{Cc}\p{Cf}]')
                then {'code': 'empty_id', 'detail': 'creator_id: empty or blank'}
            when not regexp_matches(model_version__s, '[^\p{Z}\p{Cc}\p{Cf}]')
                then {'code': 'empty_id', 'detail': 'model_version: empty or blank'}
            when regexp_matches(generation_id__s, '[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]')
                then {'code': 'bad_type', 'detail': 'generation_id: contains a control character'}
            when regexp_matches(request_id__s, '[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]')
                then {'code': 'bad_type', 'detail': 'request_id: contains a control character'}
            when regexp_matches(creator_id__s, '[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]')
                then {'code': 'bad_type', 'detail': 'creator_id: contains a control character'}
            when regexp_matches(model_version__s, '[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]')
                then {'code': 'bad_type', 'detail': 'model_version: contains a control character'}
            when length(generation_id__s) > $max_id_chars
                then {'code': 'oversized_field', 'detail': 'generation_id: over ' || $max_id_chars || ' characters'}
            when length(request_id__s) > $max_id_chars
                then {'code': 'oversized_field', 'detail': 'request_id: over ' || $max_id_chars || ' characters'}
            when length(creator_id__s) > $max_id_chars
                then {'code': 'oversized_field', 'detail': 'creator_id: over ' || $max_id_chars || ' characters'}
            when length(model_version__s) > $max_id_chars
                then {'code': 'oversized_field', 'detail': 'model_version: over ' || $max_id_chars || ' characters'}
            when length(prompt__s) > $max_prompt_chars
                then {'code': 'oversized_field', 'detail': 'prompt: over ' || $max_prompt_chars || ' characters'}
            when not coalesce(list_bool_and(list_transform(
                reference_inputs__l, lambda ref: list_contains($reference_kinds, ref.kind)
            )), true)
                then {'code': 'bad_enum', 'detail': 'reference_inputs: kind is not one of '
                    || array_to_string($reference_kinds, ', ')}
            when created_at is null
                then {'code': 'bad_timestamp', 'detail': 'created_at: not RFC 3339 with an offset nor valid epoch milliseconds'}
            when created_at < $min_timestamp
                then {'code': 'bad_timestamp', 'detail': 'created_at: before ' || strftime($min_timestamp, '%Y-%m-%dT%H:%M:%SZ')}
            when created_at > $max_timestamp
                then {'code': 'future_timestamp', 'detail': 'created_at: after ' || strftime($max_timestamp, '%Y-%m-%dT%H:%M:%SZ')
                    || ' (ingest time plus the allowed clock skew)'}
            when duration_ms__i <= 0 then {'code': 'negative_value', 'detail': 'duration_ms: must be > 0'}
            when width__i <= 0 then {'code': 'negative_value', 'detail': 'width: must be > 0'}
            when height__i <= 0 then {'code': 'negative_value', 'detail': 'height: must be > 0'}
            when fps__d <= 0 then {'code': 'negative_value', 'detail': 'fps: must be > 0'}
        end as verdict
    from timed
)

select
    row_number,
    verdict.code as reason_code,
    verdict.detail as detail,
    case
        when record_bytes > $max_line_bytes then left(raw, $raw_preview_chars)
        else coalesce(raw, to_json(src)::varchar)
    end as raw,
    generation_id__s as generation_id,
    request_id__s as request_id,
    creator_id__s as creator_id,
    prompt__s as prompt,
    model_version__s as model_version,
    created_at,
    duration_ms__i as duration_ms,
    try_cast(width__i as integer) as width,
    try_cast(height__i as integer) as height,
    fps__d as fps,
    seed__i as seed,
    reference_inputs__l as reference_inputs,
    output_uri__s as output_uri,
    output_embedding__l as output_embedding,
    coalesce(training_consent__b, true) as training_consent,
    content_flags__l as content_flags,
    extra::json as extra
from judged

-- name: embedding_check
-- output_embedding has one length per model_version: the length already in `generations`, else the length of the
-- first valid row of this file; valid rows of another length are rejected (checked after the per-row rules)
update ingest_staged as staged
set
    reason_code = 'embedding_dim_mismatch',
    detail = 'output_embedding: ' || len(staged.output_embedding) || ' values, model_version "'
        || left(staged.model_version, 64) || '" has ' || reference.dim
from (
    with loaded_dims as (
        select
            model_version,
            min(len(output_embedding)) as dim
        from generations
        where output_embedding is not null
        group by model_version
    ),

    file_dims as (
        select
            model_version,
            arg_min(len(output_embedding), row_number) as dim
        from ingest_staged
        where reason_code is null and output_embedding is not null
        group by model_version
    )

    select
        file_dims.model_version,
        coalesce(loaded_dims.dim, file_dims.dim) as dim
    from file_dims
    left join loaded_dims on loaded_dims.model_version = file_dims.model_version
) as reference
where staged.model_version = reference.model_version
    and staged.reason_code is null
    and staged.output_embedding is not null
    and len(staged.output_embedding) <> reference.dim

-- name: to_parquet
-- the judged rows of the generation file being staged, as Parquet under $directory partitioned by day of created_at
-- (hive day=YYYY-MM-DD); rows whose timestamp is missing or outside the accepted window go to day=unknown
copy (
    select
        *,
        case
            when created_at between $min_timestamp and $max_timestamp
                then strftime(created_at, '%Y-%m-%d')
            else 'unknown'
        end as day
    from ingest_staged
) to $directory (format parquet, partition_by (day))

-- name: load
-- valid generations of the staged file that are new: the first row of each generation_id in the file, unless
-- already loaded (first delivery wins; dedup on the narrow (generation_id, row_number) pairs)
insert into generations (
    generation_id, request_id, creator_id, prompt, model_version, created_at, duration_ms, width, height, fps,
    seed, reference_inputs, output_uri, output_embedding, training_consent, content_flags, extra,
    source_file, source_row, ingested_at
)
with valid as (
    select * from ingest_staged
    where reason_code is null
),

first_rows as (
    select
        generation_id,
        min(row_number) as row_number
    from valid
    group by generation_id
),

new_rows as (
    select first_rows.row_number
    from first_rows
    anti join generations on generations.generation_id = first_rows.generation_id
)

select
    valid.generation_id,
    valid.request_id,
    valid.creator_id,
    valid.prompt,
    valid.model_version,
    valid.created_at,
    valid.duration_ms,
    valid.width,
    valid.height,
    valid.fps,
    valid.seed,
    valid.reference_inputs,
    valid.output_uri,
    valid.output_embedding,
    valid.training_consent,
    valid.content_flags,
    valid.extra,
    $source_file,
    valid.row_number,
    $ingested_at
from valid
semi join new_rows on new_rows.row_number = valid.row_number
