-- operation: bring a warehouse's schema up to date (warehouse.connection.apply_migrations). The
-- schema_migrations table records each applied file of sql/schema/; the newest name is the schema version.
-- parameters: $name (record_applied)

-- name: create_table
create table if not exists schema_migrations (
    name varchar primary key,
    applied_at timestamptz not null
);

-- name: applied_names
select name
from schema_migrations

-- name: record_applied
insert into schema_migrations (name, applied_at)
values ($name, current_timestamp)

-- name: schema_version
select max(name) as schema_version
from schema_migrations
