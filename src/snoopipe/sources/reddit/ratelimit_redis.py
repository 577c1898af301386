"""A rate budget in Redis, shared by every worker (thread, process, machine) of one OAuth client.

Same contract as `InProcessBudget`: `acquire()` before a request, then exactly one of
`update()` (the response's `X-Ratelimit-*` headers), `exhausted_for()` (a 429) or
`release()` (no headers). Every state change is one Lua script, so it is atomic in
Redis, and all times come from Redis' own clock (`TIME`), so workers on machines with
skewed clocks agree.

State of one client, in the hash `snoopipe:ratelimit:{client}`:

- `limit`: requests per window (`used + remaining` of the newest header);
- `used`: the highest `X-Ratelimit-Used` seen in the current window (the server's
  count only grows within a window, so the maximum is the best lower bound even when
  responses arrive out of order);
- `window_end` (ms): when the current window resets, from `X-Ratelimit-Reset`, plus a
  safety margin because Reddit rounds that header to whole seconds;
- `blocked_until` (ms): after a 429 nobody sends before this;

and the sorted set `snoopipe:ratelimit:{client}:inflight` of requests sent but not
answered yet: one lease per request (member: a random token, score: expiry). A
request may start when `limit - used - in_flight - reserve >= 1`. Counting requests in
flight as spent is what makes N workers together stay within the budget: the server
may or may not have counted them yet. Leases expire (a worker killed mid-request
does not hold a unit forever). When the window is unknown (first request, or the
window has ended), one probe request at a time is sent to learn the new budget from
its headers.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from snoopipe.sources.reddit.ratelimit import RateBudget

KEY_PREFIX = "snoopipe:ratelimit:"

_HELPERS = """
local function num(v) if v then return tonumber(v) end return nil end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

# KEYS: hash, inflight zset. ARGV: token, lease_ms, reserve, probes.
# Returns 0 when the request may be sent (lease taken), else milliseconds to wait.
_ACQUIRE = _HELPERS + """
local h, z = KEYS[1], KEYS[2]
local token, lease_ms = ARGV[1], tonumber(ARGV[2])
local reserve, probes = tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
local blocked = num(redis.call('HGET', h, 'blocked_until')) or 0
if now < blocked then return blocked - now end
local inflight = redis.call('ZCARD', z)
local limit = num(redis.call('HGET', h, 'limit'))
local used = num(redis.call('HGET', h, 'used'))
local wend = num(redis.call('HGET', h, 'window_end'))
if limit == nil or used == nil or wend == nil or now >= wend then
  -- budget of this window unknown: one probe at a time learns it from the headers
  if inflight >= probes then return 50 end
else
  if limit - used - inflight - reserve < 1 then
    -- requests in flight may still end without counting (network error): look again soon
    if inflight > 0 then return 100 end
    return math.max(wend - now, 50)
  end
end
redis.call('ZADD', z, now + lease_ms, token)
redis.call('PEXPIRE', z, lease_ms * 2)
return 0
"""

# KEYS: hash, inflight zset. ARGV: token, remaining, used, reset_seconds, tolerance_ms,
# margin_ms, ttl_ms. Returns 1 if the headers were taken, 0 if they were stale.
_UPDATE = _HELPERS + """
local h, z = KEYS[1], KEYS[2]
local token = ARGV[1]
local remaining, used, reset_s = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tol, margin, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
if token ~= '' then redis.call('ZREM', z, token) end
local now = now_ms()
local resp_end = now + math.floor(reset_s * 1000) + margin
local limit = used + remaining
local wend = num(redis.call('HGET', h, 'window_end'))
local taken = 1
if wend == nil or resp_end > wend + tol then
  -- a newer window: its count starts from this response
  redis.call('HSET', h, 'limit', limit, 'used', used, 'window_end', resp_end)
elseif resp_end >= wend - tol then
  -- the same window: the server's count only grows
  local cur = num(redis.call('HGET', h, 'used')) or 0
  if used > cur then redis.call('HSET', h, 'used', used) end
  redis.call('HSET', h, 'limit', limit)
  if resp_end > wend then redis.call('HSET', h, 'window_end', resp_end) end
else
  taken = 0  -- a late response from an older window
end
redis.call('PEXPIRE', h, ttl)
return taken
"""

# KEYS: hash, inflight zset. ARGV: token, block_ms, ttl_ms.
_EXHAUSTED = _HELPERS + """
local h, z = KEYS[1], KEYS[2]
if ARGV[1] ~= '' then redis.call('ZREM', z, ARGV[1]) end
local untl = now_ms() + tonumber(ARGV[2])
local blocked = num(redis.call('HGET', h, 'blocked_until')) or 0
if untl > blocked then redis.call('HSET', h, 'blocked_until', untl) end
redis.call('PEXPIRE', h, tonumber(ARGV[3]))
return 1
"""

