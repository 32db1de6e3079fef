-- whether this exact file (same path, same content) is already ingested
select count(*) > 0
from ingest_files
where source_file = $source_file
    and sha256 = $sha256
