-- the audit trail of erasure requests: who (salted hash, never the id), when, why, and rows removed per table
create table if not exists erasures (
    erasure_id varchar not null,
    subject_kind varchar not null,
    subject_hash varchar not null,
    requested_at timestamptz not null,
    completed_at timestamptz not null,
    deleted_rows json not null,
    redacted_quarantine_rows bigint not null,
    affected_exports json not null,
    reason varchar
);