_RELEASE = """
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[2], ARGV[1]) end
return 1
"""


class RedisBudget(RateBudget):
    """The rate budget of one OAuth client, kept in Redis (see the module docstring).

    One instance may be shared by the threads of a process: each thread's request
    lease is remembered thread-locally between `acquire()` and the call that ends it.
    """

    def __init__(self, client: Any, client_key: str, *, reserve: int = 0, probes: int = 1,
                 lease_seconds: float = 120.0, window_tolerance_seconds: float = 2.0,
                 reset_margin_seconds: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._redis = client
        self.client_key = client_key
        self._keys = [f"{KEY_PREFIX}{client_key}", f"{KEY_PREFIX}{client_key}:inflight"]
        self._reserve = reserve
        self._probes = probes
        self._lease_ms = int(lease_seconds * 1000)
        self._tolerance_ms = int(window_tolerance_seconds * 1000)
        self._margin_ms = int(reset_margin_seconds * 1000)
        self._ttl_ms = 24 * 3600 * 1000
        self._sleep = sleep
        self._local = threading.local()
        self._acquire = client.register_script(_ACQUIRE)
        self._update = client.register_script(_UPDATE)
        self._exhausted = client.register_script(_EXHAUSTED)
        self._release = client.register_script(_RELEASE)
        self.waited_seconds = 0.0

    @classmethod
    def from_url(cls, url: str, client_key: str, **kwargs: Any) -> RedisBudget:
        return cls(_redis_client(url), client_key, **kwargs)

    # -- leases of this thread ----------------------------------------------------------

    def _push(self, token: str) -> None:
        stack = getattr(self._local, "tokens", None)
        if stack is None:
            stack = self._local.tokens = []
        stack.append(token)

    def _pop(self) -> str:
        stack = getattr(self._local, "tokens", None)
        return stack.pop() if stack else ""

    # -- RateBudget -----------------------------------------------------------------------

    def acquire(self) -> None:
        token = secrets.token_hex(8)
        while True:
            wait_ms = int(self._acquire(keys=self._keys, args=[
                token, self._lease_ms, self._reserve, self._probes]))
            if wait_ms <= 0:
                self._push(token)
                return
            wait = wait_ms / 1000
            self.waited_seconds += min(wait, 5.0)
            self._sleep(min(wait, 5.0))

    def update(self, remaining: float, used: int, reset_seconds: float) -> None:
        self._update(keys=self._keys, args=[
            self._pop(), float(remaining), int(used), float(reset_seconds), self._tolerance_ms,
            self._margin_ms, self._ttl_ms])

    def exhausted_for(self, seconds: float) -> None:
        self._exhausted(keys=self._keys, args=[self._pop(), int(max(seconds, 0) * 1000),
                                               self._ttl_ms])

    def release(self) -> None:
        self._release(keys=self._keys, args=[self._pop()])

    # -- inspection -------------------------------------------------------------------

    def snapshot(self) -> dict[str, float | int | None]:
        """The shared state as Redis holds it now (for status output and tests)."""
        raw = self._redis.hgetall(self._keys[0])
        values = {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in raw.items()}
        return {
            "limit": values.get("limit"),
            "used": values.get("used"),
            "window_end_ms": values.get("window_end"),
            "blocked_until_ms": values.get("blocked_until"),
            "in_flight": int(self._redis.zcard(self._keys[1])),
        }

    def reset(self) -> None:
        """Forget everything about this client (tests, or after changing the app's limits)."""
        self._redis.delete(*self._keys)


_CLIENTS: dict[str, Any] = {}
_BUDGETS: dict[tuple[str, str], RedisBudget] = {}
_LOCK = threading.Lock()


def _redis_client(url: str) -> Any:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        from snoopipe.errors import ConfigError

        raise ConfigError("redis_url is set but the redis package is missing: "
                          "pip install 'snoopipe[airflow]' (or redis)") from exc
    with _LOCK:
        if url not in _CLIENTS:
            _CLIENTS[url] = redis.Redis.from_url(
                url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30,
                retry_on_timeout=True)
        return _CLIENTS[url]


def redis_budget(url: str, client_key: str, **kwargs: Any) -> RedisBudget:
    """The process-wide RedisBudget of one OAuth client on one Redis (kwargs: RedisBudget's
    options, used when this process creates it)."""
    client = _redis_client(url)
    with _LOCK:
        key = (url, client_key)
        if key not in _BUDGETS:
            _BUDGETS[key] = RedisBudget(client, client_key, **kwargs)
        return _BUDGETS[key]
