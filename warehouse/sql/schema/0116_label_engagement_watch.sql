-- clean feed views per generation and watch-ratio bin (watch_ms / duration_ms, capped, equal bins)
create table if not exists label_engagement_watch (
    generation_id varchar not null,
    ratio_bin integer not null,
    views bigint not null
);
