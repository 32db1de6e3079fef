-- total feed watch time of the generation (bots and the creator excluded)
alter table labels add column if not exists watch_ms bigint;
