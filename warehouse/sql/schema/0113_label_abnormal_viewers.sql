-- viewers excluded from every label signal (bots, abnormal volume), with the rule that flagged them
create table if not exists label_abnormal_viewers (
    viewer_id varchar not null,
    reason varchar not null,
    events bigint not null,
    like_share double,
    label_version varchar not null,
    flagged_at timestamptz not null
);
