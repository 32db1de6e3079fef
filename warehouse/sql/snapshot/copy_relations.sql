-- operation: copy the published relations into a new snapshot file (warehouse.snapshot, method table_copy, no
-- checkpoint needed), in this order: attach the file; in one transaction copy each relation (the snapshot_info
-- steps are in publish.sql); checkpoint it; detach it.
-- {snapshot} is the quoted alias of the attached file, {relation} a quoted identifier from the allowlist / catalog
-- parameters: ? (attach: the snapshot file's path)

-- name: attach
-- attach the snapshot file being built (path bound as a parameter); {snapshot} is its quoted alias
attach ? as {snapshot}

-- name: copy_relation
-- materialise one relation into the snapshot being built; {snapshot} and {relation} are quoted identifiers
-- taken from the allowlist / catalog (never user input); returns the number of rows copied
create table {snapshot}.{relation} as
select * from {relation}

-- name: checkpoint
-- flush the finished snapshot to its file (no WAL left beside it); {snapshot} is its quoted alias
checkpoint {snapshot}

-- name: detach
-- let go of the snapshot file; {snapshot} is its quoted alias
detach {snapshot}
