"""Prefect flows and the `reelloop` command line: thin wiring over warehouse, features and models."""
