-- The judged rows of an event file in temp table `ingest_staged`, in lifecycle order.
-- create: the table; judge: every row of the registered carrier relation `ingest_event_carriers` judged into it
-- (parameters $max_line_bytes, $raw_preview_chars, $max_id_chars, $min_timestamp, $max_timestamp, $event_types,
-- $surfaces, $watch_ms_required_for); to_parquet: a worker writes it under $directory ($min_timestamp and
-- $max_timestamp bound the day partitions); load: the coordinator inserts its new valid rows into `events`
-- (parameters $source_file, $ingested_at).

-- name: create
-- the rows of the event file being loaded, judged: reason_code null = valid (raw kept only for rejected rows)
create or replace temp table ingest_staged (
    row_number bigint not null,
    reason_code varchar,
    detail varchar,
    raw varchar,
    event_id varchar,
    event_type varchar,
    generation_id varchar,
    viewer_id varchar,
    occurred_at timestamptz,
    surface varchar,
    position integer,
    watch_ms bigint,
    session_id varchar,
    app_version varchar,
    extra json
)

-- name: judge
-- judge each event carrier row against the contract; the first failing rule (fixed precedence) names the reason:
-- oversized line, bad_encoding, malformed_record, missing_field, bad_type, empty_id, oversized_field,
-- unknown_event_type, bad_enum, bad_timestamp, future_timestamp, negative_value
insert into ingest_staged
with carriers as (
    select * from ingest_event_carriers
),

timed as (
    select
        *,
        coalesce(
            occurred_at__t,
            -- RFC 3339 strictly: hours < 24, minutes < 60, offsets within +-23:59; a leap second (:60) is the next second
            case
                when regexp_full_match(
                    occurred_at__s,
                    '[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)([.][0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])'
                )
                    then case
                        when substr(occurred_at__s, 18, 2) = '60'
                            then try_cast(upper(left(occurred_at__s, 17) || '59' || substr(occurred_at__s, 20)) as timestamptz)
                                + interval 1 second
                        else try_cast(upper(occurred_at__s) as timestamptz)
                    end
            end,
            try(epoch_ms(occurred_at__i))::timestamptz
        ) as occurred_at
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
            when not event_id__present then {'code': 'missing_field', 'detail': 'event_id: required field is missing'}
            when not event_type__present then {'code': 'missing_field', 'detail': 'event_type: required field is missing'}
            when not generation_id__present
                then {'code': 'missing_field', 'detail': 'generation_id: required field is missing'}
            when not viewer_id__present then {'code': 'missing_field', 'detail': 'viewer_id: required field is missing'}
            when not occurred_at__present
                then {'code': 'missing_field', 'detail': 'occurred_at: required field is missing'}
            when event_type__s in $watch_ms_required_for and not watch_ms__present
                then {'code': 'missing_field', 'detail': 'watch_ms: required for event_type ' || event_type__s}
            when event_id__s is null then {'code': 'bad_type', 'detail': 'event_id: expected a string'}
            when event_type__s is null then {'code': 'bad_type', 'detail': 'event_type: expected a string'}
            when generation_id__s is null then {'code': 'bad_type', 'detail': 'generation_id: expected a string'}
            when viewer_id__s is null then {'code': 'bad_type', 'detail': 'viewer_id: expected a string'}
            when occurred_at__s is null and occurred_at__i is null and occurred_at__t is null
                then {'code': 'bad_type', 'detail': 'occurred_at: expected an RFC 3339 string or integer epoch milliseconds'}
            when surface__present and surface__s is null then {'code': 'bad_type', 'detail': 'surface: expected a string'}
            when (position__present and position__i is null) or position__i > 2147483647
                then {'code': 'bad_type', 'detail': 'position: expected a 32-bit integer'}
            when watch_ms__present and watch_ms__i is null
                then {'code': 'bad_type', 'detail': 'watch_ms: expected a 64-bit integer'}
            when session_id__present and session_id__s is null
                then {'code': 'bad_type', 'detail': 'session_id: expected a string'}
            when app_version__present and app_version__s is null
                then {'code': 'bad_type', 'detail': 'app_version: expected a string'}
            when not regexp_matches(event_id__s, '[^\p{Z}\p{Cc}\p{Cf}]')
                then {'code': 'empty_id', 'detail': 'event_id: empty or blank'}
            when not regexp_matches(generation_id__s, '[^\p{Z}\p{Cc}\p{Cf}]')
                then {'code': 'empty_id', 'detail': 'generation_id: empty or blank'}
            when not regexp_matches(viewer_id__s, '[^\p{Z}\p{Cc}\p{Cf}]')
                then {'code': 'empty_id', 'detail': 'viewer_id: empty or blank'}
            when regexp_matches(event_id__s, '[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]')
                then {'code': 'bad_type', 'detail': 'event_id: contains a control character'}
            when regexp_matches(generation_id__s, '[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]')
                then {'code': 'bad_type', 'detail': 'generation_id: contains a control character'}
            when regexp_matches(viewer_id__s, '[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]')
                then {'code': 'bad_type', 'detail': 'viewer_id: contains a control character'}
            when regexp_matches(session_id__s, '[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]')
                then {'code': 'bad_type', 'detail': 'session_id: contains a control character'}
            when length(event_id__s) > $max_id_chars
                then {'code': 'oversized_field', 'detail': 'event_id: over ' || $max_id_chars || ' characters'}
            when length(generation_id__s) > $max_id_chars
                then {'code': 'oversized_field', 'detail': 'generation_id: over ' || $max_id_chars || ' characters'}
            when length(viewer_id__s) > $max_id_chars
                then {'code': 'oversized_field', 'detail': 'viewer_id: over ' || $max_id_chars || ' characters'}
            when length(session_id__s) > $max_id_chars
                then {'code': 'oversized_field', 'detail': 'session_id: over ' || $max_id_chars || ' characters'}
            when not list_contains($event_types, event_type__s)
                then {'code': 'unknown_event_type', 'detail': 'event_type: "' || left(event_type__s, 64) || '" is not a known event type'}
            when surface__s is not null and not list_contains($surfaces, surface__s)
                then {'code': 'bad_enum', 'detail': 'surface: "' || left(surface__s, 64) || '" is not one of '
                    || array_to_string($surfaces, ', ')}
            when occurred_at is null
                then {'code': 'bad_timestamp', 'detail': 'occurred_at: not RFC 3339 with an offset nor valid epoch milliseconds'}
            when occurred_at < $min_timestamp
                then {'code': 'bad_timestamp', 'detail': 'occurred_at: before ' || strftime($min_timestamp, '%Y-%m-%dT%H:%M:%SZ')}
            when occurred_at > $max_timestamp
                then {'code': 'future_timestamp', 'detail': 'occurred_at: after ' || strftime($max_timestamp, '%Y-%m-%dT%H:%M:%SZ')
                    || ' (ingest time plus the allowed clock skew)'}
            when position__i < 0 then {'code': 'negative_value', 'detail': 'position: negative'}
            when watch_ms__i < 0 then {'code': 'negative_value', 'detail': 'watch_ms: negative'}
        end as verdict
    from timed
)

