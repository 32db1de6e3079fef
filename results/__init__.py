"""The typed results the stages return (dataclasses, no logic): the CLI prints them, the report
and the Prefect artifacts format them, scripts read their fields."""
