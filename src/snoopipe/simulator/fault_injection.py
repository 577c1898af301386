"""Fault injection for the simulator: what can go wrong, deterministically.

A :class:`FaultPlan` says which faults to inject; the server keeps one
:class:`FaultInjector` per plan, which draws from its own seeded RNG (never the
global one), so a given sequence of requests meets the same faults every time.
Faults apply only to OAuth data endpoints, never to the token endpoint or the
``/_sim/*`` admin endpoints.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

FAULT_TYPES = ("burst_429", "error_5xx", "slow", "malformed", "expired_tokens", "future_timestamps",
               "hidden_anchor", "dead_end", "tree_error", "zero_reset", "info_missing",
               "approved_late")


@dataclass
class FaultPlan:
    """Faults to inject; everything is off by default.

    - ``burst_429``: the next N OAuth requests get 429 (with rate-limit headers).
    - ``error_5xx_rate`` / ``burst_5xx``: 500 (JSON body) or 502/503 (HTML body).
    - ``slow_rate`` / ``slow_seconds``: sleep (real time) before responding.
    - ``malformed_rate`` / ``burst_malformed``: status 200 with a truncated JSON body
      or an HTML page served as ``text/html``.
    - ``expire_tokens_after``: after N OAuth requests, every token issued so far
      becomes invalid (401) -- once.
    - ``future_timestamps``: posts are served with ``created``/``created_utc`` in 2100.
    - ``seed``: seed of the injector's RNG (rates and the choice of 5xx code/malformed kind).
    - ``codes_5xx``: the status codes ``error_5xx`` picks from.

    Data-loss traps that people reported against the real API (issue 17):

    - ``hide_listing_anchors``: the last post of each of the first N ``/new`` pages is
      hidden (removed) right after it was served: ``after=`` that post answers an empty
      listing, and listings leave it out.
    - ``listing_dead_end_after``: once N ``/new`` pages were served, every ``/new`` page
      asked with ``after=`` answers an empty listing (nothing can close the gap).
    - ``comments_limit_cap``: ``/comments/{id}`` serves at most N comments whatever
      ``limit`` asks, leaving the rest in ``more`` objects (for ``/api/morechildren``).
    - ``comments_status``: post id -> HTTP status of ``/comments/{id}`` (404, or 302 with a
      ``Location``, as Reddit answers for some removed posts).
    - ``morechildren_status``: post id -> HTTP status of ``/api/morechildren`` for that
      post (413, or a persistent 500).
    - ``zero_reset_after`` / ``zero_reset_seconds``: after N OAuth requests one response
      says ``remaining: 0.0, reset: 0``; for the next ``zero_reset_seconds`` (real time,
      as a client's wait is) every request gets a 429 with an empty body and no
      ``Retry-After``.
    - ``burst_5xx_after``: ``burst_5xx`` starts after this many OAuth requests (an outage
      in the middle of a run).
    - ``info_missing``: post ids that ``/api/info`` leaves out of its answers.
    - ``approved_late``: post id -> seconds after its creation during which ``/new``
      leaves it out (held for a moderator, approved late).
    """

    burst_429: int = 0
    error_5xx_rate: float = 0.0
    burst_5xx: int = 0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    malformed_rate: float = 0.0
    burst_malformed: int = 0
    expire_tokens_after: int | None = None
    future_timestamps: bool = False
    seed: int = 0
    codes_5xx: tuple[int, ...] = field(default=(500, 502, 503))
    hide_listing_anchors: int = 0
    listing_dead_end_after: int | None = None
    comments_limit_cap: int | None = None
    comments_status: dict[str, int] = field(default_factory=dict)
    morechildren_status: dict[str, int] = field(default_factory=dict)
    zero_reset_after: int | None = None
    zero_reset_seconds: float = 1.0
    burst_5xx_after: int = 0
    info_missing: tuple[str, ...] = ()
    approved_late: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("hide_listing_anchors", "burst_5xx_after"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0")
            setattr(self, name, int(getattr(self, name)))
        for name in ("listing_dead_end_after", "comments_limit_cap", "zero_reset_after"):
            value = getattr(self, name)
            if value is not None and int(value) < 0:
                raise ValueError(f"{name} must be >= 0 or None")
        for name in ("comments_status", "morechildren_status"):
            statuses = {str(k): int(v) for k, v in dict(getattr(self, name)).items()}
            if any(not 300 <= v <= 599 for v in statuses.values()):
                raise ValueError(f"{name} values must be HTTP statuses 300-599")
            setattr(self, name, statuses)
        if self.zero_reset_seconds < 0:
            raise ValueError("zero_reset_seconds must be >= 0")
        self.info_missing = tuple(str(i).removeprefix("t3_") for i in self.info_missing)
        self.approved_late = {str(k).removeprefix("t3_"): float(v)
                              for k, v in dict(self.approved_late).items()}
        for name in ("burst_429", "burst_5xx", "burst_malformed"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0")
            setattr(self, name, int(getattr(self, name)))
        for name in ("error_5xx_rate", "slow_rate", "malformed_rate"):
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
            setattr(self, name, value)
        if self.slow_seconds < 0:
            raise ValueError("slow_seconds must be >= 0")
        if self.expire_tokens_after is not None and int(self.expire_tokens_after) < 0:
            raise ValueError("expire_tokens_after must be >= 0 or None")
        self.codes_5xx = tuple(int(c) for c in self.codes_5xx)
        if not self.codes_5xx or any(not 500 <= c <= 599 for c in self.codes_5xx):
            raise ValueError("codes_5xx must be a non-empty list of 5xx codes")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultPlan:
        """Build a plan from JSON-like data; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown FaultPlan fields: {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["codes_5xx"] = list(self.codes_5xx)
        d["info_missing"] = list(self.info_missing)
        return d


@dataclass
class FaultDecision:
    """What the injector decided for one OAuth request."""

    status_429: bool = False
    slow_seconds: float = 0.0
    status_5xx: int | None = None
    malformed: str | None = None  # "truncated" | "html"
    future_timestamps: bool = False


class FaultInjector:
    """Stateful, thread-safe application of a :class:`FaultPlan`."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._rng = random.Random(plan.seed)
        self._lock = threading.Lock()
        self._burst_429 = plan.burst_429
        self._burst_5xx = plan.burst_5xx
        self._burst_malformed = plan.burst_malformed
        self._oauth_requests = 0
        self._expired_fired = False
        self._new_pages = 0
        self._decided = 0
        self._anchors_left = plan.hide_listing_anchors
        self.hidden: set[str] = set()  # fullnames hidden by hide_listing_anchors
        self._zero_reset_requests = 0
        self._zero_reset_until: float | None = None

    def count_request_and_check_expiry(self) -> bool:
        """Count one OAuth request; True when this request triggers the token expiry."""
        with self._lock:
            self._oauth_requests += 1
            n = self.plan.expire_tokens_after
            if n is not None and not self._expired_fired and self._oauth_requests > n:
                self._expired_fired = True
                return True
            return False

    def take_burst_429(self) -> bool:
        with self._lock:
            if self._burst_429 > 0:
                self._burst_429 -= 1
                return True
            return False

    def decide(self) -> FaultDecision:
        """Decide slow / 5xx / malformed for a request that passed auth and rate limits.

        The RNG is drawn the same number of times for every request, so the faults a
        request meets depend only on its position in the request sequence.
        """
        p = self.plan
        with self._lock:
            r_slow, r_5xx, r_bad = self._rng.random(), self._rng.random(), self._rng.random()
            code = p.codes_5xx[self._rng.randrange(len(p.codes_5xx))]
            bad_kind = "truncated" if self._rng.random() < 0.5 else "html"
            d = FaultDecision(future_timestamps=p.future_timestamps)
            if p.slow_seconds > 0 and r_slow < p.slow_rate:
                d.slow_seconds = p.slow_seconds
            self._decided += 1
            if self._burst_5xx > 0 and self._decided > p.burst_5xx_after:
                self._burst_5xx -= 1
                d.status_5xx = code
            elif r_5xx < p.error_5xx_rate:
                d.status_5xx = code
            if d.status_5xx is None:
                if self._burst_malformed > 0:
                    self._burst_malformed -= 1
                    d.malformed = bad_kind
                elif r_bad < p.malformed_rate:
                    d.malformed = bad_kind
            return d

    # -- issue 17's traps ----------------------------------------------------------------

    def new_page(self, after: str | None) -> tuple[bool, bool]:
        """Count one ``/new`` page; (answer it empty as a dead end, hide its last post)."""
        with self._lock:
            dead_end = (after is not None and self.plan.listing_dead_end_after is not None
                        and self._new_pages >= self.plan.listing_dead_end_after)
            self._new_pages += 1
            hide = False
            if not dead_end and self._anchors_left > 0:
                self._anchors_left -= 1
                hide = True
            return dead_end, hide

    def hide(self, fullname: str) -> None:
        with self._lock:
            self.hidden.add(fullname)

    def is_hidden(self, fullname: str) -> bool:
        with self._lock:
            return fullname in self.hidden

    def zero_reset(self, now: float | None = None) -> str | None:
        """"exhaust" for the response that reports ``remaining 0, reset 0``, "refuse" for a
        request in the following window (429), else None."""
        n = self.plan.zero_reset_after
        if n is None:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            if self._zero_reset_until is not None:
                return "refuse" if now < self._zero_reset_until else None
            self._zero_reset_requests += 1
            if self._zero_reset_requests > n:
                self._zero_reset_until = now + self.plan.zero_reset_seconds
                return "exhaust"
            return None
