-- one row per written preference-dataset export (DPO, KTO, reward folders); export_id hashes parameters + content
create table if not exists exports (
    export_id varchar not null,
    created_at timestamptz not null,
    as_of timestamptz,
    parameters json not null,
    label_version varchar,
    champion_model_id varchar,
    counts json not null,
    exclusions json not null,
    path varchar not null,
    primary key (export_id, path)
);
