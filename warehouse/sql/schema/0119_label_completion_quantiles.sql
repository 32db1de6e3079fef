-- D2Q reference: quantiles (level 0..1) of the smoothed completion of generations within each duration bucket
-- (buckets start at min_duration_ms); a generation's completion_score is its position in its bucket's distribution
create table if not exists label_completion_quantiles (
    label_version varchar not null,
    duration_bucket integer not null,
    min_duration_ms bigint not null,
    level double not null,
    value double not null,
    fitted_at timestamptz not null
);
