-- the simulator's hidden true quality, loaded by `reelloop report --truth PATH` to grade the labels
create table if not exists report_truth (
    generation_id varchar not null,
    true_quality double not null,
    source_path varchar not null,
    loaded_at timestamptz not null
);
