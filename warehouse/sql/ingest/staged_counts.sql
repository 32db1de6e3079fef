-- rows read and rows quarantined per reason in the staged file (reason_code null = valid rows)
select
    reason_code,
    count(*) as row_count
from ingest_staged
group by reason_code
