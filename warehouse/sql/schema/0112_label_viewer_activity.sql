-- running per-viewer event counts (every event ever ingested), the input of abnormal-viewer detection
create table if not exists label_viewer_activity (
    viewer_id varchar not null,
    events bigint not null,
    impressions bigint not null,
    views bigint not null,
    likes bigint not null
);
