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
from typing import Any, NamedTuple

from engine.errors import QuotaUnavailable
from engine.limits.shared_script import ADMIT, COUNT, NARROW, OFFLINE, RECOVER, SENT, THROTTLE

# Seconds a process counts as present after its last heartbeat.
PRESENCE_TTL = 15.0


class Counts(NamedTuple):
    """How many times 429s widened the shared guard and cut the shared factor.

    Counted within one generation of the quota: a Redis that forgot everything starts a new one.
    """

    gen: str
    widenings: int
    cuts: int


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
    # What 429s taught is news to a process only when these counts moved since it last looked.
    counts: Counts = Counts("", 0, 0)


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
        self._admit = client.register_script(ADMIT)
        self._throttle = client.register_script(THROTTLE)
        self._count = client.register_script(COUNT)
        self._sent = client.register_script(SENT)
        self._narrow = client.register_script(NARROW)
        self._recover = client.register_script(RECOVER)
        self._offline = client.register_script(OFFLINE)
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
        reply = self._call(self._admit, [*keys, self._key("offline")], args)
        admitted, wait_us, gen, factor, reason, at_us, guard, widenings, cuts = reply
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
            Counts(str(gen), int(widenings), int(cuts)),
        )

    def sent(self, pool: str, member: str) -> None:
        """Move a permit's entry to the instant its request left, as the server will count it.

        A worker held up between the grant and the wire (descheduled on a loaded machine, in any
        process) would otherwise reach the server next to requests granted a window later.
        """
        self._call(self._sent, [self._key("log", pool), self._key("all")], [member])

    def throttle(self, pause: float, factor: float, guard: float = 0.0) -> float:
        """Share a 429: pause everyone for ``pause`` s, lower the rate to ``factor``, widen the guard."""
        return self.share_throttle(pause, factor, guard)[0]

    def share_throttle(self, pause: float, factor: float, guard: float) -> tuple[float, Counts]:
        """``throttle``, also giving the counts this call moved (0 for a count it left alone)."""
        keys = [self._key("pause"), self._key("alive")]
        args = [int(pause * 1000), repr(float(factor)), repr(float(guard))]
        shared, widened, cut = self._call(self._throttle, keys, args)
        with self._lock:
            gen = self._gen
        return float(shared), Counts(gen, int(widened), int(cut))

    def recent(self, seconds: float) -> int:
        """Permits every process was granted in the last ``seconds`` (up to 60) of Redis time."""
        return int(self._call(self._count, [self._key("all")], [int(seconds * 1_000_000)]))

    def narrow(self, guard: float, widenings: int) -> bool:
        """Let the shared guard shrink back after a quiet period; True when it did.

        Left as it is when a 429 widened it since the caller saw ``widenings`` of them.
        """
        args = [repr(max(0.0, float(guard))), str(int(widenings))]
        return bool(int(self._call(self._narrow, [self._key("alive")], args)))

    def offline(self, seconds: float) -> None:
        """The service is unreachable: everyone holds off for ``seconds`` (never shortened here)."""
        self._call(self._offline, [self._key("offline")], [int(seconds * 1000)])

    def online(self) -> None:
        """The service answers again: nobody need hold off for it any longer."""
        self._call_plain("delete", self._key("offline"))

    def recover(self, factor: float, cuts: int | None = None) -> bool:
        """Raise the shared factor back after a quiet period, so a process that joins starts there.

        Left as it is when a 429 cut it since the caller saw ``cuts`` of them; True when it rose.
        """
        args = [repr(min(1.0, float(factor))), "" if cuts is None else str(int(cuts))]
        return bool(int(self._call(self._recover, [self._key("alive")], args)))

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
