"""The control stream as a worker follows it: pause, resume, drain, cancel, items at once per host."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.distributed.worker import StreamWorker


def follow_control(worker: StreamWorker, stop: threading.Event) -> None:
    """Obey the coordinator's verbs until ``stop``, from the stream's start: a worker joining a
    paused batch is paused too, and one joining a host whose count was changed takes that count."""
    last = "0"
    while not stop.is_set():
        for entry_id, verb, data in worker.streams.read_control(last, 500):
            last = entry_id
            if data.get("host") in (None, worker.host):
                obey(worker, verb, data)


def obey(worker: StreamWorker, verb: str, data: dict[str, Any]) -> None:
    engine = worker.engine
    if verb == "pause":
        engine.pause()
    elif verb == "resume":
        worker.draining = False
        engine.resume()
        worker.wake()
    elif verb == "drain":
        worker.draining = True  # finish what is held, take nothing new
    elif verb == "workers" and isinstance(data.get("count"), int):
        worker.resize(data["count"])
    elif verb == "cancel":
        for local_id in worker.local_ids(data.get("item")):
            engine.cancel(local_id)
