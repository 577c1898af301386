"""Orchestration: the local runner and (later) Airflow DAGs, both calling `stages`."""
