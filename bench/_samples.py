"""Sample Reddit things for the benchmarks: the real PRAW samples of ../shared/realdata,
repeated with fresh ids over three subreddits and 30 days."""

from __future__ import annotations

from pathlib import Path

SUBREDDITS = ("python", "dataengineering", "datascience")


def sample_things(path: Path, n: int, salt: str) -> list[dict]:
    """n things from a real sample file (posts or comments), ids `{salt}{i:x}`; comments
    point at the posts of the same benchmark (`t3_p{i // 2:x}`)."""
    from tests.fixtures.harness import load_dump

    base = [t for t in load_dump(path) if not t["subreddit"].startswith(("<", "u_<"))]
    out = []
    for i in range(n):
        thing = dict(base[i % len(base)])
        thing["id"] = f"{salt}{i:x}"
        if "link_id" in thing:
            thing["link_id"] = f"t3_p{(i // 2):x}"
        thing["subreddit"] = SUBREDDITS[i % len(SUBREDDITS)]
        thing["created_utc"] = 1735689600 + (i % 30) * 86400 + i % 86400
        out.append(thing)
    return out
