"""Orchestration: the local runner (`runner`, `backfill`) and the Airflow DAGs (`airflow`),
both calling the stage functions of `stages`; `stack` starts the local services."""
