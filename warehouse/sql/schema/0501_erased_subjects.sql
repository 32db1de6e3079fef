-- people (viewer, creator) and generations that were erased, by salted hash only: ingest drops their rows for good
create table if not exists erased_subjects (
    subject_kind varchar not null,
    subject_hash varchar not null,
    erased_at timestamptz not null
);
