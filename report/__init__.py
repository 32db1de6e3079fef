"""The report, pure: the report views' frames in, statistics derived, one HTML page and run-summary markdown out.

No database and no orchestration here (neither duckdb nor prefect is imported): `warehouse.report_data`
reads the views, the stage code calls read -> `report.derive` -> `report.page`, and `flows.artifacts`
publishes what `report.artifacts` formats.
"""
