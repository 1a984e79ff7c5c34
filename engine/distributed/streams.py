"""The Redis side of a distributed batch: publish once, claim, heartbeat, give back, finish once.

Each step that must not be split (check then claim, accept then acknowledge) is one Lua script, so
no other process can act between its halves.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.distributed.wire import COORDINATOR_GROUP, GROUP, Keys

# Publish an item unless this session already did (a resume must not queue it a second time).
_PUBLISH = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local id = redis.call('XADD', KEYS[1], '*', 'item', ARGV[2], 'host', ARGV[3], 'size', ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], id)
return 1
"""

# Keep only the entries this consumer still owns: XPENDING says who owns it; XCLAIM ... JUSTID
# resets its idle time so XAUTOCLAIM elsewhere leaves it alone. Returns 1/0 per entry.
_HEARTBEAT = """
local group, me = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], group, ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == me then
    redis.call('XCLAIM', KEYS[1], group, me, 0, ARGV[i], 'JUSTID')
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
"""

# Accept a terminal outcome once: HSETNX on the done hash decides; the winner's result goes on the
# events stream; the entry is acknowledged either way, so a late duplicate is simply dropped.
_FINISH = """
local won = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if won == 1 then
  local eid = redis.call('XADD', KEYS[2], '*', 'kind', ARGV[4], 'item', ARGV[1],
                         'by', ARGV[2], 'data', ARGV[5])
  redis.call('HSET', KEYS[1], ARGV[1], eid)
end
redis.call('XACK', KEYS[3], ARGV[6], ARGV[3])
return won
"""

# Drop the events up to ARGV[2] (the coordinator applied and committed them), but never one still
# pending in its group (delivered, not acknowledged): MINID is the smaller of the two bounds.
_TRIM = """
local ms, seq = string.match(ARGV[2], '^(%d+)-(%d+)$')
local minid = ms .. '-' .. (tonumber(seq) + 1)
local p = redis.call('XPENDING', KEYS[1], ARGV[1])
if p[2] then
  local pms, pseq = string.match(p[2], '^(%d+)-(%d+)$')
  if tonumber(pms) < tonumber(ms) or (pms == ms and tonumber(pseq) <= tonumber(seq)) then
    minid = p[2]
  end
end
return redis.call('XTRIM', KEYS[1], 'MINID', minid)
"""


