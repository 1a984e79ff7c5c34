"""A rate-limit quota kept in Redis, so every bulkscribe on every host spending one API key shares it.

The log is a sliding log on Redis's own clock: one sorted set per pool, scored by the microsecond
``TIME`` of Redis when the permit was granted, checked and written by one Lua script call, so no
client's clock takes part in the decision and two admissions can never miss each other. A 429 seen
by one process is written as a shared pause and a shared rate factor that every process reads on its
next call. A Redis that comes back empty (restarted without persistence) is noticed through a
generation marker, and nothing is admitted for one longest window, since the permits it forgot may
still be in the server's windows.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from engine.errors import QuotaUnavailable

# Scores are microseconds; Lua numbers are doubles, exact to 2**53 (285 years of microseconds).
# string.format('%.0f') keeps them whole: Lua's '..' on a float would print them rounded.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local log, all, pause, alive = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local member, seen_gen, new_gen = ARGV[1], ARGV[2], ARGV[3]
local longest = 0
for i = 4, #ARGV, 2 do
  local w = tonumber(ARGV[i + 1])
  if w > longest then longest = w end
end
local function fmt(x) return string.format('%.0f', x) end
-- A marker with no expiry tells a Redis that forgot everything from one that kept its log.
local gen = redis.call('HGET', alive, 'gen')
if not gen then
  gen = new_gen
  local hold = 0
  if seen_gen ~= '' then hold = now + longest end
  redis.call('HSET', alive, 'gen', gen, 'created', fmt(now), 'hold', fmt(hold))
elseif seen_gen ~= '' and seen_gen ~= gen then
  local created = tonumber(redis.call('HGET', alive, 'created'))
  local hold = tonumber(redis.call('HGET', alive, 'hold') or '0')
  if created + longest > hold then
    redis.call('HSET', alive, 'hold', fmt(created + longest))
  end
end
local hold = tonumber(redis.call('HGET', alive, 'hold') or '0')
local factor = tonumber(redis.call('HGET', alive, 'factor') or '1')
local guard = redis.call('HGET', alive, 'guard') or '0'
if hold > now then return {0, fmt(hold - now), gen, tostring(factor), 'restarted', fmt(now), guard} end
local paused = redis.call('PTTL', pause)
if paused > 0 then return {0, fmt(paused * 1000), gen, tostring(factor), 'paused', fmt(now), guard} end
redis.call('ZREMRANGEBYSCORE', log, '-inf', fmt(now - longest))
local wait = 0
for i = 4, #ARGV, 2 do
  local limit, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local since = '(' .. fmt(now - window)
  local count = redis.call('ZCOUNT', log, since, '+inf')
  if count >= limit then
    local oldest = redis.call('ZRANGEBYSCORE', log, since, '+inf', 'WITHSCORES', 'LIMIT', count - limit, 1)
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return {0, fmt(wait), gen, tostring(factor), 'full', fmt(now), guard} end
redis.call('ZADD', log, fmt(now), member)
redis.call('PEXPIRE', log, math.ceil(longest / 1000) + 1000)
redis.call('ZADD', all, fmt(now), member)
redis.call('ZREMRANGEBYSCORE', all, '-inf', fmt(now - 60000000))
redis.call('PEXPIRE', all, 61000)
return {1, '0', gen, tostring(factor), 'ok', fmt(now), guard}
"""

# Lengthen the shared pause (never shorten it), lower the shared factor and widen the shared guard
# (never the other way here: recovery is its own call).
_THROTTLE = """
local pause_ms, factor, guard = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local left = redis.call('PTTL', KEYS[1])
if pause_ms > 0 and pause_ms > left then redis.call('SET', KEYS[1], '1', 'PX', pause_ms) end
local current = tonumber(redis.call('HGET', KEYS[2], 'factor') or '1')
if factor < current then redis.call('HSET', KEYS[2], 'factor', tostring(factor)) end
local wide = tonumber(redis.call('HGET', KEYS[2], 'guard') or '0')
if guard > wide then redis.call('HSET', KEYS[2], 'guard', tostring(guard)) end
return tostring(math.min(current, factor))
"""

# A permit's request has left: count it from now on Redis's clock (only if it is still logged).
_SENT = """
local t = redis.call('TIME')
local now = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('ZADD', KEYS[1], 'XX', 'GT', now, ARGV[1])
redis.call('ZADD', KEYS[2], 'XX', 'GT', now, ARGV[1])
return 1
"""

