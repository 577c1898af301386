"""Generate a realistic Reddit comment dump (Pushshift / Arctic Shift style NDJSON).

Every line carries the ~50 fields of a real 2023 comment line, in the same compact
form (no spaces, keys in alphabetical order), with real-looking sizes: bodies with a
log-normal length (median ~90 characters, mean ~200, a long tail to 10,000), about 6%
of them non-ASCII (accents, CJK, emoji), 3% `[deleted]` authors, 2% `[removed]` bodies,
`edited` false or an epoch, scores that are mostly small. Subreddits follow a Zipf-like
distribution over `subreddits` names, so a few are big and most are small. Deterministic
for a given seed.

    python -m bench.gendump OUT.zst --lines 1000000        # compressed with zstd --long=31
"""

from __future__ import annotations

import argparse
import random
import shutil
import string
import subprocess
import sys
from pathlib import Path

import orjson

WORDS = ("the a to and of is that it in you i for this was on with but not be are have "
         "just like my what if they do so can at an or all about would one get people "
         "think your there more from know don't it's really good no me time even how "
         "because when than out some also python data only been had much make want "
         "any way then could these them who which he she we well yeah lol actually "
         "thing still right same game work year day going see something").split()
NON_ASCII = ("café", "naïve", "über", "日本語", "ありがとう", "😂", "🔥", "👍", "—", "“quoted”",
             "€5", "señor", "Ελληνικά", "русский", "中文")
FLAIRS = (None, None, None, None, "Verified", "Moderator", ":flair: Expert", "Team A")


