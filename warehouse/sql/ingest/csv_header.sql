-- the header of the CSV file being loaded: its column names (deduplicated) and whether it names a contract field
create or replace temp table ingest_csv_header as
select
    $names::varchar[] as names,
    $has_header::boolean as has_header
