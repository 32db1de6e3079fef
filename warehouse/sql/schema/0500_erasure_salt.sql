-- the secret salt of subject hashes (sha256(id || salt)): one row, written by the first erasure, never published
create table if not exists erasure_salt (
    salt varchar not null,
    created_at timestamptz not null
);
