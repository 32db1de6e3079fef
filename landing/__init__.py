"""Landing-zone writers: the simulator of a video app's data (`landing.simulate`) and the file writers it uses
(`landing.writers`). Pure numpy/polars/pyarrow plus file writing: no Prefect, no DuckDB."""
