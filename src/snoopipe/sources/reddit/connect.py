"""Choosing the Reddit endpoint: the real API with credentials, else the built-in simulator.

With no credentials configured, snoopipe starts its simulator on loopback and talks to
it through exactly the same client code (prawcore pointed at it with oauth_url and
reddit_url), so a first run works offline and exercises the production path.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from snoopipe.settings import RedditSettings, Settings
from snoopipe.sources.reddit.client import Credentials, resolve_credentials

SIMULATOR_CREDENTIALS = Credentials(client_id="snoopipe-simulator",
                                    client_secret="simulator-secret")


@dataclass
class RedditEndpoint:
    """Where extraction sends requests and with which credentials."""

    config: RedditSettings
    credentials: Credentials
    description: str
    simulated: bool
    # The endpoint's "now" (epoch seconds): extraction's lookback and refresh windows are
    # measured on it. The wall clock for Reddit; the simulator's own (virtual) clock.
    now: Callable[[], float] = field(default=time.time)
    # Ends the requests in flight at once (Ctrl-C): the built-in simulator stops, which
    # closes its connections; nothing for Reddit (its requests end at their timeout).
    abort: Callable[[], None] = field(default=lambda: None)


@contextlib.contextmanager
def reddit_endpoint(settings: Settings) -> Iterator[RedditEndpoint]:
    """Yield the endpoint for this run; a started simulator is stopped on exit."""
    credentials = None if settings.use_simulator else resolve_credentials(settings.reddit)
    if credentials is not None:
        yield RedditEndpoint(settings.reddit, credentials,
                             f"Reddit API at {settings.reddit.oauth_url}", simulated=False)
        return

    from snoopipe.simulator import FaultPlan, GeneratedCorpus, RecordedCorpus, RedditSimulator

    sim_cfg = settings.simulator
    corpus: RecordedCorpus | GeneratedCorpus
    if sim_cfg.corpus_dir:
        corpus = RecordedCorpus.from_dir(str(settings.resolve_local_path(sim_cfg.corpus_dir)))
        what = f"recorded corpus {sim_cfg.corpus_dir}"
    else:
        generated = GeneratedCorpus(seed=sim_cfg.seed, subreddits=sim_cfg.subreddits,
                                    posts_per_hour=sim_cfg.posts_per_hour)
        # The configured subreddits are served too (any other valid name on first use).
        generated.add_subreddits(list(settings.subreddits))
        corpus = generated
        what = f"generated corpus, seed {sim_cfg.seed}"
    fixed_now = sim_cfg.fixed_now
    simulator = RedditSimulator(
        corpus, host="127.0.0.1", port=0, ratelimit_budget=sim_cfg.ratelimit_budget,
        client_id=SIMULATOR_CREDENTIALS.client_id,
        client_secret=SIMULATOR_CREDENTIALS.client_secret,
        faults=FaultPlan(**sim_cfg.faults), subreddit_answers=dict(sim_cfg.subreddit_answers),
        clock=(lambda: fixed_now) if fixed_now is not None else None)
    simulator.start()
    if sim_cfg.time_offset_seconds:
        simulator.advance(sim_cfg.time_offset_seconds)
    try:
        config = settings.reddit.model_copy(update={"oauth_url": simulator.url,
                                                    "reddit_url": simulator.url})
        yield RedditEndpoint(
            config, SIMULATOR_CREDENTIALS,
            f"built-in Reddit API simulator at {simulator.url} ({what}); no Reddit "
            "credentials are configured",
            simulated=True, now=simulator.now, abort=simulator.stop)
    finally:
        simulator.stop()
