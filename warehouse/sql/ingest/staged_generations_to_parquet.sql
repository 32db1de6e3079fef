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
