"""The Reddit API source: client, comment-tree walking, incremental extraction."""

from snoopipe.sources.reddit.client import (
    Credentials,
    RedditClient,
    RunRequestCap,
    RunRequestCapReached,
    SubredditUnavailable,
    resolve_credentials,
)
from snoopipe.sources.reddit.connect import RedditEndpoint, reddit_endpoint
from snoopipe.sources.reddit.extract import extract_subreddit

__all__ = [
    "Credentials",
    "RedditClient",
    "RedditEndpoint",
    "RunRequestCap",
    "RunRequestCapReached",
    "SubredditUnavailable",
    "extract_subreddit",
    "reddit_endpoint",
    "resolve_credentials",
]
