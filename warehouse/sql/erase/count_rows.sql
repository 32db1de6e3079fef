-- rows of one table; {relation} is a quoted catalog.table name from the database's own catalog
select count(*) from {relation}
