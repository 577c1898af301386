"""A Reddit API simulator over loopback HTTP, for tests, demos and credential-less runs.

    from snoopipe.simulator import RedditSimulator, GeneratedCorpus, RecordedCorpus, FaultPlan

    with RedditSimulator(GeneratedCorpus(seed=7), ratelimit_budget=600) as sim:
        ...  # point prawcore's Requestor(oauth_url=sim.url, reddit_url=sim.url) at it

``GeneratedCorpus`` makes a deterministic Reddit that grows with virtual time
(``sim.advance(seconds)``); ``RecordedCorpus.from_dir(path)`` replays recorded
sessions. ``FaultPlan`` injects 429s, 5xx, slow and malformed responses, token
expiry and impossible timestamps. ``serve()`` runs one in the foreground.
"""

from snoopipe.simulator.corpus import Corpus
from snoopipe.simulator.fault_injection import FaultPlan
from snoopipe.simulator.generated import DEFAULT_SUBREDDITS, GeneratedCorpus
from snoopipe.simulator.recorded import RecordedCorpus
from snoopipe.simulator.server import RedditSimulator, serve

__all__ = [
    "DEFAULT_SUBREDDITS",
    "Corpus",
    "FaultPlan",
    "GeneratedCorpus",
    "RecordedCorpus",
    "RedditSimulator",
    "serve",
]
