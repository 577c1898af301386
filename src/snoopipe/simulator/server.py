"""The Reddit API simulator: a real HTTP server on loopback.

Point prawcore's ``Requestor(oauth_url=sim.url, reddit_url=sim.url)`` at it. It
serves the OAuth token endpoint, subreddit listings, comment trees,
``/api/morechildren`` and ``/api/info`` in Reddit's JSON shapes, with Reddit's
per-client rate limit headers, token expiry, and injectable faults, plus a few
``/_sim/*`` admin endpoints for tests and demos.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from snoopipe.simulator.corpus import LISTING_SORTS, Corpus, paginate
from snoopipe.simulator.fault_injection import FAULT_TYPES, FaultDecision, FaultInjector, FaultPlan
from snoopipe.simulator.generated import GeneratedCorpus
from snoopipe.simulator.recorded import RecordedCorpus, _iter_things, normalize_path
from snoopipe.simulator.trees import listing, render_comments, render_morechildren

log = logging.getLogger("snoopipe.simulator")

JSON_TYPE = "application/json; charset=UTF-8"
HTML_TYPE = "text/html; charset=UTF-8"
MAX_IDS = 100
YEAR_2100 = 4102444800  # 2100-01-01T00:00:00Z
_LEGACY_ESCAPED = ("title", "selftext", "body", "selftext_html", "body_html",
                   "link_flair_text", "author_flair_text")
_RE_LISTING = re.compile(r"/r/([A-Za-z0-9_]+)(?:/([a-z]+))?")
_RE_COMMENTS = re.compile(
    r"(?:/r/[A-Za-z0-9_]+)?/comments/([0-9a-z]+)(?:/([^/]*)(?:/([0-9a-z]+))?)?")
_MALFORMED_HTML = (b"<!doctype html><html><head><title>reddit.com: over capacity</title></head>"
                   b"<body><h1>all of our servers are busy right now</h1>"
                   b"<p>please try again in a minute.</p></body></html>")


def _json(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def _error(status: int, message: str | None = None, **extra: Any) -> tuple[int, bytes]:
    body: dict[str, Any] = {"message": message or HTTPStatus(status).phrase, "error": status}
    body.update(extra)
    return status, _json(body)


# What Reddit answers for a subreddit that cannot be read, as observed on the API:
# private -> 403 {"reason": "private"}, quarantined -> 403 {"reason": "quarantined"},
# banned -> 404 {"reason": "banned"}, and a name that does not exist -> 302 to the
# subreddit search.
SUBREDDIT_ANSWERS = ("private", "quarantined", "banned", "unknown")


def _subreddit_answer(sub: str, answer: str) -> _Response:
    if answer == "unknown":
        return _Response(302, b"", headers={"Location": f"/subreddits/search.json?q={sub}"})
    status = 404 if answer == "banned" else 403
    return _Response(*_error(status, reason=answer))


def _int_param(params: dict[str, str], name: str, default: int | None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(float(raw))
    except ValueError:
        return default


@dataclass
class _Token:
    client_id: str
    expires_at: float
    serial: int
    revoked: bool = False


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sim: RedditSimulator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that went away mid-response is not worth a traceback on stderr
        log.debug("connection error from %s", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Unblock handler threads waiting on idle keep-alive connections."""
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class RedditSimulator:
    """A Reddit API look-alike on loopback; see the module docstring.

    ``clock`` is a callable returning epoch seconds (default ``time.time``); the
    simulator's virtual time is ``clock() + advanced seconds``. Token expiry,
    rate-limit windows and the generated corpus all follow virtual time.
    """

    def __init__(self, corpus: Corpus | None = None, host: str = "127.0.0.1", port: int = 0,
                 ratelimit_budget: int = 600, window_seconds: int = 600,
                 faults: FaultPlan | None = None, clock: Callable[[], float] | None = None,
                 client_id: str | None = None, client_secret: str | None = None,
                 token_ttl_seconds: int = 3600,
                 subreddit_answers: dict[str, str] | None = None) -> None:
        if ratelimit_budget < 1 or window_seconds < 1 or token_ttl_seconds < 1:
            raise ValueError("ratelimit_budget, window_seconds and token_ttl_seconds must be >= 1")
        self.corpus = corpus if corpus is not None else GeneratedCorpus()
        # Reddit's permanent answers for a whole subreddit, by name: see SUBREDDIT_ANSWERS.
        self.subreddit_answers = {k.lower(): v for k, v in (subreddit_answers or {}).items()}
        unknown = set(self.subreddit_answers.values()) - set(SUBREDDIT_ANSWERS)
        if unknown:
            raise ValueError(f"subreddit answers must be one of {sorted(SUBREDDIT_ANSWERS)}")
        self.host = host
        self._port = port
        self.ratelimit_budget = int(ratelimit_budget)
        self.window_seconds = int(window_seconds)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl_seconds = int(token_ttl_seconds)
        self._clock = clock or time.time
        self._offset = 0.0
        self._lock = threading.RLock()
        self._injector = FaultInjector(faults or FaultPlan())
        self._tokens: dict[str, _Token] = {}
        self._token_serial = 0
        self._revoked_upto = 0
        self._rate: dict[str, list[int]] = {}  # client -> [window index, used]
        self._in_flight: Counter[str] = Counter()
        self._max_concurrent: dict[str, int] = {}
        self._requests_total = 0
        self._admin_requests = 0
        self._by_endpoint: Counter[str] = Counter()
        self._by_client: Counter[str] = Counter()
        self._status_counts: Counter[int] = Counter()
        self._faults: Counter[str] = Counter()
        self._tokens_issued = 0
        self._rate_limited = 0
        self._replayed = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> RedditSimulator:
        if self._server is not None:
            return self
        server = _Server((self.host, self._port), _Handler)
        server.sim = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"reddit-simulator-{self.port}", daemon=True)
        self._thread.start()
        log.debug("Reddit simulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> RedditSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is not None:
            return int(self._server.server_address[1])
        return self._port

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    # -- time and faults ---------------------------------------------------------------

    def now(self) -> float:
        with self._lock:
            offset = self._offset
        return float(self._clock()) + offset

    def advance(self, seconds: float) -> float:
        """Move virtual time forward; returns the new ``now()``."""
        seconds = float(seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("seconds must be a finite number >= 0")
        with self._lock:
            self._offset += seconds
        return self.now()

    def set_faults(self, plan: FaultPlan) -> None:
        with self._lock:
            self._injector = FaultInjector(plan)

    @property
    def faults(self) -> FaultPlan:
        return self._injector.plan

    # -- stats -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        now = self.now()
        with self._lock:
            window = int(now // self.window_seconds)
            rate = {}
            for client, (idx, used) in self._rate.items():
                used_now = used if idx == window else 0
                rate[client] = {"used": used_now,
                                "remaining": float(max(0, self.ratelimit_budget - used_now)),
                                "reset": self._reset_seconds(now)}
            return {
                "requests_total": self._requests_total,
                "admin_requests": self._admin_requests,
                "by_endpoint": dict(self._by_endpoint),
                "by_client": dict(self._by_client),
                "status_counts": dict(self._status_counts),
                "tokens_issued": self._tokens_issued,
                "tokens_active": sum(1 for t in self._tokens.values() if self._token_valid(t, now)),
                "max_concurrent": dict(self._max_concurrent),
                "in_flight": sum(self._in_flight.values()),
                "rate_limited": self._rate_limited,
                "faults_injected": {k: self._faults.get(k, 0) for k in FAULT_TYPES},
                "ratelimit": rate,
                "replayed": self._replayed,
                "now": now,
                "corpus": self.corpus.describe(),
            }

    def _count(self, endpoint: str, client: str | None = None) -> None:
        with self._lock:
            self._requests_total += 1
            self._by_endpoint[endpoint] += 1
            if client:
                self._by_client[client] += 1

    def _count_status(self, status: int) -> None:
        with self._lock:
            self._status_counts[status] += 1

    def _count_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    # -- tokens ------------------------------------------------------------------------

    def _token_valid(self, tok: _Token, now: float) -> bool:
        return not tok.revoked and tok.serial > self._revoked_upto and now < tok.expires_at

    def _issue_token(self, client_id: str) -> str:
        token = secrets.token_urlsafe(24)
        now = self.now()
        with self._lock:
            self._token_serial += 1
            self._tokens[token] = _Token(client_id, now + self.token_ttl_seconds,
                                         self._token_serial)
            self._tokens_issued += 1
            if len(self._tokens) > 10_000:  # forget long-dead tokens
                for key in [k for k, t in self._tokens.items() if not self._token_valid(t, now)]:
                    del self._tokens[key]
        return token

    def _client_for(self, token: str | None) -> str | None:
        if not token:
            return None
        now = self.now()
        with self._lock:
            tok = self._tokens.get(token)
            if tok is None or not self._token_valid(tok, now):
                return None
            return tok.client_id

    def _expire_all_tokens(self) -> None:
        with self._lock:
            self._revoked_upto = self._token_serial

    def _revoke(self, token: str) -> None:
        with self._lock:
            tok = self._tokens.get(token)
            if tok is not None:
                tok.revoked = True

    # -- rate limit --------------------------------------------------------------------

    def _reset_seconds(self, now: float) -> int:
        end = (math.floor(now / self.window_seconds) + 1) * self.window_seconds
        return max(1, int(math.ceil(end - now)))

    def _rate_headers(self, client: str, consume: bool) -> tuple[bool, dict[str, str]]:
        now = self.now()
        window = int(now // self.window_seconds)
        with self._lock:
            state = self._rate.setdefault(client, [window, 0])
            if state[0] != window:
                state[0], state[1] = window, 0
            allowed = state[1] < self.ratelimit_budget
            if consume and allowed:
                state[1] += 1
            used = state[1]
        headers = {
            "x-ratelimit-remaining": f"{float(max(0, self.ratelimit_budget - used)):.1f}",
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(self._reset_seconds(now)),
        }
        return allowed, headers

    @contextmanager
    def _track(self, client: str):
        with self._lock:
            self._in_flight[client] += 1
            n = self._in_flight[client]
            if n > self._max_concurrent.get(client, 0):
                self._max_concurrent[client] = n
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[client] -= 1
                if self._in_flight[client] <= 0:
                    del self._in_flight[client]

    # -- request handling (called from handler threads) ---------------------------------

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> _Response:
        split = urlsplit(raw_path)
        path = normalize_path(split.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        ctype = (headers.get("Content-Type") or "").lower()
        if body and "application/x-www-form-urlencoded" in ctype:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if path.startswith("/_sim/"):
            with self._lock:
                self._admin_requests += 1
            return self._admin(method, path, params, body)
        if path == "/api/v1/access_token":
            resp = self._access_token(method, headers, params)
            self._count("access_token")
        elif path == "/api/v1/revoke_token":
            resp = self._revoke_token(method, headers, params)
            self._count("revoke_token")
        else:
            resp = self._oauth(method, path, params, headers)
        self._count_status(resp.status)
        return resp

    def _access_token(self, method: str, headers: Any, params: dict[str, str]) -> _Response:
        if method != "POST":
            return _Response(*_error(405))
        client, secret = _basic_auth(headers.get("Authorization"))
        if client is None:
            return _Response(*_error(401), headers={"www-authenticate": 'Basic realm="reddit"'})
        wrong_secret = self.client_secret is not None and secret != self.client_secret
        if self.client_id is not None and (client != self.client_id or wrong_secret):
            return _Response(*_error(401))
        grant = params.get("grant_type", "")
        if grant == "password":
            if not params.get("username") or not params.get("password"):
                return _Response(200, _json({"error": "invalid_grant"}))
        elif grant == "refresh_token":
            if not params.get("refresh_token"):
                return _Response(200, _json({"error": "invalid_grant"}))
        elif grant not in ("client_credentials", "https://oauth.reddit.com/grants/installed_client"):
            return _Response(400, _json({"error": "unsupported_grant_type"}))
        token = self._issue_token(client)
        return _Response(200, _json({"access_token": token, "token_type": "bearer",
                                     "expires_in": self.token_ttl_seconds, "scope": "*"}))

    def _revoke_token(self, method: str, headers: Any, params: dict[str, str]) -> _Response:
        if method != "POST":
            return _Response(*_error(405))
        client, _ = _basic_auth(headers.get("Authorization"))
        if client is None:
            return _Response(*_error(401))
        if params.get("token"):
            self._revoke(params["token"])
        return _Response(200, b"")  # what Reddit answers (prawcore requires 200)

    def _oauth(self, method: str, path: str, params: dict[str, str], headers: Any) -> _Response:
        endpoint, handler = self._route(method, path)
        injector = self._injector
        if injector.count_request_and_check_expiry():
            self._expire_all_tokens()
            self._count_fault("expired_tokens")
        token = _bearer(headers.get("Authorization"))
        client = self._client_for(token)
        self._count(endpoint, client)
        if client is None:
            status, body = _error(401)
            return _Response(status, body, headers={
                "www-authenticate": 'Bearer realm="reddit", error="invalid_token"'})
        with self._track(client):
            if injector.take_burst_429():
                self._count_fault("burst_429")
                _, rate = self._rate_headers(client, consume=False)
                return _Response(*_error(429), headers=rate)
            zero_reset = injector.zero_reset()
            if zero_reset == "refuse":
                # Reddit's answer in the second after a window "reset" at 0: an empty
                # body, no Retry-After, nothing remaining.
                return _Response(429, b"", headers=self._zero_reset_headers())
            allowed, rate = self._rate_headers(client, consume=True)
            if zero_reset == "exhaust":
                self._count_fault("zero_reset")
                rate = self._zero_reset_headers()
            if not allowed:
                with self._lock:
                    self._rate_limited += 1
                return _Response(*_error(429), headers=rate)
            decision = injector.decide()
            if decision.slow_seconds > 0:
                self._count_fault("slow")
                time.sleep(decision.slow_seconds)
            if decision.status_5xx is not None:
                self._count_fault("error_5xx")
                return self._server_error(decision.status_5xx, rate)
            resp = handler(params) if handler is not None else _Response(*_error(404))
            resp.headers = {**(resp.headers or {}), **rate}
            if resp.status == 200:
                self._apply_output_faults(resp, decision)
            return resp

    def _zero_reset_headers(self) -> dict[str, str]:
        return {"x-ratelimit-remaining": "0.0", "x-ratelimit-used": str(self.ratelimit_budget),
                "x-ratelimit-reset": "0"}

    def _server_error(self, code: int, rate: dict[str, str]) -> _Response:
        if code == 500:
            return _Response(*_error(500), headers=rate)
        phrase = (HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_
                  else "Server Error")
        html = f"<html><body><h1>{code} {phrase}</h1></body></html>".encode()
        return _Response(code, html, HTML_TYPE, headers=rate)

    def _apply_output_faults(self, resp: _Response, decision: FaultDecision) -> None:
        if decision.future_timestamps and resp.content_type == JSON_TYPE and b'"t3"' in resp.body:
            obj = orjson.loads(resp.body)
            changed = False
            for kind, data in _iter_things(obj):
                if kind == "t3":
                    for key in ("created", "created_utc"):
                        if isinstance(data.get(key), (int, float)):
                            data[key] = float(YEAR_2100 + int(data[key]) % 31_536_000)
                            changed = True
            if changed:
                resp.body = _json(obj)
                self._count_fault("future_timestamps")
        if decision.malformed == "truncated":
            self._count_fault("malformed")
            resp.body = resp.body[: max(1, len(resp.body) // 2)]
        elif decision.malformed == "html":
            self._count_fault("malformed")
            resp.body, resp.content_type = _MALFORMED_HTML, HTML_TYPE

    # -- routing -----------------------------------------------------------------------

    def _route(self, method: str, path: str
               ) -> tuple[str, Callable[[dict[str, str]], _Response] | None]:
        m = _RE_COMMENTS.fullmatch(path)
        if m and method == "GET":
            article, focus = m.group(1), m.group(3)
            return "comments", lambda p: self._comments(path, article, focus, p)
        if path == "/api/morechildren" and method in ("GET", "POST"):
            return "morechildren", lambda p: self._morechildren(path, p)
        if path == "/api/info" and method == "GET":
            return "info", lambda p: self._info(path, p)
        m = _RE_LISTING.fullmatch(path)
        if m and method == "GET":
            sort = m.group(2) or "hot"
            if sort in LISTING_SORTS:
                return sort, lambda p: self._listing(path, m.group(1), sort, p)
        return "unknown", None

    def _replay(self, path: str, params: dict[str, str]) -> _Response | None:
        raw = self.corpus.replay(path, params)
        if raw is None:
            return None
        with self._lock:
            self._replayed += 1
        return _Response(200, raw)

    def _listing(self, path: str, sub: str, sort: str, params: dict[str, str]) -> _Response:
        replayed = self._replay(path, params)
        if replayed is not None:
            return replayed
        answer = self.subreddit_answers.get(sub.lower())
        if answer is not None:
            return _subreddit_answer(sub, answer)
        if not self.corpus.subreddit_known(sub):
            return _Response(*_error(404))
        limit = _int_param(params, "limit", 25) or 25
        limit = max(1, min(limit, 100))
        anchor = params.get("after") or None
        hide_last = False
        if sort == "new":
            injector = self._injector
            dead_end, hide_last = injector.new_page(anchor)
            if dead_end:
                self._count_fault("dead_end")
                return _Response(200, _json(listing([])))
            if anchor is not None and injector.is_hidden(anchor):
                # Reddit cannot page after a thing it no longer lists: an empty page.
                return _Response(200, _json(listing([])))
        seq = self.corpus.listing(sub, sort, params.get("t") or "day", self.now())
        items, after, before = paginate(seq, after=anchor,
                                        before=params.get("before") or None, limit=limit,
                                        count=_int_param(params, "count", 0) or 0)
        if sort == "new":
            items = [d for d in items if not self._injector.is_hidden(d.get("name", ""))]
            late = self.faults.approved_late
            if late:
                now = self.now()
                held = [d for d in items if d.get("id") in late
                        and now < float(d.get("created_utc") or 0) + late[d["id"]]]
                if held:
                    self._count_fault("approved_late")
                    items = [d for d in items if d not in held]
            if hide_last and items:
                self._injector.hide(items[-1]["name"])
                self._count_fault("hidden_anchor")
        children = [{"kind": "t3", "data": d} for d in items]
        _maybe_escape(children, params)
        return _Response(200, _json(listing(children, after=after, before=before)))

    def _comments(self, path: str, article: str, focus: str | None,
                  params: dict[str, str]) -> _Response:
        status = self.faults.comments_status.get(article)
        if status is not None:
            self._count_fault("tree_error")
            if 300 <= status < 400:  # Reddit sends some removed posts' pages elsewhere
                return _Response(status, b"", HTML_TYPE,
                                 headers={"location": f"https://www.reddit.com/comments/{article}/"})
            return _Response(*_error(status))
        replayed = self._replay(path, params)
        if replayed is not None:
            return replayed
        now = self.now()
        post = self.corpus.post(article, now)
        forest = self.corpus.forest(article, now) if post is not None else None
        if post is None or forest is None:
            return _Response(*_error(404))
        post_listing = listing([{"kind": "t3", "data": post}], dist=1)
        if focus is not None and not forest.exists(focus):
            comments: list[dict[str, Any]] = []
        else:
            limit = _int_param(params, "limit", None)
            cap = self.faults.comments_limit_cap
            if cap is not None:
                limit = cap if limit is None else min(limit, cap)
            comments = render_comments(forest, focus=focus,
                                       context=_int_param(params, "context", 0) or 0,
                                       limit=limit,
                                       depth=_int_param(params, "depth", None),
                                       sort=params.get("sort") or "confidence")
        out = [post_listing, listing(comments, dist=False)]
        _maybe_escape(out, params)
        return _Response(200, _json(out))

    def _morechildren(self, path: str, params: dict[str, str]) -> _Response:
        ids = [i.strip() for i in (params.get("children") or "").split(",") if i.strip()]
        if len(ids) > MAX_IDS:
            return _Response(*_error(400, explanation=f"too many children: {len(ids)} > {MAX_IDS}"))
        link_id = params.get("link_id") or ""
        if not link_id.startswith("t3_") or not ids:
            return _Response(*_error(400, explanation="link_id (t3_...) and children are required"))
        status = self.faults.morechildren_status.get(link_id[3:])
        if status is not None:
            self._count_fault("tree_error")
            return _Response(*_error(status))
        replayed = self._replay(path, params)
        if replayed is not None:
            return replayed
        now = self.now()
        forest = self.corpus.forest(link_id[3:], now)
        things: list[dict[str, Any]] = []
        if forest is not None:
            things = render_morechildren(
                forest, [i[3:] if i.startswith("t1_") else i for i in ids],
                sort=params.get("sort") or "confidence",
                limit_children=(params.get("limit_children") or "").lower() in ("1", "true", "on"),
                depth=_int_param(params, "depth", None))
        _maybe_escape(things, params)
        return _Response(200, _json({"json": {"errors": [], "data": {"things": things}}}))

    def _info(self, path: str, params: dict[str, str]) -> _Response:
        ids = [i.strip() for i in (params.get("id") or "").split(",") if i.strip()]
        if len(ids) > MAX_IDS:
            return _Response(*_error(400, explanation=f"too many ids: {len(ids)} > {MAX_IDS}"))
        replayed = self._replay(path, params) if ids else None
        if replayed is not None:
            return replayed
        now = self.now()
        children = []
        seen = set()
        for fullname in ids:
            if fullname in seen:
                continue
            seen.add(fullname)
            if fullname.startswith("t3_") and fullname[3:] in self.faults.info_missing:
                self._count_fault("info_missing")
                continue
            data = self.corpus.thing(fullname, now)
            if data is not None:
                children.append({"kind": fullname[:2], "data": data})
        _maybe_escape(children, params)
        return _Response(200, _json(listing(children)))

    # -- admin -------------------------------------------------------------------------

    def _admin(self, method: str, path: str, params: dict[str, str], body: bytes) -> _Response:
        if path == "/_sim/health" and method == "GET":
            return _Response(200, _json({"status": "ok", "url": self.url, "now": self.now(),
                                         "corpus": self.corpus.kind}))
        if path == "/_sim/stats" and method == "GET":
            return _Response(200, _json(self.stats()))
        if path == "/_sim/advance" and method == "POST":
            raw: Any = params.get("seconds")
            if raw is None and body:
                try:
                    raw = orjson.loads(body).get("seconds")
                except (orjson.JSONDecodeError, AttributeError):
                    raw = None
            try:
                return _Response(200, _json({"now": self.advance(float(raw))}))
            except (TypeError, ValueError):
                return _Response(*_error(400, explanation="seconds must be a number >= 0"))
        if path == "/_sim/faults":
            if method == "GET":
                return _Response(200, _json(self.faults.to_dict()))
            if method == "POST":
                try:
                    data = orjson.loads(body or b"{}")
                    if not isinstance(data, dict):
                        raise ValueError("a JSON object of FaultPlan fields is required")
                    plan = FaultPlan.from_dict(data)
                except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
                    return _Response(*_error(400, explanation=str(exc)))
                self.set_faults(plan)
                return _Response(200, _json(plan.to_dict()))
        return _Response(*_error(404))


def _maybe_escape(obj: Any, params: dict[str, str]) -> None:
    """Without ``raw_json=1`` Reddit HTML-escapes ``&``, ``<`` and ``>`` in text fields."""
    if params.get("raw_json") == "1":
        return
    for _, data in _iter_things(obj):
        for key in _LEGACY_ESCAPED:
            value = data.get(key)
            if isinstance(value, str):
                data[key] = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _basic_auth(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client, _, secret = decoded.partition(":")
    return (client or None), secret


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "snoopipe-reddit-simulator"
    timeout = 60  # idle keep-alive connections end after a minute
    # one buffered write per response and no Nagle: small keep-alive responses would
    # otherwise wait ~40 ms for the client's delayed ACK
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        try:
            resp = self.server.sim.handle(method, self.path, self.headers, body)
        except Exception:  # a bug in the simulator: answer 500 rather than drop the connection
            log.exception("simulator error on %s %s", method, self.path.split("?")[0])
            status, data = _error(500)
            resp = _Response(status, data)
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        self.send_header("Cache-Control",
                         "private, s-maxage=0, max-age=0, must-revalidate, no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (resp.headers or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if method != "HEAD" and resp.body:
            self.wfile.write(resp.body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve("PATCH")


def serve(port: int = 8080, corpus_dir: str | None = None, seed: int = 7,
          subreddits: list[str] | None = None, ratelimit_budget: int = 6000,
          host: str = "127.0.0.1") -> None:
    """Run a simulator in the foreground until Ctrl-C (for ``snoopipe simulator``)."""
    corpus: Corpus
    if corpus_dir:
        corpus = RecordedCorpus.from_dir(corpus_dir)
    else:
        corpus = GeneratedCorpus(seed=seed, subreddits=subreddits)
    sim = RedditSimulator(corpus, host=host, port=port, ratelimit_budget=ratelimit_budget)
    sim.start()
    if isinstance(corpus, GeneratedCorpus):
        what = f"generated corpus, seed {seed}, r/{', r/'.join(corpus.subreddits)}"
    else:
        described = corpus.describe()
        what = (f"replaying {described.get('files')} recorded sessions "
                f"({described.get('posts')} posts, {described.get('comments')} comments)")
    print(f"Reddit API simulator on {sim.url} ({what}); Ctrl-C stops it.", flush=True)
    stop = threading.Event()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        print("Reddit API simulator stopped.", flush=True)
