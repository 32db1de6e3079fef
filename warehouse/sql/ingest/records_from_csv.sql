-- The records of a CSV file, in the order they run.
-- header: the file's header into temp table `ingest_csv_header` (parameters $names: its column names,
-- deduplicated; $has_header: whether they name a contract field);
-- records: one record per CSV row of the registered batch relation `ingest_batch` (row_number, record blob,
-- record_bytes), read with `ingest_csv_header`;
-- headless: whether the judged rows in temp table `ingest_staged` are those of a CSV without a header.

-- name: header
-- the header of the CSV file being loaded: its column names (deduplicated) and whether it names a contract field
create or replace temp table ingest_csv_header as
select
    $names::varchar[] as names,
    $has_header::boolean as has_header

-- name: records
-- one record per CSV row of the registered batch `ingest_batch`, as a JSON object keyed by the header
-- (RFC 4180: comma, double quotes, "" escapes; an unquoted empty cell is null), with its row-level problem
with header as (
    select
        names,
        has_header
    from ingest_csv_header
),

batch as (
    select
        row_number,
        record_bytes,
        record,
        try(decode(record)) as text
    from ingest_batch
),

split as (
    select
        batch.row_number,
        batch.record_bytes,
        batch.record,
        batch.text,
        header.names,
        header.has_header,
        case
            when batch.text is not null
                and header.has_header
                and regexp_full_match(
                    batch.text, '(?:"(?:[^"]|"")*"|[^,"]*)(?:,(?:"(?:[^"]|"")*"|[^,"]*))*'
                )
                then regexp_extract_all(batch.text || ',', '("(?:[^"]|"")*"|[^,"]*),', 1)
        end as cells
    from batch
    cross join header
),

classified as (
    select
        row_number,
        record_bytes,
        record,
        text,
        names,
        cells,
        case
            when text is null then 'bad_encoding'
            when not has_header then 'malformed_record'
            when text = '' then 'malformed_record'
            when cells is null then 'malformed_record'
            when len(cells) <> len(names) then 'malformed_record'
        end as line_reason,
        case
            when text is null then 'row is not valid UTF-8'
            when not has_header then 'the CSV header names no contract field (file without a header?)'
            when text = '' then 'empty line'
            when cells is null then 'unbalanced quotes or a quote inside an unquoted cell'
            when len(cells) <> len(names)
                then 'row has ' || len(cells) || ' cells, the header has ' || len(names)
        end as line_detail
    from split
)

select
    row_number,
    record_bytes,
    case
        when line_reason is null
            then to_json(map(
                names,
                list_transform(
                    cells,
                    lambda cell: case
                        when cell = '' then null
                        when cell[1] = '"' then replace(cell[2:-2], '""', '"')
                        else cell
                    end
                )
            ))::varchar
        else coalesce(text, replace(replace(record::varchar, '\x22', '"'), '\x27', ''''))
    end as raw,
    true as text_typed,
    line_reason,
    line_detail
from classified

-- name: headless
-- whether the CSV file judged into `ingest_staged` had no header naming a contract field: its rows carry the
-- detail `records` gives them (so a file a worker judged is recognised too)
select count(*) > 0 as headless
from ingest_staged
where detail = 'the CSV header names no contract field (file without a header?)'
