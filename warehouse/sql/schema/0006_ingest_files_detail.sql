-- why a file was not loaded row by row (unreadable, unsupported, copy of another file), else null
alter table ingest_files add column if not exists detail varchar
