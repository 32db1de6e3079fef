-- the audit row of one erasure (the subject by salted hash only)
insert into erasures (
    erasure_id, subject_kind, subject_hash, requested_at, completed_at, deleted_rows, redacted_quarantine_rows,
    affected_exports, reason
)
values (
    $erasure_id, $subject_kind, $subject_hash, $requested_at, $completed_at, $deleted_rows,
    $redacted_quarantine_rows, $affected_exports, $reason
)
