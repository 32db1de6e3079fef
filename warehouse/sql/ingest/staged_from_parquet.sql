-- the judged rows a worker staged as Parquet partitions ($files: a glob), back into `ingest_staged` on the
-- coordinator (the day partition key is only the folder layout: not read back)
insert into ingest_staged by name
select *
from read_parquet($files, hive_partitioning = false)
