-- one row per label run that did work: the state watermark its labels and pairs reflect
create table if not exists label_runs (
    label_version varchar not null,
    events_through timestamptz,
    events_count bigint not null,
    generations_through timestamptz,
    generations_count bigint not null,
    model_refit boolean not null,
    labels_written bigint not null,
    pairs_written bigint not null,
    pairs_deleted bigint not null,
    started_at timestamptz not null,
    finished_at timestamptz not null
);