class Streams:
    """One session's streams through one redis-py client (thread-safe: it keeps a pool)."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._publish = client.register_script(_PUBLISH)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._finish = client.register_script(_FINISH)
        self._trim = client.register_script(_TRIM)

    def ensure_groups(self) -> None:
        from redis.exceptions import ResponseError

        for stream, group in (
            (self.keys.items, GROUP),
            (self.keys.local, GROUP),
            (self.keys.events, COORDINATOR_GROUP),
        ):
            try:
                # From the start of the stream: a group made after publishing still sees it all.
                self.client.xgroup_create(stream, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    # -- the coordinator ----------------------------------------------------------------------

    def publish(self, item_id: int, fields: Mapping[str, str]) -> bool:
        args = [str(item_id), fields["item"], fields["host"], fields["size"]]
        return bool(self._publish(keys=[self.keys.items, self.keys.published], args=args))

    def forget(self, item_id: int) -> None:
        """A retried item may be published and finished again."""
        self.client.hdel(self.keys.published, str(item_id))
        self.client.hdel(self.keys.done, str(item_id))

    def accepted(self) -> dict[int, str]:
        """Item id -> the events entry of its accepted outcome."""
        raw = self.client.hgetall(self.keys.done)
        return {int(k): _text(v) for k, v in raw.items()}

    def event(self, entry_id: str) -> dict[str, str] | None:
        found = self.client.xrange(self.keys.events, min=entry_id, max=entry_id, count=1)
        return _fields(found[0][1]) if found else None

    def read_events(self, consumer: str, *, pending: bool, block_ms: int, count: int = 100) -> list:
        start = "0" if pending else ">"
        reply = self.client.xreadgroup(
            COORDINATOR_GROUP,
            consumer,
            {self.keys.events: start},
            count=count,
            block=None if pending else block_ms,
        )
        return [(_text(eid), _fields(f)) for _, entries in reply or () for eid, f in entries]

    def ack_event(self, entry_id: str) -> None:
        self.client.xack(self.keys.events, COORDINATOR_GROUP, entry_id)

    def trim_events(self, upto: str) -> int:
        """Remove the events up to ``upto`` that the coordinator acknowledged; how many went."""
        return int(self._trim(keys=[self.keys.events], args=[COORDINATOR_GROUP, upto]))

    def control(self, verb: str, **data: Any) -> None:
        self.client.xadd(self.keys.control, {"verb": verb, "data": json.dumps(data)})

    # -- workers ------------------------------------------------------------------------------

    def read_items(self, consumer: str, streams: Sequence[str], count: int, block_ms: int) -> list:
        reply = self.client.xreadgroup(
            GROUP, consumer, {s: ">" for s in streams}, count=count, block=block_ms
        )
        return [
            (_text(stream), _text(eid), _fields(f))
            for stream, entries in reply or ()
            for eid, f in entries
            if f  # an entry deleted since delivery has no fields
        ]

    def reclaim(self, consumer: str, stream: str, idle_ms: int, count: int) -> list:
        """Entries idle past ``idle_ms`` (their worker stopped heartbeating) become ours."""
        reply = self.client.xautoclaim(
            stream, GROUP, consumer, min_idle_time=idle_ms, start_id="0-0", count=count
        )
        entries = reply[1] if reply else []
        return [(stream, _text(eid), _fields(f)) for eid, f in entries if f]

    def heartbeat(self, consumer: str, stream: str, entry_ids: Sequence[str]) -> list[bool]:
        if not entry_ids:
            return []
        out = self._heartbeat(keys=[stream], args=[GROUP, consumer, *entry_ids])
        return [bool(x) for x in out]

    def settled(self, item_id: int) -> bool:
        """An outcome was accepted already (done elsewhere, or cancelled before anyone took it)."""
        return bool(self.client.hexists(self.keys.done, str(item_id)))

    def ack(self, stream: str, entry_id: str) -> None:
        self.client.xack(stream, GROUP, entry_id)

    def give_back(self, stream: str, entry_id: str, fields: Mapping[str, str], to: str) -> None:
        """Requeue an entry (a clean stop, or a file this host cannot read) for someone else."""
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(to, dict(fields))
        pipe.xack(stream, GROUP, entry_id)
        pipe.execute()

    def send(self, consumer: str, kind: str, item_id: int, data: Mapping[str, Any]) -> None:
        self.client.xadd(
            self.keys.events,
            {"kind": kind, "item": str(item_id), "by": consumer, "data": json.dumps(data)},
        )

    def finish(
        self, consumer: str, stream: str, entry_id: str, item_id: int, kind: str, data: str
    ) -> bool:
        """Offer a terminal outcome; False when another worker's was accepted first (dropped)."""
        keys = [self.keys.done, self.keys.events, stream]
        args = [str(item_id), consumer, entry_id, kind, data, GROUP]
        return bool(self._finish(keys=keys, args=args))

    def beat(self, consumer: str, info: Mapping[str, Any]) -> None:
        self.client.hset(self.keys.workers, consumer, json.dumps(info))

    def leave(self, consumer: str) -> None:
        self.client.hdel(self.keys.workers, consumer)

    def last_verb(self, verbs: Sequence[str]) -> str | None:
        """The latest of ``verbs`` said to every host (none named), or None."""
        for _, f in self.client.xrevrange(self.keys.control, count=1000):
            verb = _text(f.get("verb", ""))
            if verb in verbs and json.loads(f.get("data") or "{}").get("host") is None:
                return verb
        return None

    def read_control(self, last: str, block_ms: int) -> list[tuple[str, str, dict[str, Any]]]:
        reply = self.client.xread({self.keys.control: last}, count=50, block=block_ms)
        out = []
        for _, entries in reply or ():
            for eid, f in entries:
                fields = _fields(f)
                out.append(
                    (_text(eid), fields.get("verb", ""), json.loads(fields.get("data", "{}")))
                )
        return out


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fields(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def guarded(stop: threading.Event, loop: Callable[[], None]) -> None:
    """Run a loop; Redis gone for a while pauses it (nothing taken, nothing lost), then on."""
    from redis.exceptions import RedisError

    while not stop.is_set():
        try:
            loop()
            return
        except RedisError:
            stop.wait(1.0)


def connect(url: str, *, timeout: float = 10.0) -> Any:
    """A client for ``url`` that answers (its reads block for at most a second, well inside
    ``timeout``); a bad address or an unreachable server is a UsageError a person can act on."""
    import redis

    from engine.errors import UsageError
    from engine.settings import _without_password

    try:
        client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )
        client.ping()
    except ValueError as exc:
        raise UsageError(
            "cannot read the --redis address", hint="write redis://host:6379/0"
        ) from exc
    except redis.RedisError as exc:
        raise UsageError(
            f"cannot reach Redis at {_without_password(url)} ({type(exc).__name__})",
            hint="start redis-server there, or check the address and password",
        ) from exc
    return client