select
    row_number,
    verdict.code as reason_code,
    verdict.detail as detail,
    -- raw text only for rejected rows: a Parquet row (src) becomes JSON here, lazily
    case
        when verdict is not null
            then case
                when record_bytes > $max_line_bytes then left(raw, $raw_preview_chars)
                else coalesce(raw, to_json(src)::varchar)
            end
    end as raw,
    event_id__s as event_id,
    event_type__s as event_type,
    generation_id__s as generation_id,
    viewer_id__s as viewer_id,
    occurred_at,
    surface__s as surface,
    try_cast(position__i as integer) as position,
    watch_ms__i as watch_ms,
    session_id__s as session_id,
    app_version__s as app_version,
    extra::json as extra
from judged

-- name: to_parquet
-- the judged rows of the event file being staged, as Parquet under $directory partitioned by day of occurred_at
-- (hive day=YYYY-MM-DD); rows whose timestamp is missing or outside the accepted window go to day=unknown
copy (
    select
        *,
        case
            when occurred_at between $min_timestamp and $max_timestamp
                then strftime(occurred_at, '%Y-%m-%d')
            else 'unknown'
        end as day
    from ingest_staged
) to $directory (format parquet, partition_by (day))

-- name: load
-- valid events of the staged file that are new: the first row of each event_id in the file, unless already loaded
-- (the dedup runs on the narrow (event_id, row_number) pairs; the full rows are picked by row_number after)
insert into events (
    event_id, event_type, generation_id, viewer_id, occurred_at, surface, position, watch_ms,
    session_id, app_version, extra, source_file, source_row, ingested_at
)
with valid as (
    select * from ingest_staged
    where reason_code is null
),

first_rows as (
    select
        event_id,
        min(row_number) as row_number
    from valid
    group by event_id
),

new_rows as (
    select first_rows.row_number
    from first_rows
    anti join events on events.event_id = first_rows.event_id
)

select
    valid.event_id,
    valid.event_type,
    valid.generation_id,
    valid.viewer_id,
    valid.occurred_at,
    valid.surface,
    valid.position,
    valid.watch_ms,
    valid.session_id,
    valid.app_version,
    valid.extra,
    $source_file,
    valid.row_number,
    $ingested_at
from valid
semi join new_rows on new_rows.row_number = valid.row_number
