"""Transform: raw JSON lines -> typed, deduplicated processed Parquet + quarantine.

The cleaning rules live in `snoopipe.transform.rules`; the DuckDB engine in
`snoopipe.transform.duckdb_engine`; the lake layout in `snoopipe.lake.layout`.
"""

from snoopipe.transform.stage import run_transform

__all__ = ["run_transform"]
