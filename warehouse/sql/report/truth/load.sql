-- load the simulator's hidden truth into report_truth, replacing what was there: the columns of the truth
-- parquet are checked first, then report_truth is cleared and refilled in one transaction, then counted
-- reads: the truth parquet (path bound as a parameter), report_truth

-- name: columns
select column_name from (describe select * from read_parquet(?))

-- name: clear
delete from report_truth

-- name: insert
insert into report_truth (generation_id, true_quality, source_path, loaded_at)
select cast(generation_id as varchar), cast(true_quality as double), ?, current_timestamp
from read_parquet(?)
where generation_id is not null and true_quality is not null

-- name: count
select count(*) from report_truth
