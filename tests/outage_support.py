"""What the outage tests of a batch share: waiting for the offline event, and the way back.

The transcription service is down (nothing listens on ``port``) until ``come_back`` starts the
local API there; then every item must finish, each one answered once, with one offline and one
online event and nothing failed.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from engine.batch import Batch
from engine.events import Event
from engine.inputs import read_inputs
from engine.items import State
from tests.servers.openai_api import OpenAIServer


def free_port() -> int:
    """A port nothing listens on (yet): the service that is not there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_until_offline(batch: Batch, media: list[Path]) -> tuple[Any, list[Event], float]:
    """Start ``batch`` over ``media`` and pull events until the offline one is among them.

    Returns the cursor, the events seen so far and the deadline (30 s from the start) the caller's
    own waits keep to.
    """
    cursor = batch.board.cursor()
    batch.add_sources(read_inputs([str(m) for m in media]).sources)
    batch.engine.start()
    seen: list[Event] = []
    deadline = time.monotonic() + 30
    while not any(e.kind == "offline" for e in seen) and time.monotonic() < deadline:
        time.sleep(0.05)
        seen += cursor.pull().events
    return cursor, seen, deadline


def come_back(batch: Batch, cursor: Any, seen: list[Event], port: int, media: list[Path]) -> None:
    """Start the API on ``port``; the batch must then finish by itself, every item done once."""
    with OpenAIServer(port=port) as server:
        assert batch.engine.wait_finished(60)
        answered = server.count(200)
    batch.engine.stop()
    batch.close()
    seen += cursor.pull().events
    assert {item.state for item in batch.board.items()} == {State.DONE}
    assert answered == len(media)
    assert [e.kind for e in seen].count("offline") == 1
    assert [e.kind for e in seen].count("online") == 1
    assert not [e for e in seen if e.kind == "failed"]