def _base36(n: int) -> str:
    digits = string.digits + string.ascii_lowercase
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _body(rng: random.Random) -> str:
    length = min(10_000, max(1, int(rng.lognormvariate(4.5, 1.1))))
    words = []
    total = 0
    while total < length:
        w = rng.choice(WORDS)
        words.append(w)
        total += len(w) + 1
    if rng.random() < 0.06:
        for _ in range(rng.randint(1, 3)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(NON_ASCII))
    text = " ".join(words)
    if len(text) > 120 and rng.random() < 0.3:
        cut = rng.randrange(40, len(text) - 40)
        text = text[:cut] + "\n\n" + text[cut:]
    if rng.random() < 0.05:
        text = "> " + text[: len(text) // 3] + "\n\n" + text
    return text


def comment(rng: random.Random, i: int, subreddits: list[str], weights: list[float],
            start: int) -> dict:
    sub_index = rng.choices(range(len(subreddits)), weights)[0]
    sub = subreddits[sub_index]
    cid = _base36(36**6 + i * 7 + 11)
    post = _base36(36**5 + (i // 40) * 13)
    created = start + i // 30  # ~30 comments a second, like a month of Reddit
    author_deleted = rng.random() < 0.03
    removed = rng.random() < 0.02
    author = "[deleted]" if author_deleted else f"user_{rng.randrange(5_000_000):x}"
    flair = rng.choice(FLAIRS)
    if rng.random() < 0.35:
        parent = f"t3_{post}"
    else:
        parent = f"t1_{_base36(36**6 + max(0, i - rng.randrange(1, 500)) * 7 + 11)}"
    edited: bool | int = False
    if rng.random() < 0.04:
        edited = created + rng.randrange(60, 86_400)
    line = {
        "all_awardings": [],
        "archived": False,
        "associated_award": None,
        "author": author,
        "author_created_utc": (
            None if author_deleted else 1_200_000_000 + rng.randrange(470_000_000)
        ),
        "author_flair_background_color": None if flair is None else "#dadada",
        "author_flair_css_class": None,
        "author_flair_richtext": [] if flair is None else [{"e": "text", "t": flair}],
        "author_flair_template_id": None,
        "author_flair_text": flair,
        "author_flair_text_color": None if flair is None else "dark",
        "author_flair_type": "text" if flair is None else "richtext",
        "author_fullname": None if author_deleted else f"t2_{_base36(rng.randrange(36**7, 36**8))}",
        "author_is_blocked": False,
        "author_patreon_flair": False,
        "author_premium": rng.random() < 0.05,
        "awarders": [],
        "body": "[removed]" if removed else ("[deleted]" if author_deleted else _body(rng)),
        "can_gild": True,
        "can_mod_post": False,
        "collapsed": removed,
        "collapsed_because_crowd_control": None,
        "collapsed_reason": None,
        "collapsed_reason_code": "DELETED" if author_deleted else None,
        "comment_type": None,
        "controversiality": 1 if rng.random() < 0.03 else 0,
        "created_utc": created,
        "distinguished": "moderator" if rng.random() < 0.005 else None,
        "edited": edited,
        "gilded": 0,
        "gildings": {},
        "id": cid,
        "is_submitter": rng.random() < 0.1,
        "link_id": f"t3_{post}",
        "locked": False,
        "name": f"t1_{cid}",
        "no_follow": rng.random() < 0.7,
        "parent_id": parent,
        "permalink": f"/r/{sub}/comments/{post}/some_post_title_words/{cid}/",
        "retrieved_on": created + 3_600 * 24 * 3 + rng.randrange(3_600),
        "score": int(rng.paretovariate(1.3)) - rng.randrange(3),
        "score_hidden": False,
        "send_replies": True,
        "stickied": False,
        "subreddit": sub,
        "subreddit_id": f"t5_{_base36(36**4 + sub_index * 97)}",
        "subreddit_name_prefixed": f"r/{sub}",
        "subreddit_type": "public",
        "top_awarded_type": None,
        "total_awards_received": 0,
        "treatment_tags": [],
        "unrepliable_reason": None,
    }
    return line


def subreddit_names(n: int) -> list[str]:
    head = ["AskReddit", "funny", "politics", "gaming", "worldnews", "pics", "news",
            "nba", "soccer", "movies", "python", "dataengineering", "datascience"]
    return head[:n] + [f"sub_{i:05d}" for i in range(max(0, n - len(head)))]


def generate(out, lines: int, *, seed: int = 1, n_subreddits: int = 2000,
             start: int = 1_672_531_200) -> None:
    """Write `lines` NDJSON comment lines to the binary stream `out`."""
    rng = random.Random(seed)
    subs = subreddit_names(n_subreddits)
    weights = [1.0 / (k + 1) ** 1.1 for k in range(len(subs))]
    dumps = orjson.dumps
    batch = []
    for i in range(lines):
        batch.append(dumps(comment(rng, i, subs, weights, start)))
        if len(batch) == 10_000:
            out.write(b"\n".join(batch) + b"\n")
            batch = []
    if batch:
        out.write(b"\n".join(batch) + b"\n")


def write_dump(path: Path, lines: int, *, seed: int = 1, level: int = 3,
               n_subreddits: int = 2000) -> Path:
    """Generate and compress with the real `zstd --long=31` (as the dump producers do)."""
    zstd = shutil.which("zstd")
    if zstd is None:
        raise SystemExit("the zstd command is needed (apt-get install zstd)")
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([zstd, "-q", "-f", f"-{level}", "--long=31", "-T2", "-o", str(path)],
                            stdin=subprocess.PIPE)
    assert proc.stdin is not None
    generate(proc.stdin, lines, seed=seed, n_subreddits=n_subreddits)
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit(f"zstd failed with exit code {proc.returncode}")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--subreddits", type=int, default=2000)
    args = parser.parse_args(argv)
    if args.out.suffix == ".zst":
        write_dump(args.out, args.lines, seed=args.seed, n_subreddits=args.subreddits)
    else:
        with open(args.out, "wb") as fh:
            generate(fh, args.lines, seed=args.seed, n_subreddits=args.subreddits)
    print(args.out, args.out.stat().st_size)


if __name__ == "__main__":
    sys.exit(main())
