"""A coordinator and a worker in one process, over a real Redis and the local API: control verbs,
files written once by the coordinator, a late duplicate dropped."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.batch import Batch
from engine.distributed.coordinator import Coordinator
from engine.distributed.streams import Streams
from engine.distributed.worker import StreamWorker
from engine.items import Item, State
from tests.distributed_support import api_settings, session_streams
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer
from tests.servers.redis_server import redis_binary

pytestmark = [
    pytest.mark.skipif(redis_binary() is None, reason="redis-server is not installed"),
    pytest.mark.timeout(60),
]
FREQS = [400, 500, 600, 700]


@pytest.fixture
def streams(tmp_path: Path) -> Iterator[Streams]:
    with session_streams(tmp_path) as streams:
        yield streams


@pytest.fixture
def api() -> Iterator[OpenAIServer]:
    with OpenAIServer(latency=0.05) as server:
        yield server


def _coordinator(tmp: Path, api: OpenAIServer, streams: Streams) -> Coordinator:
    batch = Batch(api_settings(api), tmp / "out")
    media = tmp / "media"
    media.mkdir()
    for freq in FREQS:
        path = media / f"tone-{freq}.wav"
        write_tone(path, seconds=0.4, freq=freq)
        batch.board.add([Item(-1, source=str(path), kind="file", location=str(path))])
    return Coordinator(batch, streams, "s1", host="here", local_threads=0)


def _worker(api: OpenAIServer, streams: Streams, name: str = "w1") -> StreamWorker:
    return StreamWorker(
        streams, api_settings(api), threads=2, consumer=name, host="elsewhere", claim_idle=5.0
    )


def _run_to_end(
    coord: Coordinator, worker: StreamWorker, before: Callable[[], object] = lambda: None
) -> None:
    """Start both (``before`` in between: what the worker must find), wait for the batch's end."""
    coord.start()
    before()
    worker.start()
    try:
        assert coord.wait_finished(30)
    finally:
        worker.stop()
        coord.stop()


def _until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_the_coordinator_writes_each_file_once_and_drops_a_late_copy(
    tmp_path: Path, api: OpenAIServer, streams: Streams
) -> None:
    coord = _coordinator(tmp_path, api, streams)
    # Item 3 is cancelled before anyone took it: cancelled here, never sent to the API.
    _run_to_end(coord, _worker(api, streams), before=lambda: coord.cancel(3))
    states = [item.state for item in coord.batch.board.items()]
    assert states == [State.DONE, State.DONE, State.DONE, State.CANCELLED]
    assert sorted(a.freq for a in api.arrivals) == FREQS[:3]
    notes = sorted((tmp_path / "out").glob("*.md"))
    assert [n.name for n in notes] == [f"tone-{f}.md" for f in FREQS[:3]]
    for note, freq in zip(notes, FREQS, strict=False):
        assert f"tone {freq} hertz" in note.read_text()
    assert all(i.meta.get("host") == "elsewhere" for i in coord.batch.board.items()[:3])
    coord.batch.write_reports()  # items.csv says where each item was done (a local run has no column)
    with (tmp_path / "out" / "items.csv").open(encoding="utf-8-sig", newline="") as f:
        assert [row["host"] for row in csv.DictReader(f)] == ["elsewhere"] * 3 + [""]
    # A copy of a finished item's result arriving late (a worker presumed dead) changes nothing.
    before = {n.name: n.stat().st_mtime_ns for n in notes}
    coord._apply({"kind": "done", "item": "0", "data": '{"result": "{}"}'})
    assert coord.duplicates == 1
    assert {n.name: n.stat().st_mtime_ns for n in notes} == before
    assert streams.client.get(streams.keys.status) == "finished"


