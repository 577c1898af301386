"""``python -m snoopipe.simulator [--port N] [--corpus DIR] [--seed N] [-s SUB ...]
[--budget N]``."""

from __future__ import annotations

import argparse

from snoopipe.simulator.server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m snoopipe.simulator",
                                     description="Run the Reddit API simulator (Ctrl-C stops it).")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--corpus", default=None, help="folder of recorded sessions to replay")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("-s", "--subreddit", action="append", default=None)
    parser.add_argument("--budget", type=int, default=6000, help="requests per 600 s per client")
    args = parser.parse_args(argv)
    serve(port=args.port, corpus_dir=args.corpus, seed=args.seed, subreddits=args.subreddit,
          ratelimit_budget=args.budget, host=args.host)


if __name__ == "__main__":
    main()
