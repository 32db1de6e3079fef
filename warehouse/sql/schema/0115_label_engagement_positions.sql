-- clean organic (non-studio) impressions and views per generation and exposure slot: the surface and, on the
-- feed, the slot (positions >= max_position pooled); position -1 = a surface without positions
create table if not exists label_engagement_positions (
    generation_id varchar not null,
    surface varchar not null,
    position integer not null,
    impressions bigint not null,
    views bigint not null
);
