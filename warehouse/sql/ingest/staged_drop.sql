-- free the staged rows of the file just loaded
drop table if exists ingest_staged
