-- operation: the steps every snapshot publish shares (warehouse.snapshot.publish_snapshot): read the source,
-- checkpoint it, check a view still binds, and write the snapshot's snapshot_info table. The method's own steps
-- are in trim_copy.sql (file_copy) and copy_relations.sql (table_copy); what is published: relations.sql.
-- {relation} is a quoted identifier from the allowlist / catalog; {snapshot} the quoted alias of the snapshot
-- database ("main" in a byte copy).
-- parameters: ? x 7 (insert_info: one row per relation)

-- name: source_file
-- the file behind the connection's default database (null or ':memory:' when in memory)
select path
from duckdb_databases()
where database_name = current_database()

-- name: has_migrations
-- whether the warehouse has a schema_migrations table (a bare file may not)
select count(*) > 0 as has_migrations
from information_schema.tables
where table_catalog = current_database()
    and table_schema = 'main'
    and table_name = 'schema_migrations'

-- name: checkpoint_source
-- write everything committed into the warehouse file itself, so a byte copy of the file is complete
checkpoint

-- name: relation_binds
-- binds a relation without running it: fails when a view no longer resolves; {relation} is a quoted identifier
describe select * from {relation}

-- name: create_info
-- what the snapshot holds: one row per copied relation; {snapshot} is the quoted alias of the attached file
create table {snapshot}.snapshot_info (
    relation varchar not null,
    source_kind varchar not null,
    row_count bigint not null,
    snapshot_number bigint not null,
    schema_version varchar,
    source_db varchar not null,
    published_at timestamptz not null
)

-- name: insert_info
-- one row of snapshot_info; {snapshot} is the quoted alias of the attached file
insert into {snapshot}.snapshot_info (
    relation, source_kind, row_count, snapshot_number, schema_version, source_db, published_at
)
values (?, ?, ?, ?, ?, ?, ?)

-- name: source_of_info
-- the warehouse file a published snapshot was taken from (read in a snapshot, from its snapshot_info)
select max(source_db) as source_db
from snapshot_info
