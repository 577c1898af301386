"""What to tell a user about a listing gap: the time range, and the dump that fills it.

Pure functions over `extract_gaps` rows (see `snoopipe.state.schema`). Dumps are
monthly: posts of a month are in `RS_YYYY-MM.zst` (Pushshift / Arctic Shift naming).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def dump_months(gap_from: float, gap_to: float) -> list[str]:
    """The `RS_YYYY-MM.zst` files holding posts created in [gap_from, gap_to], in order."""
    start, end = _utc(gap_from), _utc(gap_to)
    year, month = start.year, start.month
    files = []
    while (year, month) <= (end.year, end.month):
        files.append(f"RS_{year:04d}-{month:02d}.zst")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return files


def backfill_command(gap: dict[str, Any]) -> str:
    """`snoopipe backfill RS_2025-06.zst -s name --since D --until D` for a gap."""
    since, until = _utc(gap["gap_from"]).date(), _utc(gap["gap_to"]).date()
    return (f"snoopipe backfill {' '.join(dump_months(gap['gap_from'], gap['gap_to']))} "
            f"-s {gap['subreddit']} --since {since.isoformat()} --until {until.isoformat()}")


def gap_message(gap: dict[str, Any]) -> str:
    """One line for `snoopipe status`, the run summary and the run's warnings."""
    span = (f"posts created from {_utc(gap['gap_from']):%Y-%m-%d %H:%M} to "
            f"{_utc(gap['gap_to']):%Y-%m-%d %H:%M} UTC")
    if gap["reason"] == "listing_cap":
        return (f"r/{gap['subreddit']}: {span} are beyond the API's ~1000-item listing and "
                f"were not extracted; fill them from the dump: {backfill_command(gap)}")
    return (f"r/{gap['subreddit']}: the /{gap['listing']} listing ended early (empty pages "
            f"after removed posts, re-anchoring failed), so {span} were not read; the "
            "watermark stays before them and the next run reads them again")


_MONTHLY_POSTS = re.compile(r"^RS_(\d{4})-(\d{2})(?:\.|$)", re.IGNORECASE)


def backfill_coverage(file_names: list[str], since: str | None,
                      until: str | None) -> list[tuple[float, float]]:
    """The creation-time ranges (epoch seconds, inclusive) whose posts a complete backfill
    of these files read: each monthly posts dump (`RS_YYYY-MM...`) covers its month,
    narrowed to --since / --until (UTC dates, inclusive). Other files cover nothing known."""
    lower = datetime.fromisoformat(since).replace(tzinfo=UTC).timestamp() if since else None
    upper = (datetime.fromisoformat(until).replace(tzinfo=UTC).timestamp() + 86400 - 1e-3
             if until else None)
    ranges = []
    for name in file_names:
        match = _MONTHLY_POSTS.match(name)
        if not match:
            continue
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            continue
        start = datetime(year, month, 1, tzinfo=UTC).timestamp()
        following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC).timestamp()
        lo = max(start, lower) if lower is not None else start
        hi = min(following - 1e-3, upper) if upper is not None else following - 1e-3
        if lo <= hi:
            ranges.append((lo, hi))
    return ranges
