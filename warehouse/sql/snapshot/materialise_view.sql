-- a view's current result as a table; {table} and {view} are quoted identifiers from the catalog
create table {table} as
select * from {view}
