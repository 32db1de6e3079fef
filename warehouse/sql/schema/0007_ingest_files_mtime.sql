-- modification time seen at ingest: an unchanged (path, bytes, mtime) is not hashed again
alter table ingest_files add column if not exists file_mtime_ns bigint
