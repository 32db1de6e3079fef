-- what is already ingested: each (source_file, sha256) once, with the size and mtime seen then
select
    source_file,
    sha256,
    bytes,
    file_mtime_ns
from ingest_files
