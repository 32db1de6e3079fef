-- every base table and view of a database with its kind, to check a rewritten copy holds the same relations
select table_name, table_type
from information_schema.tables
where table_catalog = $catalog
    and table_schema = 'main'
order by table_name
