"""DuckDB warehouse: connection, schema migrations, loading and queries (SQL in `sql/`)."""
