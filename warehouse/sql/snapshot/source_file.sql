-- the file behind the connection's default database (null or ':memory:' when in memory)
select path
from duckdb_databases()
where database_name = current_database()