def test_pause_holds_every_worker_and_resume_lets_them_go_on(
    tmp_path: Path, api: OpenAIServer, streams: Streams
) -> None:
    coord = _coordinator(tmp_path, api, streams)
    coord.start()
    coord.pause()  # before the worker joins: it reads the control stream from its start
    worker = _worker(api, streams)
    worker.start()
    try:
        _until(lambda: worker.engine.paused, "the worker to pause")
        assert worker._room() == 0  # a paused worker takes nothing from the stream
        coord.resume()
        assert coord.wait_finished(30)
    finally:
        worker.stop()
        coord.stop()
    assert [i.state for i in coord.batch.board.items()] == [State.DONE] * 4


def test_a_running_item_cancelled_from_the_coordinator_stops_on_its_worker(
    tmp_path: Path, streams: Streams
) -> None:
    with OpenAIServer(latency=3.0) as slow:
        coord = _coordinator(tmp_path, slow, streams)
        coord.start()
        worker = _worker(slow, streams)
        worker.start()
        try:
            _until(lambda: coord.batch.board.get(0).state.active, "item 0 to run on the worker")
            coord.cancel(0)
            _until(lambda: coord.batch.board.get(0).state.terminal, "item 0 to stop")
            coord.drain()
            _until(lambda: worker.draining, "the worker to drain")
            assert worker._room() == 0
        finally:
            worker.stop()
            coord.stop()
    assert coord.batch.board.get(0).state is State.CANCELLED
    assert not (tmp_path / "out" / "tone-400.md").exists()


def test_a_feed_taken_by_a_worker_becomes_items_of_the_coordinators_session(
    tmp_path: Path, api: OpenAIServer, streams: Streams
) -> None:
    from tests.feedgen import rss_feed
    from tests.servers.media_host import MediaHost

    site = tmp_path / "site"
    site.mkdir()
    for n in range(1, 4):
        write_tone(site / f"ep{n}.mp3", 0.5, 400 + 100 * n)
    with MediaHost(site) as host:
        episodes = [(f"Episode {n}", host.media_url(f"ep{n}.mp3")) for n in range(1, 4)]
        (site / "feed.xml").write_text(rss_feed(host.base_url, episodes), encoding="utf-8")
        batch = Batch(api_settings(api), tmp_path / "out")
        batch.board.add([Item(-1, source="feed", kind="url", location=host.media_url("feed.xml"))])
        coord = Coordinator(batch, streams, "s1", host="here", local_threads=0)
        coord.start()
        worker = _worker(api, streams)
        worker.start()
        try:
            _until(lambda: len(batch.board) == 4, "the feed's episodes on the coordinator")
            assert coord.wait_finished(30)
        finally:
            worker.stop()
            coord.stop()
    items = batch.board.items()
    assert [i.state for i in items] == [State.DONE] * 4
    assert items[0].method == "playlist" and items[0].meta["expanded"] == 3
    assert sorted(a.freq for a in api.arrivals) == [500, 600, 700]
    notes = sorted((tmp_path / "out").glob("*.md"))
    assert [n.name for n in notes] == ["Episode 1.md", "Episode 2.md", "Episode 3.md"]
    for note, freq in zip(notes, (500, 600, 700), strict=True):
        assert f"tone {freq} hertz" in note.read_text()


def test_a_worker_stopped_cleanly_hands_its_items_back_at_once(
    tmp_path: Path, streams: Streams
) -> None:
    # Answers take 4 s: the first worker cannot finish anything before it is stopped.
    with OpenAIServer(latency=4.0) as slow:
        coord = _coordinator(tmp_path, slow, streams)
        coord.start()
        first = _worker(slow, streams, "first")
        first.start()
        try:
            _until(lambda: len(first.held) == 2, "the first worker to take two items")
            first.stop()  # as on Ctrl-C: the two go back to the stream, no timeout to wait for
            pending = streams.client.xpending(streams.keys.items, "workers")["pending"]
            assert pending == 0
            second = _worker(slow, streams, "second")
            second.start()
            try:
                assert coord.wait_finished(30)
            finally:
                second.stop()
        finally:
            coord.stop()
    assert [i.state for i in coord.batch.board.items()] == [State.DONE] * 4
    assert {i.meta["worker"] for i in coord.batch.board.items()} == {"second"}


