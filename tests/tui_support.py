"""What the app tests share: a real Engine whose items the test holds, fails and releases, and a fixed clock."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from textual.pilot import Pilot

from engine.board import Board
from engine.clock import Clock
from engine.errors import ProviderError
from engine.inputs import read_inputs
from engine.items import Item, State
from engine.limits.limiter import Limiter
from engine.run.engine import Engine
from engine.run.job import Job
from engine.stages.resolve import items_from_sources
from tui.app import BulkscribeApp

WAIT = 10.0  # generous bound for conditions that normally hold within milliseconds
FIXED_NOW = 1_750_000_000.0  # a fixed wall-clock instant for snapshots


class FixedClock:
    """A wall clock that only moves when told to, so elapsed times and rates never drift."""

    def __init__(self, now: float = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Gate:
    """A work function that holds each item until the test releases it, optionally with an error."""

    def __init__(self) -> None:
        self.cv = threading.Condition()
        self.started: list[int] = []
        self._open: set[int] = set()
        self._errors: dict[int, Exception] = {}
        self.open_all = False

    def __call__(self, job: Job) -> None:
        with self.cv:
            self.started.append(job.item_id)
            self.cv.notify_all()
        job.stage("transcribe", title=f"Episode {job.item_id + 1}")
        while True:
            with self.cv:
                if self.open_all or job.item_id in self._open:
                    self._open.discard(job.item_id)
                    error = self._errors.pop(job.item_id, None)
                    break
                self.cv.wait(0.01)
            job.check()
        if error is not None:
            raise error
        job.update(method="asr", engine="gate", preview=(f"line from item {job.item_id + 1}",))

    def release(self, *item_ids: int) -> None:
        with self.cv:
            self._open.update(item_ids)
            self.cv.notify_all()

    def fail(
        self, item_id: int, message: str | Exception = "the API failed (500): internal error"
    ) -> None:
        error = message if isinstance(message, Exception) else ProviderError(message, status=500)
        with self.cv:
            self._errors[item_id] = error
            self._open.add(item_id)
            self.cv.notify_all()


class GateBatch:
    """The attributes of ``engine.batch.Batch`` the app uses, around a real Engine and Board."""

    def __init__(
        self,
        tmp: Path,
        count: int = 3,
        *,
        board: Board | None = None,
        work: Callable[[Job], None] | None = None,
        rate: str = "300/min",
        limiter_clock: Clock | None = None,
        **engine_args: Any,
    ) -> None:
        self.gate = Gate()
        self.board = board if board is not None else Board()
        # As in a real batch: the media hosts' limiter first, the transcription API's last.
        self.media_limiter = Limiter("media", "60/min")
        self.limiter = Limiter("asr", rate, clock=limiter_clock)
        self.engine = Engine(
            work or self.gate,
            board=self.board,
            limiters=[self.media_limiter, self.limiter],
            **({"retries": 0, "backoff": 0.0} | engine_args),
        )
        self.output_dir = tmp / "out"
        self.output_dir.mkdir(parents=True, exist_ok=True)
        if count:
            self.engine.add(
                Item(-1, f"https://media.test/episode-{i + 1}.mp3", kind="url")
                for i in range(count)
            )

    def add_sources(self, sources: Sequence[Any], *, choice: Any = None) -> list[Item]:
        return self.engine.add(items_from_sources(sources, choice=choice))


def make_app(batch: GateBatch, *, autostart: bool = True) -> BulkscribeApp:
    app = BulkscribeApp(
        batch,  # type: ignore[arg-type]
        session_name="test session",
        read_inputs=lambda lines: read_inputs(lines),
        autostart=autostart,
    )
    app.animation_level = "none"
    return app


def screen_text(app: BulkscribeApp) -> str:
    """What the terminal shows, as plain text, one line per row."""
    from rich.console import Console

    update = app.screen._compositor.render_full_update()
    console = Console(
        width=app.size.width,
        record=True,
        color_system=None,
        file=io.StringIO(),
        legacy_windows=False,
    )
    console.print(update)
    return console.export_text()


async def until(pilot: Pilot[Any], condition: Callable[[], bool], what: str = "") -> None:
    """Let the app run until ``condition`` holds (it normally does within a few ticks)."""
    waited = 0.0
    while not condition():
        if waited > WAIT:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)
        waited += 0.02


def wait_started(gate: Gate, item_id: int) -> None:
    with gate.cv:
        if not gate.cv.wait_for(lambda: item_id in gate.started, WAIT):
            raise AssertionError(f"item {item_id} never started")


def state_of(batch: GateBatch, item_id: int) -> State:
    return batch.board.get(item_id).state


def fill_board(board: Board, clock: FixedClock) -> None:
    """A mid-run board in known states, written directly (no threads), for snapshots."""
    now = clock.now
    titles = [
        "Intro to the series",
        "A long talk about rate limits and queues",
        "Interview with a sound engineer",
        "Field recording, river at dawn",
        "Q&A session (part 1)",
        "Q&A session (part 2)",
        "Closing remarks",
        "Bonus episode",
    ]
    board.add(
        Item(
            -1,
            f"https://media.test/{i + 1:02d}.mp3",
            kind="url",
            duration=600.0 + 371 * i,
        )
        for i in range(len(titles))
    )
    clock.now = now + 95
    done = {"state": State.DONE, "attempts": 1, "method": "asr", "engine": "openai"}
    for i in (0, 1, 3):
        board.update(
            i,
            **{**done, "title": titles[i]},
            started_at=now + 10 * i,
            finished_at=now + 10 * i + 42,
        )
    board.update(
        2,
        title=titles[2],
        state=State.FAILED,
        attempts=3,
        error_class="provider",
        error="the API failed (500): internal error",
        started_at=now + 5,
        finished_at=now + 61,
    )
    board.update(
        4,
        title=titles[4],
        state=State.RUNNING,
        stage="transcribe",
        attempts=1,
        chunks_total=4,
        chunks_done=1,
        worker=0,
        started_at=now + 80,
        preview=("So the first question was about queues.", "And the answer was: it depends."),
    )
    board.update(5, title=titles[5], state=State.WAITING, stage="transcribe", attempts=1)
    board.update(5, started_at=now + 85, worker=1, chunks_total=2)


def fixed_app(
    tmp: Path, monkeypatch: Any, *, filled: bool = True, **batch_args: Any
) -> tuple[BulkscribeApp, GateBatch]:
    """An app over a board in the fixed states of ``fill_board``; the engine never starts."""
    import engine.items

    clock = FixedClock()
    # A running item's elapsed time is measured against the wall clock: pin it to the board's.
    monkeypatch.setattr(engine.items, "time", SimpleNamespace(time=clock))
    board = Board(clock=clock)
    batch = GateBatch(tmp, 0, board=board, **batch_args)
    if filled:
        fill_board(board, clock)
    return make_app(batch, autostart=False), batch
