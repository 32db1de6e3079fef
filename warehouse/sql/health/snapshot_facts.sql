-- operation: what `reelloop doctor` reads from the published snapshot (warehouse.health), never from the
-- warehouse file itself, so checking never makes a writer wait.
-- reads: snapshot_info, ingest_files, labels (tables of the snapshot)

-- name: snapshot_info
-- the snapshot's schema version and when it was published (every row of snapshot_info carries them)
select max(schema_version) as schema_version, max(published_at) as published_at
from snapshot_info

-- name: last_ingest
-- when a landing file was last ingested, and how many files the warehouse holds
select max(ingested_at) as last_ingested_at, count(*) as files
from ingest_files

-- name: last_label
-- when a label was last written, and how many current labels there are
select max(labeled_at) as last_labeled_at, count(*) as labels
from labels
