-- how ingest handled a landing file: loaded | empty | duplicate_content | unreadable | unsupported_format
alter table ingest_files add column if not exists status varchar default 'loaded'
