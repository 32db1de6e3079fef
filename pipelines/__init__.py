"""Stage code: one module per stage (ingest, label, evaluate, train, score, export, report, erase,
simulate, import), plain Python that takes a warehouse resource and a config object, reads,
computes with features/ and models/, writes, and returns a typed result (see `results/`).

Each stage is written top to bottom as calls of its steps through a `StepRunner`
(`pipelines.steps`): run directly by default, or as Prefect tasks by the flows in `flows/`.
"""
