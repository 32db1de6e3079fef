-- operation: the report's run log (warehouse.report_data): the previous run's figures (read before this run's
-- page is rendered, to say what changed), then this run's figures (recorded once its page is written)
-- reads and writes: report_runs; parameters: $run_id, $run_at, $figures (insert_run)

-- name: previous_run
-- the latest recorded report run, if any
select run_id, run_at, figures
from report_runs
order by run_at desc, run_id desc
limit 1

-- name: insert_run
-- record one report run's figures (JSON text)
insert into report_runs (run_id, run_at, figures)
values ($run_id, $run_at, $figures)