def test_an_item_redone_elsewhere_starts_from_the_chunks_already_finished(
    tmp_path: Path, api: OpenAIServer, streams: Streams
) -> None:
    from engine.audio.media import split_audio
    from engine.distributed.checkpoints import RedisCheckpoints
    from engine.segments import Segment

    coord = _coordinator(tmp_path, api, streams)
    settings = coord.batch.settings
    # What a dead worker left: every chunk of item 0 finished, cut exactly as the pipeline cuts.
    chunks = split_audio(
        Path(coord.batch.board.get(0).location),
        tmp_path / "cut",
        settings.chunk_seconds,
        settings.overlap,
        coord.batch.transcriber.max_upload_bytes,
    )
    saved = RedisCheckpoints(streams, lambda local: 0)
    for chunk in chunks:
        saved.save(0, chunk, [Segment(chunk.start, chunk.end, "heard by the dead worker")], "en")
    assert set(saved.load(0)) == {c.index for c in chunks}
    _run_to_end(coord, _worker(api, streams))
    assert sorted(a.freq for a in api.arrivals) == FREQS[1:]  # item 0 sent nothing again
    assert "heard by the dead worker" in (tmp_path / "out" / "tone-400.md").read_text()
    assert streams.client.exists(streams.keys.chunks(0)) == 0  # accepted: its chunks let go


def test_unreadable_entries_are_skipped_and_the_batch_goes_on(
    tmp_path: Path, api: OpenAIServer, streams: Streams
) -> None:
    coord = _coordinator(tmp_path, api, streams)
    streams.ensure_groups()
    streams.client.xadd(streams.keys.items, {"item": "{not json"})
    streams.client.xadd(streams.keys.events, {"kind": "done", "item": "1", "data": "[broken"})
    cursor = coord.batch.board.cursor()
    _run_to_end(coord, _worker(api, streams))
    assert [i.state for i in coord.batch.board.items()] == [State.DONE] * 4
    assert streams.client.xpending(streams.keys.items, "workers")["pending"] == 0
    texts = [e.text for e in cursor.pull().events]
    assert any("unreadable event was skipped" in t for t in texts), texts


def test_the_events_stream_is_trimmed_only_behind_what_the_session_has_committed(
    tmp_path: Path, api: OpenAIServer, streams: Streams, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.distributed.coordinator as coordinator

    monkeypatch.setattr(coordinator, "TRIM_EVERY", 0.0)  # trim after every read
    committed: set[int] = set()
    coord = _coordinator(tmp_path, api, streams)
    coord._commit = lambda: committed.update(
        i.id for i in coord.batch.board.items() if i.state.terminal
    )
    real_trim = streams.trim_events
    removed: list[dict[str, str]] = []
    early: list[str] = []  # results trimmed before their item was committed: must stay empty

    def checked_trim(upto: str) -> int:
        # What goes was applied and committed first: no result is ever dropped before that.
        going = [f for _, f in streams.client.xrange(streams.keys.events, max=upto)]
        n = real_trim(upto)
        removed.extend(going[:n])
        early.extend(
            f["item"] for f in going[:n] if f["kind"] == "done" and int(f["item"]) not in committed
        )
        return n

    monkeypatch.setattr(streams, "trim_events", checked_trim)
    _run_to_end(coord, _worker(api, streams))
    added = streams.client.xinfo_stream(streams.keys.events)["entries-added"]
    assert [i.state for i in coord.batch.board.items()] == [State.DONE] * 4
    results = [int(f["item"]) for f in removed if f["kind"] == "done"]
    assert sorted(results) == [0, 1, 2, 3] and early == []
    assert coord.trimmed == len(removed) == added  # at the end, nothing applied is left
    assert streams.client.xlen(streams.keys.events) == 0
