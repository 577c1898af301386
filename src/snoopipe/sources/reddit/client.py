"""The Reddit API client: OAuth, rate budget, retries and paging, expressed once.

Built on prawcore (PRAW's transport): `prawcore.Requestor` sends HTTP with a
descriptive user agent to `oauth_url`/`reddit_url` (pointed at the simulator in
tests and demos), and prawcore's authorizers obtain OAuth tokens. snoopipe keeps its
own request loop instead of `prawcore.Session` because the pipeline needs what that
loop lacks: a rate budget shared between workers (and machines, through Redis),
retries of 429 with exponential backoff and jitter, a per-run request cap, and raw JSON
dicts rather than PRAW objects. Credentials are never logged or put in error messages.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import prawcore
from prawcore.exceptions import OAuthException, RequestException, ResponseException

from snoopipe import __version__, interrupts
from snoopipe.errors import ConfigError, ExtractError
from snoopipe.settings import RedditSettings
from snoopipe.sources.reddit.comments import is_reddit_id
from snoopipe.sources.reddit.listing import LISTING_CAP, Listing
from snoopipe.sources.reddit.ratelimit import RateBudget, budget_for_client, parse_ratelimit_headers

log = logging.getLogger(__name__)

RETRY_STATUSES = {408, 429, 500, 502, 503, 504, 520, 522}
MAX_FULLNAMES_PER_INFO = 100


class SubredditUnavailable(ExtractError):
    """Reddit's permanent answer for a whole subreddit: private or quarantined (403),
    banned (404), or no such subreddit (302 to the search). Never retried: asking again
    gives the same answer; the other subreddits go on."""

    def __init__(self, subreddit: str, status: int, reason: str) -> None:
        self.subreddit = subreddit
        self.status = status
        self.reason = reason
        super().__init__(f"r/{subreddit} {reason} (HTTP {status})")


_LISTING_PATH = re.compile(r"^/r/([A-Za-z0-9_]+)(?:/|$)")


def subreddit_unavailable(path: str, status: int, body: str) -> SubredditUnavailable | None:
    """The SubredditUnavailable for a 403/404/302 answer to a subreddit path, else None."""
    match = _LISTING_PATH.match(path)
    if match is None or status not in (301, 302, 303, 307, 308, 403, 404):
        return None
    try:
        reason = str((json.loads(body) or {}).get("reason") or "")
    except (ValueError, AttributeError):
        reason = ""
    words = {"private": "is private", "quarantined": "is quarantined",
             "banned": "is banned", "gold_only": "is for premium members only"}
    if status in (403, 404) and reason in words:
        text = words[reason]
    elif status == 403:
        text = "is not readable with these credentials (403 Forbidden)"
    elif status == 404:
        text = "was not found (banned or unknown)"
    else:
        text = "does not exist (Reddit redirects to its subreddit search)"
    return SubredditUnavailable(match.group(1), status, text)


# What a response is (`classify_response`), in the order it is decided.
RATE_LIMITED = "rate_limited"  # 429: wait for the rate budget, then again
TOKEN_EXPIRED = "token_expired"  # 401: a new token, then again at once
SERVER_BUSY = "server_busy"  # RETRY_STATUSES: back off, then again
UNAVAILABLE = "unavailable"  # the whole subreddit is not readable (SubredditUnavailable)
REFUSED = "refused"  # any other 4xx or a redirect: this request, for good
OK = "ok"  # a body to parse (a malformed one is retried)


def is_redirect(status: int) -> bool:
    return status in (301, 302, 303, 307, 308)


def classify_response(path: str, status: int, body: str) -> str:
    """What an API response to `path` is: one of RATE_LIMITED ... OK above."""
    if status == 429:
        return RATE_LIMITED
    if status == 401:
        return TOKEN_EXPIRED
    if status in RETRY_STATUSES:
        return SERVER_BUSY
    if subreddit_unavailable(path, status, body) is not None:
        return UNAVAILABLE
    if status >= 400 or is_redirect(status):
        return REFUSED
    return OK


def rate_limit_wait(retry_after: str | None,
                    limits: tuple[float, int, float] | None) -> float | None:
    """Seconds to send nothing after a 429: `Retry-After` (whole seconds) when given, the
    window's reset when the headers say the budget is spent; None when budget is left
    (a transient refusal: back off instead)."""
    if retry_after and retry_after.isdigit():
        return float(retry_after)
    if limits and limits[0] < 1:
        return limits[2]
    return None


@dataclass(frozen=True)
class Retry:
    """An attempt that is tried again: why (the final error names the last one), the
    HTTP status if a response came, and whether to back off first (`_backoff`)."""

    error: str
    status: int | None = None
    back_off: bool = True


class RunRequestCapReached(ExtractError):
    """This run may not send more requests (extract.max_requests_per_run)."""


class RequestFailed(ExtractError):
    """A request that failed for good: `status` is the HTTP status (None: network error or
    bad body); `transient` is True when it failed after every retry (5xx, 429, timeouts:
    an outage), False when Reddit refused this very request (4xx, a redirect)."""

    def __init__(self, message: str, *, status: int | None, transient: bool) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


class RunRequestCap:
    """The requests one run may send for a subreddit (extract.max_requests_per_run),
    counted across retries and attempts; thread-safe. (Reddit's own limit per OAuth
    client and time window is the `RateBudget`.)

    `used`: requests already spent from it (by earlier attempts of the same task).
    """

    def __init__(self, limit: int | None, used: int = 0) -> None:
        self.limit = limit
        self.used = used
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            if self.limit is not None and self.used >= self.limit:
                raise RunRequestCapReached(
                    f"request budget of {self.limit} for this run is used up")
            self.used += 1

    def refund(self) -> None:
        """Give back one request that the server refused without doing it (429)."""
        with self._lock:
            self.used = max(self.used - 1, 0)

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str | None
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never show secrets, even in a debugger dump or log line
        return f"Credentials(client_id={self.client_id!r}, secret=***)"


def resolve_credentials(config: RedditSettings) -> Credentials | None:
    """Credentials from snoopipe settings/env, else from praw.ini / `praw_*` env vars."""
    if config.client_id:
        return Credentials(
            client_id=config.client_id,
            client_secret=config.client_secret.get_secret_value() if config.client_secret else None,
            username=config.username,
            password=config.password.get_secret_value() if config.password else None,
        )
    import praw.config  # reads praw.ini (package, user and working-folder files) and praw_* env

    try:
        praw_config = praw.config.Config(config.praw_site or "DEFAULT")
    except Exception as exc:  # configparser.NoSectionError and friends
        raise ConfigError(f"cannot read praw.ini site {config.praw_site!r}: {exc}") from exc
    client_id = praw_config.client_id
    if not client_id:
        return None
    return Credentials(
        client_id=str(client_id),
        client_secret=praw_config.client_secret or None,
        username=praw_config.username or None,
        password=praw_config.password or None,
    )


def default_rate_budget(client_key: str, config: RedditSettings) -> RateBudget:
    """The rate budget of one OAuth client, shared by all its workers.

    In Redis when `rate_budget_url` (top-level `redis_url`) is set, so that workers on
    many machines share it; otherwise one budget per process.
    """
    if config.rate_budget_url:
        from snoopipe.sources.reddit.ratelimit_redis import redis_budget

        # A lease outlives any request (timeout) so only a dead worker's lease expires.
        return redis_budget(config.rate_budget_url, client_key,
                            lease_seconds=2 * config.timeout_seconds + 5)
    return budget_for_client(client_key)


class RedditClient:
    """Raw-JSON access to the Reddit endpoints snoopipe needs."""

    def __init__(
        self,
        config: RedditSettings,
        credentials: Credentials,
        *,
        rate_budget: RateBudget | None = None,
        request_cap: RunRequestCap | None = None,
        sleep: Callable[[float], None] = interrupts.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._requestor = prawcore.Requestor(
            user_agent=f"{config.user_agent} snoopipe/{__version__}",
            oauth_url=config.oauth_url,
            reddit_url=config.reddit_url,
            timeout=config.timeout_seconds,
        )
        # prawcore 4 takes keyword arguments only.
        authenticator = prawcore.TrustedAuthenticator(
            requestor=self._requestor, client_id=credentials.client_id,
            client_secret=credentials.client_secret or "")
        if credentials.username and credentials.password:
            self._authorizer: prawcore.Authorizer = prawcore.ScriptAuthorizer(
                authenticator=authenticator, username=credentials.username,
                password=credentials.password)
        else:
            self._authorizer = prawcore.ReadOnlyAuthorizer(authenticator=authenticator)
        self._token_lock = threading.Lock()
        # Reddit asks for one morechildren call at a time per client.
        self._more_lock = threading.Lock()
        self.rate_budget = rate_budget or default_rate_budget(
            f"{config.oauth_url}|{credentials.client_id}", config)
        self.request_cap = request_cap or RunRequestCap(None)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.stats: dict[str, int] = {"requests": 0, "retries": 0, "status_429": 0}

    def close(self) -> None:
        self._requestor.close()

    # -- the one request loop ----------------------------------------------------------

    def _token(self, *, force: bool = False) -> str:
        with self._token_lock:
            if force or not self._authorizer.is_valid():
                self._authorizer.refresh()
            token = self._authorizer.access_token
            assert token is not None  # is_valid() or a successful refresh() means a token
            return token

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: uniform(ceiling / 2, ceiling), ceiling =
        min(backoff_max_seconds, backoff_base_seconds * 2**attempt) seconds.

        Not full jitter (uniform(0, ceiling)): every retry waits at least half the
        exponential delay, so workers retrying a struggling Reddit cannot draw waits
        near zero and spend their attempts (and the run's requests) within moments,
        while the spread still keeps them from retrying in step.
        """
        ceiling = min(self.config.backoff_max_seconds,
                      self.config.backoff_base_seconds * 2 ** attempt)
        return self._rng.uniform(ceiling / 2, ceiling)

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                data: dict[str, Any] | None = None) -> Any:
        """Send one API request with retries; return the parsed JSON body.

        Each attempt gets a token, sends once (`_send`) and lets the response's class
        (`classify_response`) decide (`_handle`): the body, a `Retry` (after a backoff,
        the rate limit's wait or a token refresh), or an error for good.
        Errors: RequestFailed (transient=True after max_retries + 1 attempts, False for a
        refused request), SubredditUnavailable, ExtractError (credentials refused),
        RunRequestCapReached (the run's request cap is used up).
        """
        params = {**(params or {}), "raw_json": 1}
        what = f"{method} {path}"
        last_error = "no attempt made"
        last_status: int | None = None
        for attempt in range(self.config.max_retries + 1):
            interrupts.check()  # Ctrl-C: no new request, no retry (see snoopipe.interrupts)
            if attempt:
                self.stats["retries"] += 1
            outcome = self._attempt(method, path, params, data, attempt)
            if not isinstance(outcome, Retry):
                return outcome
            last_error = outcome.error
            if outcome.status is not None:
                last_status = outcome.status
            if outcome.back_off:
                self._sleep(self._backoff(attempt))
        raise RequestFailed(
            f"{what} failed after {self.config.max_retries + 1} attempts; last error: "
            f"{last_error}", status=last_status, transient=True)

    def _attempt(self, method: str, path: str, params: dict[str, Any],
                 data: dict[str, Any] | None, attempt: int) -> Any:
        """One attempt: the parsed body, or a Retry."""
        token = self._token_or_retry()
        if isinstance(token, Retry):
            return token
        response = self._send(method, path, params, data, token)
        if isinstance(response, Retry):
            return response
        return self._handle(f"{method} {path}", path, response, attempt)

    def _token_or_retry(self) -> str | Retry:
        """A valid OAuth token; a Retry when the token request failed on the way;
        ExtractError when Reddit refused the credentials (asking again will not help)."""
        try:
            return self._token(force=False)
        except OAuthException as exc:
            raise ExtractError(f"Reddit refused the OAuth credentials: {exc.error}") from None
        except ResponseException as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise ExtractError(
                    f"Reddit refused the OAuth credentials (HTTP {status}); check client id "
                    "and secret") from None
            return Retry(f"token request failed with HTTP {status}")
        except RequestException as exc:
            return Retry(f"token request failed: {type(exc.original_exception).__name__}")

    def _send(self, method: str, path: str, params: dict[str, Any],
              data: dict[str, Any] | None, token: str) -> Any:
        """Spend one request of both budgets and send it: the response, or a Retry on a
        network error or timeout (the rate budget's slot is given back)."""
        self.request_cap.take()
        self.rate_budget.acquire()
        self.stats["requests"] += 1
        try:
            return self._requestor.request(
                method, urljoin(self.config.oauth_url, path), params=params, data=data,
                allow_redirects=False, headers={"Authorization": f"bearer {token}"})
        except RequestException as exc:
            self.rate_budget.release()
            interrupts.check()  # aborted by Ctrl-C (the simulator stopped): no retry
            error = f"{type(exc.original_exception).__name__} (network or timeout)"
            log.info("retrying %s %s after %s", method, path, error)
            return Retry(error)

    def _handle(self, what: str, path: str, response: Any, attempt: int) -> Any:
        """Act on a response as `classify_response` classes it: the body, or a Retry."""
        status = response.status_code
        limits = parse_ratelimit_headers(response.headers)
        kind = classify_response(path, status, response.text)
        if kind == RATE_LIMITED:
            self.stats["status_429"] += 1
            # Refused, so no work was done: it does not count against the run's request cap.
            self.request_cap.refund()
            wait = rate_limit_wait(response.headers.get("retry-after"), limits)
            self.rate_budget.exhausted_for(wait if wait is not None else self._backoff(attempt))
            log.info("rate limited on %s; waiting for the budget", what)
            return Retry("HTTP 429 Too Many Requests", status, back_off=False)
        if limits:
            self.rate_budget.update(*limits)
        else:
            self.rate_budget.release()
        if kind == TOKEN_EXPIRED:
            # Expired or revoked early: get a new one and try again at once.
            self._token(force=True)
            return Retry("HTTP 401 (token refreshed)", status, back_off=False)
        if kind == SERVER_BUSY:
            log.info("retrying %s after HTTP %s", what, status)
            return Retry(f"HTTP {status}", status)
        if kind == UNAVAILABLE:
            unavailable = subreddit_unavailable(path, status, response.text)
            assert unavailable is not None  # what classify_response found
            raise unavailable
        if kind == REFUSED:
            detail = (f"redirect to {response.headers.get('location', '?')}"
                      if is_redirect(status) else _snippet(response.text))
            raise RequestFailed(f"{what} failed with HTTP {status}: {detail}",
                                status=status, transient=False)
        try:
            return response.json()
        except ValueError:
            # Truncated or HTML body with a 200: transient on Reddit's side.
            error = f"malformed response body ({_snippet(response.text)})"
            log.info("retrying %s after %s", what, error)
            return Retry(error, status)

    # -- endpoints ------------------------------------------------------------------

    def listing(self, path: str, *, params: dict[str, Any] | None = None,
                max_items: int = LISTING_CAP, lower_bound: float | None = None) -> Listing:
        """The things of a listing, paged with `after` (limit=100); see `Listing` for how an
        empty page after a removed anchor is told from the end, and `Listing.ended`."""
        return Listing(lambda page: self.request("GET", path, params=page), params,
                       max_items=max_items, lower_bound=lower_bound)

    def comment_page(self, post_id: str, *, comment_id: str | None = None,
                     sort: str = "new", limit: int = 500) -> tuple[dict | None, list[dict]]:
        """One /comments/{id} response: (post data, top-level comment Listing children).

        ExtractError for an id that is not a Reddit id (base36): ids come from API
        responses and go into the request path, so they are checked first."""
        for value in (post_id, comment_id):
            if value is not None and not is_reddit_id(value):
                raise ExtractError(f"not a Reddit id: {value!r}; /comments/ not requested")
        path = f"/comments/{post_id}" + (f"/_/{comment_id}" if comment_id else "")
        body = self.request("GET", path, params={"sort": sort, "limit": limit})
        if not isinstance(body, list) or len(body) != 2:
            raise ExtractError(f"unexpected /comments/{post_id} response shape")
        posts = body[0].get("data", {}).get("children", [])
        post = posts[0]["data"] if posts else None
        return post, body[1].get("data", {}).get("children", [])

    def more_children(self, link_fullname: str, children: Sequence[str], *,
                      sort: str = "new") -> list[dict]:
        """Expand up to 100 comment ids from a `more` object; returns things (t1 and more)."""
        if not children:
            return []
        if len(children) > 100:
            raise ValueError("morechildren takes at most 100 ids per call")
        with self._more_lock:
            body = self.request("GET", "/api/morechildren", params={
                "link_id": link_fullname, "children": ",".join(children), "sort": sort,
                "api_type": "json", "limit_children": "false"})
        json_part = body.get("json", {}) if isinstance(body, dict) else {}
        if json_part.get("errors"):
            raise ExtractError(f"morechildren returned errors: {json_part['errors']}")
        return json_part.get("data", {}).get("things", [])

    def info(self, fullnames: Sequence[str]) -> list[dict]:
        """`data` of the things with these fullnames (t3_/t1_), 100 per request."""
        things: list[dict] = []
        for start in range(0, len(fullnames), MAX_FULLNAMES_PER_INFO):
            batch = fullnames[start:start + MAX_FULLNAMES_PER_INFO]
            body = self.request("GET", "/api/info", params={"id": ",".join(batch)})
            for child in body.get("data", {}).get("children", []):
                if child.get("kind") in ("t3", "t1"):
                    things.append(child["data"])
        return things


def _snippet(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat[:limit] + ("…" if len(flat) > limit else "")
