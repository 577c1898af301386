"""Sources: where Reddit things come from (the Reddit API now, dump archives later)."""
