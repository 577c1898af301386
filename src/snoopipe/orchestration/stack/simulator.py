"""The Reddit API simulator as a stack service: one process all workers talk to.

    SNOOPIPE_SIM_CLIENT_SECRET=SECRET python -m snoopipe.orchestration.stack.simulator \
        --port 8081 --client-id ID [--seed 7] [--budget 6000] [-s python ...] [--corpus DIR] \
        [--host 127.0.0.1] [--fixed-now EPOCH]

Unlike `snoopipe simulator`, it requires OAuth client credentials, like Reddit, so that
the workers' rate budget is keyed on a client id exactly as in production. The client
secret comes from the environment (SECRET_ENV), never the command line, which any local
user can read (`ps`). SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

from snoopipe.simulator import FaultPlan, GeneratedCorpus, RecordedCorpus, RedditSimulator

SECRET_ENV = "SNOOPIPE_SIM_CLIENT_SECRET"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", type=int, default=6000)
    parser.add_argument("--window-seconds", type=int, default=600)
    parser.add_argument("--subreddit", "-s", action="append", default=None)
    parser.add_argument("--corpus", default=None, help="folder of recorded sessions")
    parser.add_argument("--time-offset", type=float, default=0.0)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--fixed-now", type=float, default=None,
                        help="pin the clock at this epoch time (reproducible runs)")
    args = parser.parse_args(argv)
    client_secret = os.environ.get(SECRET_ENV)
    if not client_secret:
        parser.error(f"set the client secret in the environment variable {SECRET_ENV}")

    corpus = (RecordedCorpus.from_dir(args.corpus) if args.corpus
              else GeneratedCorpus(seed=args.seed, subreddits=args.subreddit))
    fixed_now = args.fixed_now
    sim = RedditSimulator(corpus, host=args.host, port=args.port,
                          ratelimit_budget=args.budget, window_seconds=args.window_seconds,
                          client_id=args.client_id, client_secret=client_secret,
                          faults=FaultPlan(),
                          clock=(lambda: fixed_now) if fixed_now is not None else None)
    sim.start()
    if args.time_offset:
        sim.advance(args.time_offset)
    print(f"Reddit API simulator on {sim.url} for client {args.client_id}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    sim.stop()


if __name__ == "__main__":
    main()