# Requests granted by everyone within the last ARGV[1] microseconds (the log of all pools).
_COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
return redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%.0f', now - tonumber(ARGV[1])), '+inf')
"""

# Seconds a process counts as present after its last heartbeat.
PRESENCE_TTL = 15.0


@dataclass(frozen=True, slots=True)
class Decision:
    """One answer of the shared log: admitted, or how long to wait and why."""

    admitted: bool
    wait: float
    factor: float
    reason: str
    # Redis's clock when the script ran, in seconds: the time the permit counts from.
    at: float = 0.0
    # The guard (seconds) 429s taught any process; every process enforces the widest.
    guard: float = 0.0
    # The log entry of an admitted permit, for ``SharedQuota.sent``.
    member: str = ""


def quota_name(api_base: str, api_key: str | None) -> str:
    """The default quota: a hash of the API base and key, so the key itself is never stored."""
    digest = hashlib.sha256(f"{api_base.rstrip('/')}\0{api_key or ''}".encode()).hexdigest()
    return f"q{digest[:20]}"


class SharedQuota:
    """The Redis side of one service's limit: admissions, shared pauses and factors, presence."""

    def __init__(self, client: Any, name: str, *, prefix: str = "bulkscribe") -> None:
        self._client = client
        self.name = name
        self._base = f"{prefix}:quota:{name}"
        self._admit = client.register_script(_ADMIT)
        self._throttle = client.register_script(_THROTTLE)
        self._count = client.register_script(_COUNT)
        self._sent = client.register_script(_SENT)
        self._member = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._counter = 0
        self._gen = ""
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, url: str, name: str, *, timeout: float = 2.0) -> SharedQuota:
        """Open a client for ``url`` (nothing is sent until the first call)."""
        import redis

        from engine.errors import UsageError

        try:
            client = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
            )
        except ValueError as exc:
            raise UsageError(
                "cannot read the --redis address", hint="write redis://host:6379/0"
            ) from exc
        return cls(client, name)

    @property
    def process_id(self) -> str:
        return self._member

    def _key(self, *parts: str) -> str:
        return ":".join((self._base, *parts))

    def admit(self, pool: str, rules: list[tuple[int, float]]) -> Decision:
        """Try to take one permit from ``pool`` under every ``(limit, window seconds)`` rule."""
        with self._lock:
            self._counter += 1
            member = f"{self._member}:{self._counter}"
            seen = self._gen
        args: list[Any] = [member, seen, uuid.uuid4().hex]
        for limit, window in rules:
            args += [int(limit), int(round(window * 1_000_000))]
        keys = [self._key("log", pool), self._key("all"), self._key("pause"), self._key("alive")]
        reply = self._call(self._admit, keys, args)
        admitted, wait_us, gen, factor, reason, at_us, guard = reply
        with self._lock:
            self._gen = str(gen)
        return Decision(
            bool(int(admitted)),
            int(wait_us) / 1e6,
            float(factor),
            str(reason),
            int(at_us) / 1e6,
            float(guard),
            member if int(admitted) else "",
        )

    def sent(self, pool: str, member: str) -> None:
        """Move a permit's entry to the instant its request left, as the server will count it.

        A worker held up between the grant and the wire (descheduled on a loaded machine, in any
        process) would otherwise reach the server next to requests granted a window later.
        """
        self._call(self._sent, [self._key("log", pool), self._key("all")], [member])

    def throttle(self, pause: float, factor: float, guard: float = 0.0) -> float:
        """Share a 429: pause everyone for ``pause`` s, lower the rate to ``factor``, widen the guard."""
        keys = [self._key("pause"), self._key("alive")]
        args = [int(pause * 1000), repr(float(factor)), repr(float(guard))]
        return float(self._call(self._throttle, keys, args))

    def recent(self, seconds: float) -> int:
        """Permits every process was granted in the last ``seconds`` (up to 60) of Redis time."""
        return int(self._call(self._count, [self._key("all")], [int(seconds * 1_000_000)]))

    def narrow(self, guard: float) -> None:
        """Let the shared guard shrink back after a quiet period."""
        self._call_plain("hset", self._key("alive"), "guard", repr(max(0.0, float(guard))))

    def recover(self, factor: float) -> None:
        """Raise the shared factor back after a quiet period (one process does it for all)."""
        self._call_plain("hset", self._key("alive"), "factor", repr(min(1.0, float(factor))))

    def heartbeat(self) -> int:
        """Say this process is here; return how many other processes use the quota now."""
        key = self._key("members")
        now = time.time()
        pipe = self._client.pipeline()
        pipe.zadd(key, {self._member: now})
        pipe.zremrangebyscore(key, "-inf", now - PRESENCE_TTL)
        pipe.zcard(key)
        pipe.expire(key, int(PRESENCE_TTL * 4))
        try:
            _, _, count, _ = pipe.execute()
        except Exception as exc:
            raise _unavailable(exc) from exc
        return max(0, int(count) - 1)

    def leave(self) -> None:
        # Best effort: the entry expires by itself anyway.
        with contextlib.suppress(Exception):
            self._client.zrem(self._key("members"), self._member)

    def last_minute(self) -> int:
        """Permits granted by every process in the last 60 s of Redis time."""
        t = self._call_plain("time")
        now = int(t[0]) * 1_000_000 + int(t[1])
        return int(self._call_plain("zcount", self._key("all"), f"({now - 60_000_000}", "+inf"))

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except Exception as exc:
            raise _unavailable(exc) from exc

    def _call_plain(self, command: str, *args: Any) -> Any:
        try:
            return getattr(self._client, command)(*args)
        except Exception as exc:
            raise _unavailable(exc) from exc


