-- relations copied into the read-only snapshot: the public tables that exist, plus every report_* view or table
-- registered inputs: none; parameters: $public_tables, $report_prefix
with catalog_relations as (
    select
        table_name,
        table_type
    from information_schema.tables
    where table_catalog = current_database()
        and table_schema = 'main'
),

selected as (
    select
        table_name as relation,
        case when table_type = 'VIEW' then 'view' else 'table' end as source_kind
    from catalog_relations
    where list_contains($public_tables, table_name)
        or starts_with(table_name, $report_prefix)
)

select
    relation,
    source_kind
from selected
order by relation
