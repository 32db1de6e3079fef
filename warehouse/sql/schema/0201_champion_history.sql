-- who was champion when: one row per promotion decision
create table if not exists champion_history (
    model_id varchar not null,
    decided_at timestamptz not null,
    promoted boolean not null,
    previous_champion_id varchar,
    challenger_metric double,
    champion_metric double,
    reason varchar not null
);
