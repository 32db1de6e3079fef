-- every base table of the warehouse with a column holding a person or generation id (what erasure must cover)
-- registered inputs: none; parameters: none
with columns as (
    select table_catalog, table_schema, table_name, column_name
    from information_schema.columns
),

tables as (
    select table_catalog, table_schema, table_name
    from information_schema.tables
    where table_type = 'BASE TABLE'
)

select distinct columns.table_name, columns.column_name
from columns
inner join tables using (table_catalog, table_schema, table_name)
where columns.table_catalog = current_database()
    and columns.table_schema = 'main'
    and (
        columns.column_name in ('viewer_id', 'creator_id', 'generation_id')
        or columns.column_name like '%\_generation\_id' escape '\'
        or columns.column_name like '%\_viewer\_id' escape '\'
        or columns.column_name like '%\_creator\_id' escape '\'
    )
order by 1, 2
