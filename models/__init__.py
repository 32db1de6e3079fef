"""scikit-learn preference models, their evaluation and registry logic (pure: no prefect, no duckdb)."""
