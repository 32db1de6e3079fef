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
