"""The coordinator side of ``--distribute``: a Coordinator wired to a session, steered by the app.

The app steers a DistributedRun in its engine's place; its keys reach workers by the control stream.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from redis.exceptions import RedisError

from engine.board import EngineView
from engine.distributed.coordinator import Coordinator
from engine.distributed.streams import Streams, connect
from engine.distributed.wire import COORDINATOR, Keys, host_name
from engine.distributed.worker import StreamWorker
from engine.errors import BulkscribeError, UsageError, describe
from engine.events import EventKind
from engine.items import State
from engine.limits.limiter import Limiter
from engine.run.engine import Engine
from sessions.live import LiveSession
from tui.widgets.hosts_view import HostRow, ProcessRow

CLAIM_IDLE = float(os.environ.get("BULKSCRIBE_CLAIM_IDLE", "30"))
REFRESH = 0.5  # seconds between looks at the hosts and the batch


def coordinator_for(live: LiveSession, local_threads: int | None) -> Coordinator:
    settings = live.batch.settings
    if not settings.redis:
        raise UsageError("--distribute needs --redis URL", hint="e.g. --redis redis://host:6379/0")
    streams = Streams(connect(settings.redis), Keys(live.session_id))
    threads = live.batch.engine.workers if local_threads is None else local_threads
    host = host_name()

    def local_worker() -> StreamWorker:
        # Same code path as a remote worker; it alone may also take files only this host can read.
        return StreamWorker(
            streams,
            settings,
            threads=threads,
            consumer=f"{host}:{COORDINATOR}:{os.getpid()}",
            host=host,
            read_local=True,
            claim_idle=CLAIM_IDLE,
            transcriber=None,
        )

    return Coordinator(
        live.batch,
        streams,
        live.session_id,
        host=host,
        local_threads=threads,
        claim_idle=CLAIM_IDLE,
        local_worker=local_worker,
        commit=live.recorder.flush,
    )


class DistributedRun:
    """The engine's verbs for the app, on a whole distributed batch.

    Pause, resume, drain and items at once go to the workers through the control stream; retry and
    cancel go through the coordinator, which owns the session. The board is the coordinator's: its
    counts, rates and ETA are the whole batch's, and this keeps its engine line (workers over all
    live hosts, paused) up to date and says when every item has finished.
    """

    def __init__(self, coordinator: Coordinator) -> None:
        self.coordinator = coordinator
        self.board = coordinator.batch.board
        self.host = coordinator.host
        self._paused = False
        self._draining: set[str] = set()
        self._rows: tuple[HostRow, ...] = ()
        self._announced = False
        self._started = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="bulkscribe-hosts", daemon=True)

    # -- what the app calls on an Engine -----------------------------------------------------

    def start(self) -> None:
        """Start coordinating off the app's thread: publishing a long batch takes a while."""
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        if self._started:
            self.coordinator.stop()

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self.coordinator.pause()
        self._paused = True
        self.board.post(
            EventKind.PAUSE, "paused on every host: running items finish, nothing new starts"
        )
        self._publish()

    def resume(self) -> None:
        self.coordinator.resume()
        self._paused = False
        self._draining.clear()
        self.board.post(EventKind.PAUSE, "resumed on every host")
        self._publish()

    def retry(self, item_ids: Sequence[int] | None = None) -> int:
        return self.coordinator.retry(list(item_ids) if item_ids else None)

    def cancel(self, item_id: int) -> bool:
        if self.board.get(item_id).state.terminal:
            return False
        self.coordinator.cancel(item_id)
        return True

    # + and - (and p) set the items at once of each process on this host; the Workers pane sets
    # any host's.

    @property
    def workers(self) -> int:
        local = self.coordinator.local
        return local.threads if local is not None else self.coordinator.local_threads

    @property
    def parallel(self) -> bool:
        return self.workers > 1

    def set_workers(self, n: int) -> int:
        n = max(1, min(64, n))
        self.set_host_workers(self.host, n)
        return n

    def set_parallel(self, on: bool) -> int:
        return self.set_workers(max(2, self.workers) if on else 1)

    # Rate limits and order are this host's: its own engine and the one the board shows.

    @property
    def limiters(self) -> dict[str, Limiter]:
        return self.coordinator.batch.engine.limiters

    def set_rate_mode(self, mode: str, service: str | None = None) -> None:
        for engine in self._engines():
            engine.set_rate_mode(mode, service)

    def set_rate_spec(self, spec: str, service: str | None = None) -> None:
        for engine in self._engines():
            engine.set_rate_spec(spec, service)

    def set_order(self, order: str) -> None:
        for engine in self._engines():
            engine.set_order(order)

    def _engines(self) -> list[Engine]:
        local = self.coordinator.local
        return [self.coordinator.batch.engine, *([local.engine] if local is not None else [])]

    # -- the Workers pane (HostSource) -----------------------------------------------------------

    def host_rows(self) -> Sequence[HostRow]:
        return self._rows

    def set_host_workers(self, host: str, count: int) -> None:
        self.coordinator.set_workers(host, count)

    def toggle_host_drain(self, host: str) -> None:
        if host in self._draining:
            self._draining.discard(host)
            self.coordinator.resume(host)
        else:
            self._draining.add(host)
            self.coordinator.drain(host)
        self._refresh()

    # -- keeping the board's view of the batch ------------------------------------------------

    def _watch(self) -> None:
        try:
            self.coordinator.start()
        except (BulkscribeError, RedisError) as exc:
            # The app says so and keeps the session; nothing was handed out.
            self.board.post(EventKind.BLOCKED, f"distributed: {describe(exc)[1]}")
            return
        self._started = True
        # A resumed batch paused last time is still paused for its workers: say so here too.
        self._paused = self.coordinator.streams.last_verb(("pause", "resume")) == "pause"
        self._refresh()
        while not self._stop.wait(REFRESH):
            self._refresh()

    def _refresh(self) -> None:
        watch = self.coordinator.hosts
        done: dict[str, int] = {}
        running: dict[str, int] = {}
        for item in self.board.items():
            host = str(item.meta.get("host") or "")
            if item.state is State.DONE:
                done[host] = done.get(host, 0) + 1
            elif item.state.active:
                running[host] = running.get(host, 0) + 1
        rows = []
        for view in watch.views:
            lost = view.host in watch.lost
            processes = tuple(ProcessRow(w.pid, w.threads, w.running, w.lost) for w in view.workers)
            rows.append(
                HostRow(
                    view.host,
                    here=view.host == self.host,
                    threads=view.threads,
                    running=0 if lost else running.get(view.host, 0),
                    done=done.get(view.host, 0),
                    lost=lost,
                    requeued=watch.lost.get(view.host, 0),
                    draining=view.host in self._draining,
                    processes=processes,
                )
            )
        # This host first: it is the one + and - act on.
        self._rows = tuple(sorted(rows, key=lambda r: (not r.here, r.host)))
        self._publish()
        finished = self.coordinator.finished
        if finished and not self._announced:
            self.board.post(EventKind.FINISHED, "all items finished")
        self._announced = finished

    def _publish(self) -> None:
        total = sum(r.threads for r in self._rows if not r.lost)
        self.board.set_engine(
            EngineView(
                workers=total or self.workers,
                parallel=total > 1,
                last_parallel=max(2, total),
                paused=self._paused,
                running=not self._stop.is_set(),
                finished=self._announced,
            )
        )
