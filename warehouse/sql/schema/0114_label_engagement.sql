-- clean engagement of each generation (abnormal viewers excluded; the creator excluded from organic counts),
-- re-aggregated when new events touch it. Organic = any surface but the studio. likes = viewers whose latest
-- like/unlike is a like; ratio_sum / ratio_sq_sum: sums over organic views of min(watch_ms / duration_ms, cap)
-- and of its square. Organic impressions and views per exposure slot are in label_engagement_slots.
create table if not exists label_engagement (
    generation_id varchar not null,
    impressions bigint not null,
    views bigint not null,
    watch_ms bigint not null,
    ratio_sum double not null,
    ratio_sq_sum double not null,
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
    -- organic impressions weighted by the examination propensity of their exposure slot (label_examination
    -- of the state's label_version; a slot the curve lacks weighs 1): the COEC denominator of the view rate.
    -- With it, label_engagement_slots holds the slots of the examination sample only
    -- (see LabelConfig.examination_sample_buckets).
    effective_impressions double default 0
);
