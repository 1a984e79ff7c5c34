"""The full-screen app as the coordinator of a distributed batch, driven with Pilot over a real Redis
and the local API: hosts in the Workers pane, keys that reach every worker, a lost host requeued."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import TabbedContent

from engine.batch import Batch
from engine.distributed.coordinator import Coordinator
from engine.distributed.streams import Streams
from engine.distributed.worker import StreamWorker
from engine.items import Item, State
from tests.distributed_support import api_settings, session_streams
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer
from tests.servers.redis_server import redis_binary
from tests.tui_support import screen_text, until
from tui.app import BulkscribeApp
from tui.distribute import DistributedRun
from tui.screens.summary import SummaryScreen
from tui.widgets.workers_view import WorkersView

pytestmark = [
    pytest.mark.skipif(redis_binary() is None, reason="redis-server is not installed"),
    pytest.mark.timeout(90),
]
SIZE = (120, 36)


@pytest.fixture
def api() -> Iterator[OpenAIServer]:
    # Slow answers: items stay running on their hosts while the test looks at them.
    with OpenAIServer(latency=1.5) as server:
        yield server


@pytest.fixture
def streams(tmp_path: Path) -> Iterator[Streams]:
    with session_streams(tmp_path) as streams:
        yield streams


def _app(tmp: Path, api: OpenAIServer, streams: Streams, items: int) -> BulkscribeApp:
    batch = Batch(api_settings(api), tmp / "out")
    (tmp / "media").mkdir()
    for i in range(items):
        path = tmp / "media" / f"tone-{300 + 20 * i}.wav"
        write_tone(path, seconds=0.3, freq=300 + 20 * i)
        batch.board.add([Item(-1, source=str(path), kind="file", location=str(path))])

    def local() -> StreamWorker:
        return StreamWorker(
            streams, batch.settings, threads=1, consumer="here:1", host="here", read_local=True
        )

    coord = Coordinator(batch, streams, "s1", host="here", local_threads=1, local_worker=local)
    app = BulkscribeApp(batch, session_name="distributed", engine=DistributedRun(coord))
    app.animation_level = "none"
    return app


def _controls(streams: Streams) -> list[tuple[str, dict[str, object]]]:
    return [
        (f["verb"], json.loads(f["data"])) for _, f in streams.client.xrange(streams.keys.control)
    ]


async def test_the_workers_pane_groups_hosts_and_its_keys_reach_the_workers(
    tmp_path: Path, api: OpenAIServer, streams: Streams
) -> None:
    app = _app(tmp_path, api, streams, items=8)
    remote = StreamWorker(streams, api_settings(api), threads=2, consumer="far:1", host="far")
    remote.start()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("w")
            pane = app.main.query_one(WorkersView)
            assert app.main.query_one(TabbedContent).active == "tab-workers"
            await until(
                pilot,
                lambda: "far ● 2 at once" in screen_text(app) and "(here) ●" in screen_text(app),
                "both hosts in the pane",
            )
            text = screen_text(app)
            assert "here (here) ● 1 at once" in text and "pid" in text

            await pilot.press("space")  # pause: every worker, through the control stream
            await until(pilot, lambda: remote.engine.paused, "the remote worker to pause")
            await until(
                pilot, lambda: "PAUSED" in screen_text(app), "the engine line to say PAUSED"
            )
            await pilot.press("space")
            await until(pilot, lambda: not remote.engine.paused, "the remote worker to resume")

            pane.focus()
            await pilot.press("down")  # from this host to "far"
            await pilot.press("plus")
            await until(pilot, lambda: remote.threads == 3, "far to run 3 at once")
            await until(pilot, lambda: "far ● 3 at once" in screen_text(app), "far's new count")
            await pilot.press("d")
            await until(pilot, lambda: remote.draining, "far to drain")
            await until(pilot, lambda: "far ◐ draining" in screen_text(app), "far shown draining")
            await pilot.press("d")
            await until(pilot, lambda: not remote.draining, "far to take items again")
            assert ("workers", {"host": "far", "count": 3}) in _controls(streams)
            assert ("drain", {"host": "far"}) in _controls(streams)

            # The end of the whole batch reaches the app: its summary counts every host's items.
            await until(pilot, lambda: isinstance(app.screen, SummaryScreen), "the summary")
            await until(pilot, lambda: "✓ 8 done" in " ".join(screen_text(app).split()), "8")
            hosts = {i.meta.get("host") for i in app.batch.board.items()}
            assert hosts == {"here", "far"}
    finally:
        remote.stop()


async def test_a_host_that_stops_heartbeating_shows_as_lost_and_its_items_as_queued(
    tmp_path: Path, api: OpenAIServer, streams: Streams
) -> None:
    app = _app(tmp_path, api, streams, items=2)
    board = app.batch.board
    seconds, _ = streams.client.time()
    # A worker that beat two minutes ago, holding item 1 when it went quiet.
    ghost = {
        "host": "ghost",
        "pid": 77,
        "threads": 4,
        "running": 1,
        "at": seconds - 120,
        "every": 1,
    }
    streams.client.hset(streams.keys.workers, "ghost:77", json.dumps(ghost))
    board.update(1, state=State.RUNNING, stage="transcribe", meta={"host": "ghost"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        await until(pilot, lambda: "✗ lost" in screen_text(app), "the ghost shown as lost")
        assert "ghost ✗ lost · 1 requeued · 0 done" in screen_text(app)
        assert board.get(1).state in (State.QUEUED, State.RUNNING, State.DONE)
        await until(pilot, lambda: board.count(State.DONE) == 2, "its item done elsewhere")
        assert board.get(1).meta["host"] == "here"


async def test_a_batch_paused_before_a_restart_shows_as_paused(
    tmp_path: Path, api: OpenAIServer, streams: Streams
) -> None:
    streams.control("pause", host=None)  # what the last coordinator said before it stopped
    streams.control("workers", host="here", count=3)
    app = _app(tmp_path, api, streams, items=1)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "PAUSED" in screen_text(app), "the engine line to say PAUSED")
        local = app.engine.coordinator.local
        await until(pilot, lambda: local is not None and local.engine.paused, "paused here too")
        assert local is not None and local.threads == 3  # this host's count, as set last time
        await pilot.press("space")
        await until(pilot, lambda: app.batch.board.count(State.DONE) == 1, "the item to run")
