-- operation: rewrite the warehouse file into a fresh one so freed pages keep no erased bytes
-- (warehouse.erase.compact_database), blocks in the order they run (checkpoint runs before and after).
-- {target} is the quoted alias of the fresh file, {source} the quoted name of the warehouse's catalog,
-- {relation} a quoted catalog.table name from the database's own catalog.
-- parameters: ? (attach_fresh: the fresh file's path), $catalog (catalog_relations)

-- name: checkpoint
-- write everything committed into the file itself (nothing left in the write-ahead log)
checkpoint

-- name: current_catalog
-- the name of the connection's default database (the catalog the warehouse file is attached as)
select current_database() as catalog

-- name: attach_fresh
-- attach the fresh file the warehouse is rewritten into (path bound as a parameter); {target} is its quoted alias
attach ? as {target}

-- name: copy_database
-- copy every live table, view, sequence and macro of the warehouse into the fresh file (freed pages stay behind)
copy from database {source} to {target}

-- name: catalog_relations
-- every base table and view of a database with its kind, to check a rewritten copy holds the same relations
select table_name, table_type
from information_schema.tables
where table_catalog = $catalog
    and table_schema = 'main'
order by table_name

-- name: count_rows
-- rows of one table; {relation} is a quoted catalog.table name from the database's own catalog
select count(*) from {relation}

-- name: detach_fresh
-- let go of the fresh file; {target} is its quoted alias
detach {target}
