-- every trained preference model, its evaluation and where its artifact lives
create table if not exists model_registry (
    model_id varchar not null,
    created_at timestamptz not null,
    model_kind varchar not null,
    label_version varchar not null,
    feature_spec_hash varchar not null,
    train_start timestamptz,
    train_end timestamptz,
    test_start timestamptz,
    test_end timestamptz,
    metrics json,
    is_champion boolean not null default false,
    artifact_path varchar not null,
    artifact_sha256 varchar not null
);
