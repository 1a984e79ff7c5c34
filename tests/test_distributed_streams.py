"""The Redis steps of a distributed batch, one by one, on a real redis-server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.distributed.streams import Streams, connect
from engine.distributed.wire import GROUP, Keys, Result, item_fields, item_from_fields, path_mapped
from engine.items import Item
from engine.segments import Segment, Word
from tests.servers.redis_server import RedisServer, redis_binary

pytestmark = pytest.mark.skipif(redis_binary() is None, reason="redis-server is not installed")


@pytest.fixture
def streams(tmp_path: Path) -> Iterator[Streams]:
    with RedisServer(tmp_path / "redis") as server:
        s = Streams(connect(server.url), Keys("s1"))
        s.ensure_groups()
        yield s


def _publish(streams: Streams, item_id: int) -> None:
    streams.publish(
        item_id, item_fields(Item(item_id, source=f"https://x/{item_id}", kind="url"), "a")
    )


def test_an_item_is_published_once_even_when_asked_twice(streams: Streams) -> None:
    _publish(streams, 0)
    assert not streams.publish(0, item_fields(Item(0, source="again", kind="url"), "a"))
    assert streams.client.xlen(streams.keys.items) == 1
    streams.ensure_groups()  # a second coordinator start keeps the group and its position
    assert len(streams.read_items("w1", [streams.keys.items], 10, 1)) == 1


def test_each_entry_goes_to_one_consumer(streams: Streams) -> None:
    for i in range(5):
        _publish(streams, i)
    first = streams.read_items("w1", [streams.keys.items], 3, 1)
    second = streams.read_items("w2", [streams.keys.items], 10, 1)
    ids = [json.loads(f["item"])["id"] for _, _, f in first + second]
    assert sorted(ids) == [0, 1, 2, 3, 4]
    assert len(first) == 3 and len(second) == 2


def test_a_heartbeat_keeps_an_item_and_reports_one_taken_by_another(streams: Streams) -> None:
    _publish(streams, 0)
    _publish(streams, 1)
    (s, e0, _), (_, e1, _) = streams.read_items("w1", [streams.keys.items], 2, 1)
    time.sleep(0.3)  # let both entries age; idle time only ever grows until a claim
    before = {p["message_id"]: p["time_since_delivered"] for p in _pending(streams)}
    # Another worker takes entry 1 as if w1 were dead.
    streams.client.xclaim(s, GROUP, "w2", 0, [e1], justid=True)
    assert streams.heartbeat("w1", s, [e0, e1]) == [True, False]
    after = {p["message_id"]: p for p in _pending(streams)}
    assert after[e0]["consumer"] == "w1"
    assert after[e0]["time_since_delivered"] < before[e0]
    assert after[e1]["consumer"] == "w2"  # the heartbeat did not take it back


def test_items_idle_past_the_timeout_are_reclaimed_and_fresh_ones_are_not(
    streams: Streams,
) -> None:
    _publish(streams, 0)
    _publish(streams, 1)
    (s, e0, _), (_, e1, _) = streams.read_items("dead", [streams.keys.items], 2, 1)
    time.sleep(0.6)
    beat = time.monotonic()
    assert streams.heartbeat("dead", s, [e1]) == [True]  # e1's owner still beats; e0's stopped
    taken = {eid for _, eid, _ in streams.reclaim("alive", s, idle_ms=500, count=10)}
    assert e0 in taken
    if time.monotonic() - beat < 0.5:  # (a machine stalled half a second would make e1 idle too)
        assert e1 not in taken
    owners = {p["message_id"]: p["consumer"] for p in _pending(streams)}
    assert owners[e0] == "alive"


def test_an_outcome_is_accepted_once_and_a_late_copy_is_dropped(streams: Streams) -> None:
    _publish(streams, 7)
    ((s, eid, _),) = streams.read_items("w1", [streams.keys.items], 1, 1)
    streams.client.xclaim(s, GROUP, "w2", 0, [eid], justid=True)  # w1 presumed dead
    assert streams.finish("w2", s, eid, 7, "done", '{"n": 2}')
    assert not streams.finish("w1", s, eid, 7, "done", '{"n": 1}')  # the late one
    events = streams.client.xrange(streams.keys.events)
    assert [(f["kind"], f["by"]) for _, f in events] == [("done", "w2")]
    accepted = streams.accepted()
    assert accepted == {7: events[0][0]}
    assert streams.event(accepted[7])["data"] == '{"n": 2}'
    assert _pending(streams) == []  # acknowledged by both, pending nowhere


def test_a_given_back_entry_moves_to_the_other_stream(streams: Streams) -> None:
    _publish(streams, 3)
    ((s, eid, fields),) = streams.read_items("w1", [streams.keys.items], 1, 1)
    streams.give_back(s, eid, fields, streams.keys.local)
    assert _pending(streams) == []
    ((stream, _, again),) = streams.read_items("coord", [streams.keys.local], 1, 1)
    assert stream == streams.keys.local and again == fields


def test_items_and_results_survive_the_trip() -> None:
    item = Item(4, source="talk.wav", kind="file", location="/data/talk.wav", meta={"k": "v"})
    coord_id, back, host, size = item_from_fields(item_fields(item, "h1"))
    assert (coord_id, back.location, back.meta["k"], host, size) == (
        4, "/data/talk.wav", "v", "h1", None,
    )  # fmt: skip
    result = Result(
        "T", 1.5, {"tags": ["a"]}, (Segment(0, 1, "hi", (Word(0, 0.5, "hi"),)),),
        "asr", "openai", "en", False,
    )  # fmt: skip
    assert Result.from_json(result.to_json()) == result


def test_paths_are_mapped_by_whole_folder_only() -> None:
    pairs = [("/data", "/mnt/data")]
    assert path_mapped("/data/a/b.wav", pairs) == "/mnt/data/a/b.wav"
    assert path_mapped("/database/b.wav", pairs) == "/database/b.wav"
    assert path_mapped("/data", pairs) == "/mnt/data"


def _pending(streams: Streams) -> list[dict]:
    return streams.client.xpending_range(streams.keys.items, GROUP, "-", "+", 100)


def test_hosts_group_their_workers_and_a_silent_one_is_lost(streams: Streams) -> None:
    from engine.distributed.hosts import hosts

    seconds, micros = streams.client.time()
    now = seconds + micros / 1e6
    beat = {"threads": 8, "running": 3, "every": 1.0}
    streams.beat("a:1", {**beat, "host": "a", "at": now})
    streams.beat("a:2", {**beat, "host": "a", "at": now})
    streams.beat("b:1", {**beat, "host": "b", "at": now - 120})  # silent for two minutes
    streams.client.hset(streams.keys.workers, "junk", "not json")
    views = {v.host: v for v in hosts(streams, claim_idle=30)}
    assert (views["a"].processes, views["a"].threads, views["a"].running, views["a"].lost) == (
        2, 16, 6, 0,
    )  # fmt: skip
    assert (views["b"].processes, views["b"].lost) == (0, 1)


def test_trimming_events_keeps_every_entry_not_yet_acknowledged(streams: Streams) -> None:
    from engine.distributed.wire import COORDINATOR_GROUP

    ids = [
        streams.client.xadd(streams.keys.events, {"kind": "state", "n": str(i)}) for i in range(6)
    ]
    read = streams.read_events("coordinator", pending=False, block_ms=1)
    assert [eid for eid, _ in read] == ids
    for eid in ids[:2] + ids[3:5]:  # entry 2 is applied but its acknowledgement never came
        streams.ack_event(eid)
    assert streams.trim_events(ids[4]) == 2  # up to the first pending entry, not past it
    left = [eid for eid, _ in streams.client.xrange(streams.keys.events)]
    assert left == ids[2:]
    streams.ack_event(ids[2])
    assert streams.trim_events(ids[4]) == 3  # now everything applied goes; entry 5 stays
    assert [eid for eid, _ in streams.client.xrange(streams.keys.events)] == ids[5:]
    pending = streams.client.xpending(streams.keys.events, COORDINATOR_GROUP)["pending"]
    assert pending == 1  # entry 5: delivered, not acknowledged, and kept
