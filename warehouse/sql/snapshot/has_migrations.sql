-- whether the warehouse has a schema_migrations table (a bare file may not)
select count(*) > 0 as has_migrations
from information_schema.tables
where table_catalog = current_database()
    and table_schema = 'main'
    and table_name = 'schema_migrations'
