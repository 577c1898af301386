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
from dataclasses import asdict, dataclass, field, fields
from typing import Any

FAULT_TYPES = ("burst_429", "error_5xx", "slow", "malformed", "expired_tokens", "future_timestamps")


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

    def __post_init__(self) -> None:
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
            if self._burst_5xx > 0:
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
