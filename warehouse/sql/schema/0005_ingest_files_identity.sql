-- ingest_files.file_identity: device, inode, size, mtime and ctime of the file when it was recorded; a file whose
-- identity is unchanged was not written since (a write changes its ctime, even when mtime is restored) and is not
-- hashed again
alter table ingest_files add column if not exists file_identity varchar
