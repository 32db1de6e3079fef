-- one row per `reelloop report` run: the figures it showed (labels, model, export, quarantine, diagnostics) as
-- JSON, so the next report can say what changed since; holds no viewer, creator or generation ids
create table if not exists report_runs (
    run_id varchar not null primary key,
    run_at timestamptz not null,
    figures json not null
);
