-- preference-model scores of generations, one per (generation_id, model_id)
create table if not exists scores (
    generation_id varchar not null,
    model_id varchar not null,
    score double not null,
    scored_at timestamptz not null
);
