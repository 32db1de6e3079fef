-- operation: turn a byte copy of the warehouse into a snapshot (warehouse.snapshot, method file_copy), on a
-- connection to the copy, in this order: list its relations; in one transaction materialise each published view
-- (materialise_view, drop_view, rename_table), drop the unpublished views then tables, count the rows (the
-- snapshot_info steps are in publish.sql); checkpoint.
-- {table}, {view}, {relation}, {new_name}: quoted identifiers from the catalog of the private copy
-- parameters: none

-- name: all_relations
-- every table and view of the database (to drop from the snapshot copy what is not published)
select
    table_name as relation,
    case when table_type = 'VIEW' then 'view' else 'table' end as source_kind
from information_schema.tables
where table_catalog = current_database()
    and table_schema = 'main'
order by relation

-- name: materialise_view
-- a view's current result as a table; {table} and {view} are quoted identifiers from the catalog
create table {table} as
select * from {view}

-- name: drop_view
-- {relation} is a quoted identifier from the catalog of the private snapshot copy
drop view {relation}

-- name: rename_table
-- {relation} and {new_name} are quoted identifiers from the catalog of the private snapshot copy
alter table {relation} rename to {new_name}

-- name: drop_table
-- {relation} is a quoted identifier from the catalog of the private snapshot copy
drop table {relation}

-- name: count_rows
-- rows of one relation; {relation} is a quoted identifier from the allowlist / catalog
select count(*) as row_count
from {relation}

-- name: checkpoint
-- write the finished snapshot into its file (no WAL left beside it)
checkpoint
