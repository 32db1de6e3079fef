-- clean organic impressions and views of each generation per exposure slot: the surface and, on the feed, the
-- position (pooled from max_position on); position -1 off the feed or without a position
create table if not exists label_engagement_slots (
    generation_id varchar not null,
    surface varchar not null,
    position integer not null,
    impressions bigint not null,
    views bigint not null
);
