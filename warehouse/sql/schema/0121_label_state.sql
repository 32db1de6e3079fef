-- how far the label state tables (viewer activity, engagement) have read events and generations: one row
create table if not exists label_state (
    label_version varchar not null,
    events_through timestamptz,
    events_count bigint not null,
    generations_through timestamptz,
    generations_count bigint not null,
    updated_at timestamptz not null
);
