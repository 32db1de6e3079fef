-- D2Q grid: the mid-quantile of each watch-ratio bin among the views of a duration bucket
create table if not exists label_completion_quantiles (
    label_version varchar not null,
    duration_bucket integer not null,
    min_duration_ms bigint not null,
    ratio_bin integer not null,
    quantile double not null,
    fitted_at timestamptz not null
);
