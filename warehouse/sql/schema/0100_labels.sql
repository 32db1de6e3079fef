-- the current label of each generation (one row per generation); history in labels_history
create table if not exists labels (
    generation_id varchar not null,
    request_id varchar,
    model_version varchar,
    label_version varchar not null,
    impressions bigint not null,
    views bigint not null,
    completion_score double,
    likes bigint not null,
    favorites bigint not null,
    shares bigint not null,
    comments bigint not null,
    downloads bigint not null,
    dislikes bigint not null,
    reports bigint not null,
    studio_impressions bigint not null,
    selects bigint not null,
    regenerates bigint not null,
    quality_score double not null,
    quality_low double not null,
    quality_high double not null,
    label varchar not null,
    labeled_at timestamptz not null,
    -- feed impressions weighted by the examination propensity of their position (position 0 = 1):
    -- the debiased exposure
    effective_impressions double,
    -- total feed watch time of the generation (bots and the creator excluded)
    watch_ms bigint
);
