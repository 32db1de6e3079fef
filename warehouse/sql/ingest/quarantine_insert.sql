-- the rejected rows of the file being loaded, with their reason, into the public quarantine table
insert into quarantine (source_file, row_number, kind, reason_code, detail, raw, quarantined_at)
select
    $source_file,
    row_number,
    $kind,
    reason_code,
    detail,
    raw,
    $quarantined_at
from ingest_staged
where reason_code is not null