def _unavailable(exc: BaseException) -> QuotaUnavailable:
    import redis

    if isinstance(exc, redis.exceptions.ResponseError):
        return QuotaUnavailable(f"the shared quota's Redis refused a command: {exc}")
    return QuotaUnavailable(f"cannot reach the shared quota's Redis ({type(exc).__name__})")


class SharedState:
    """A limiter's view of its shared quota: offline back-off, presence heartbeat, cached totals.

    Redis being unreachable is never an item's failure: ``admit`` answers None and the limiter waits
    ``retry_in()`` (growing to a few seconds) before asking again, so the batch pauses by itself and
    carries on when Redis answers. A call that timed out may have been admitted: its permit is lost,
    never sent, which errs on the safe side.
    """

    HEARTBEAT = 5.0

    def __init__(self, quota: SharedQuota) -> None:
        self.quota = quota
        self._lock = threading.Lock()
        self._note = ""
        self._backoff = 0.0
        self._factor = 1.0
        self._peers: int | None = None
        self._total: int | None = None
        self._beat: threading.Thread | None = None
        self._stop = threading.Event()

    def admit(self, pool: str, rules: list[tuple[int, float]], factor: float) -> Decision | None:
        self._ensure_heartbeat()
        try:
            if factor > self._factor + 1e-9:
                self.quota.recover(factor)
            decision = self.quota.admit(pool, rules)
        except QuotaUnavailable as exc:
            self._offline(exc)
            return None
        with self._lock:
            self._backoff = 0.0
            self._factor = decision.factor
            self._note = (
                "shared quota restarted empty: waiting one window"
                if decision.reason == "restarted"
                else ""
            )
        return decision

    def sent(self, pool: str, member: str) -> None:
        try:
            self.quota.sent(pool, member)
        except QuotaUnavailable as exc:
            # The permit stays counted from its grant: a little early, never an extra request.
            self._offline(exc)

    def throttle(self, pause: float, factor: float, guard: float = 0.0) -> None:
        try:
            shared = self.quota.throttle(pause, factor, guard)
        except QuotaUnavailable as exc:
            self._offline(exc)
            return
        with self._lock:
            self._factor = shared

    def recent(self, rules: Any, cap: Any) -> list[int] | None:
        """Everyone's permits over each rule's window plus two widest guards; None if unreachable.

        The log of all pools keeps one minute, so a longer window is counted over its last minute.
        """
        try:
            return [self.quota.recent(min(60.0, r.interval + 2 * cap(r))) for r in rules]
        except QuotaUnavailable as exc:
            self._offline(exc)
            return None

    @property
    def state(self) -> str:
        """A short phrase for the head of the engine line, or "" when the quota answers normally."""
        with self._lock:
            if self._note.startswith("shared quota offline"):
                return "quota offline"
            return "quota restarted" if self._note else ""

    def retry_in(self) -> float:
        with self._lock:
            return self._backoff

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "shared_with": self._peers,
                "quota_last_minute": self._total,
                "quota_note": self._note,
            }

    def close(self) -> None:
        self._stop.set()
        self.quota.leave()

    def _offline(self, exc: QuotaUnavailable) -> None:
        with self._lock:
            self._backoff = min(5.0, max(0.25, self._backoff * 2))
            self._note = f"shared quota offline: {exc.message}; waiting"

    def _ensure_heartbeat(self) -> None:
        with self._lock:
            if self._beat is not None:
                return
            self._beat = threading.Thread(
                target=self._heartbeat, name="quota-heartbeat", daemon=True
            )
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.is_set():
            try:
                peers = self.quota.heartbeat()
                total = self.quota.last_minute()
            except QuotaUnavailable as exc:
                self._offline(exc)
            else:
                with self._lock:
                    self._peers, self._total = peers, total
            self._stop.wait(self.HEARTBEAT)
