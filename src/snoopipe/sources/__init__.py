"""Sources: where Reddit things come from: the Reddit API (`reddit`, incremental) and
dump archives (`dumps`, backfill)."""
