"""Pure rendering of results and report data: the HTML report, Prefect artifact markdown."""
