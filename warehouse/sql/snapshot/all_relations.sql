-- every table and view of the database (to drop from the snapshot copy what is not published)
select
    table_name as relation,
    case when table_type = 'VIEW' then 'view' else 'table' end as source_kind
from information_schema.tables
where table_catalog = current_database()
    and table_schema = 'main'
order by relation
