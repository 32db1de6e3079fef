-- clean engagement of each generation split by viewer half (hash(viewer_id) % 2) and period (0: within
-- LabelConfig.temporal_split_hours of created_at, 1: later), the columns of label_engagement per cell; likes =
-- net likes within the cell's period, net_likes = viewers whose latest like/unlike over the whole window is a
-- like, counted in the cell of that latest action (their sum is label_engagement.likes). The split-half and
-- temporal diagnostics and the label model's split-half fit read these.
create table if not exists label_engagement_cells (
    generation_id varchar not null,
    half integer not null,
    period integer not null,
    impressions bigint not null,
    effective_impressions double not null,
    views bigint not null,
    watch_ms bigint not null,
    ratio_sum double not null,
    ratio_sq_sum double not null,
    long_views bigint not null,
    likes bigint not null,
    net_likes bigint not null,
    unlikes bigint not null,
    favorites bigint not null,
    shares bigint not null,
    comments bigint not null,
    downloads bigint not null,
    dislikes bigint not null,
    reports bigint not null,
    studio_impressions bigint not null,
    selects bigint not null,
    regenerates bigint not null
);
