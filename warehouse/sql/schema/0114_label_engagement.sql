-- clean per-generation engagement counts (bots excluded; creator excluded from feed counts); re-aggregated when touched
create table if not exists label_engagement (
    generation_id varchar not null,
    request_id varchar not null,
    model_version varchar not null,
    duration_ms bigint not null,
    impressions bigint not null,
    views bigint not null,
    watch_ms bigint not null,
    likes bigint not null,
    unlikes bigint not null,
    favorites bigint not null,
    shares bigint not null,
    comments bigint not null,
    downloads bigint not null,
    dislikes bigint not null,
    reports bigint not null,
    studio_impressions bigint not null,
    selects bigint not null,
    regenerates bigint not null,
    label_version varchar not null
);
