"""Screen benchmark: the full-screen app with 10,000 items — first paint, key latency, UI CPU, engine throughput.

Run ``uv run python -m bench.tui`` (about 45 s). The app runs headless at 120x40 (Textual still lays out
and renders every frame; only the terminal write is skipped) while 32 real worker threads push items
through a work function that sleeps ~50 ms, so the Board changes hundreds of times a second.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import os
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import events

from bench.report import write_report
from engine.board import Board
from engine.items import Item, State
from engine.run.engine import Engine
from engine.run.job import Job
from tui.app import BulkscribeApp
from tui.widgets.status_table import StatusTable

RESULTS = Path(__file__).parent / "results" / "tui.json"
SIZE = (120, 40)
ITEMS = 10_000
WORKERS = 32
SLEEP = 0.05
KEYS = (
    ["down"] * 20
    + ["pagedown"] * 5
    + ["end", "home"]
    + ["slash", "e", "p", "escape"]
    + ["3", "2", "1"]
    + ["s", "S", "S", "s"]
    + ["down"] * 10
)
KEY_TIMEOUT_S = 60.0
# Cursor moves repaint a row or a page; the other keys re-filter or re-sort all 10,000 rows.
MOVES = {"down", "up", "pagedown", "end", "home"}
TARGETS = {
    "first_paint_s": 1.5,
    "key_p95_ms": 100.0,
    "ui_cpu_share": 0.33,
    "throughput_ratio": 0.95,
}


class BenchBatch:
    """The attributes of a Batch the app reads, around a real Engine."""

    def __init__(self, items: int, workers: int, sleep: float) -> None:
        self.board = Board()

        def work(job: Job) -> None:
            job.stage("transcribe", title=f"Episode {job.item_id + 1} of a long podcast")
            time.sleep(sleep)
            job.update(method="asr", engine="bench", preview=("a line", "another line"))

        self.engine = Engine(work, board=self.board, workers=workers, parallel=workers > 1)
        self.engine.add(
            Item(
                -1, f"https://media.test/episode-{i + 1}.mp3", kind="url", duration=60.0 + i % 3600
            )
            for i in range(items)
        )
        self.output_dir = Path(tempfile.gettempdir())

    def add_sources(self, sources: Any) -> list[Item]:
        return []

    def done(self) -> int:
        return self.board.count(State.DONE)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


async def first_paint(items: int) -> float:
    """Seconds from building the app over a full board to its first frame."""
    batch = BenchBatch(items, 1, SLEEP)
    start = time.perf_counter()
    app = BulkscribeApp(batch, autostart=False)  # type: ignore[arg-type]
    async with app.run_test(headless=True, size=SIZE) as pilot:
        await pilot.pause()
        elapsed = time.perf_counter() - start
        await app.action_quit()
    return elapsed


def watch_frames(app: BulkscribeApp) -> list[float]:
    """Time every frame the app renders (headless skips only the terminal write, not the render)."""
    frames: list[float] = []
    display = app._display

    def timed(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if renderable is not None:
            frames.append(time.perf_counter())

    app._display = timed  # type: ignore[method-assign]
    return frames


def view_state(app: BulkscribeApp) -> tuple[Any, ...]:
    table = app.main.query_one(StatusTable)
    focused = app.focused.id if app.focused is not None else None
    return (
        table.cursor_item_id,
        table.view_name,
        table.sort_key,
        table.sort_reverse,
        table.filter_text,
        focused,
    )


async def key_to_paint(app: BulkscribeApp, key: str, frames: list[float]) -> tuple[float, float]:
    """Milliseconds from a key reaching the app to the first frame painted after its effect.

    Also returns, as detail, the milliseconds until the effect was visible in the app's state
    (before it was painted).

    Pilot's ``press`` is no use here: it waits for the whole process to go idle, which never
    happens while 32 workers run, so it would measure its own time-out.
    """
    before = view_state(app)
    char = key if len(key) == 1 else None
    event = events.Key(key, char)
    event.set_sender(app)
    start = time.perf_counter()
    app._driver.send_message(event)  # type: ignore[union-attr]
    # A bound against hanging, not a target: on a loaded machine (a parallel test run beside it) a
    # re-sort of 10,000 rows has been seen to take over 5 s to reach the screen.
    deadline = start + KEY_TIMEOUT_S
    unchanged_at = start  # the last moment the effect was not there yet
    while view_state(app) == before:
        unchanged_at = time.perf_counter()
        if unchanged_at > deadline:
            raise RuntimeError(f"key {key!r} had no visible effect")
        await asyncio.sleep(0.0005)
    seen = time.perf_counter()
    # The effect and its repaint run on the app's loop, so the frame may come before this coroutine
    # looks again: the first frame after the last look that saw no effect is the one that shows it.
    # (Waiting for a frame after ``seen`` hung when nothing else changed: an idle, finished batch.)
    # Frame times only grow, so the first one after the last look is found by bisection (the poll
    # runs on the app's own loop: a scan of every frame so far would slow what it measures).
    while (first := bisect.bisect_right(frames, unchanged_at)) == len(frames):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"no frame after key {key!r}")
        await asyncio.sleep(0.0005)
    return (frames[first] - start) * 1000, (seen - start) * 1000


def watch_collections(pauses: list[tuple[int, float]]) -> Callable[..., None]:
    """Note (generation, seconds) of each garbage collection from now on: pauses keys can meet."""
    began = [0.0]

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - began[0]))

    gc.callbacks.append(note)
    return note


async def busy_app(items: int, window: float) -> dict[str, Any]:
    """Key latency, UI-thread CPU and throughput while the engine runs with the app open."""
    batch = BenchBatch(items, WORKERS, SLEEP)
    # The end-of-batch summary would take the keys still being timed when the engine finishes.
    app = BulkscribeApp(batch, autostart=False, end_summary=False)  # type: ignore[arg-type]
    frames = watch_frames(app)
    async with app.run_test(headless=True, size=SIZE) as pilot:
        batch.engine.start()
        await pilot.pause(1.0)  # warm-up: every worker busy, the table scrolling with changes
        # UI-thread CPU and throughput over the same steady-state window.
        done0, cpu0, wall0 = batch.done(), time.thread_time(), time.perf_counter()
        await asyncio.sleep(window)
        cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
        rate = (batch.done() - done0) / wall
        pauses: list[tuple[int, float]] = []
        note = watch_collections(pauses)
        timed = [await key_to_paint(app, key, frames) for key in KEYS]
        gc.callbacks.remove(note)
        latencies = [paint for paint, _ in timed]
        still_busy = batch.engine.finished is False
        batch.engine.stop()
        await app.action_quit()
    moves = [ms for key, ms in zip(KEYS, latencies, strict=True) if key in MOVES]
    rebuilds = [ms for key, ms in zip(KEYS, latencies, strict=True) if key not in MOVES]
    return {
        "key_move_p95_ms": round(percentile(moves, 0.95), 1),
        "key_view_p95_ms": round(percentile(rebuilds, 0.95), 1),
        "key_p50_ms": round(statistics.median(latencies), 1),
        "key_p95_ms": round(percentile(latencies, 0.95), 1),
        "key_max_ms": round(max(latencies), 1),
        "keys_pressed": len(latencies),
        # Detail: each key in order, milliseconds to its effect in the app's state and to the frame.
        "keys": [
            {"key": key, "effect_ms": round(effect, 1), "paint_ms": round(paint, 1)}
            for key, (paint, effect) in zip(KEYS, timed, strict=True)
        ],
        "gc_during_keys": {
            "full_collections": sum(1 for generation, _ in pauses if generation == 2),
            "longest_ms": round(max((s for _, s in pauses), default=0.0) * 1000, 1),
            "total_ms": round(sum(s for _, s in pauses) * 1000, 1),
        },
        "board_busy_during_keys": still_busy,
        "ui_cpu_share": round(cpu / wall, 3),
        "throughput_with_app": round(rate, 1),
    }


def bare_throughput(items: int, window: float) -> float:
    """Items per second for the same work with no app reading the board."""
    batch = BenchBatch(items, WORKERS, SLEEP)
    reader = batch.board.cursor()  # the headless face pulls too; keep the board's work the same
    stop = threading.Event()

    def pull() -> None:
        while not stop.wait(0.1):
            reader.pull()

    puller = threading.Thread(target=pull, daemon=True)
    batch.engine.start()
    puller.start()
    time.sleep(1.0)
    done0, wall0 = batch.done(), time.perf_counter()
    time.sleep(window)
    rate = (batch.done() - done0) / (time.perf_counter() - wall0)
    stop.set()
    batch.engine.stop()
    return rate


def against(key: str, value: float) -> tuple[str, bool]:
    """TARGETS[key] as the table shows it, and whether ``value`` meets it: at most the target,
    at least it for the throughput ratio."""
    target = TARGETS[key]
    if key == "throughput_ratio":
        return f"≥ {target:.0%}", value >= target
    unit = {"first_paint_s": " s", "key_p95_ms": " ms"}.get(key, "")
    return f"≤ {target:g}{unit}", value <= target


def table(rows: list[tuple[str, str, str, bool]]) -> str:
    lines = ["| measure | result | target | met |", "|---|---:|---:|:-:|"]
    lines += [
        f"| {name} | {value} | {target} | {'yes' if ok else 'NO'} |"
        for name, value, target, ok in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=ITEMS)
    parser.add_argument("--window", type=float, default=10.0, help="steady-state window, seconds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    paint = asyncio.run(first_paint(args.items))
    busy = asyncio.run(busy_app(args.items, args.window))
    bare = bare_throughput(args.items, args.window)
    ratio = busy["throughput_with_app"] / bare if bare else 0.0
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": [round(n, 2) for n in os.getloadavg()],  # 1, 5, 15 min, at the end
        },
        "setup": {
            "items": args.items,
            "workers": WORKERS,
            "work_sleep_s": SLEEP,
            "size": list(SIZE),
            "window_s": args.window,
        },
        "first_paint_s": round(paint, 3),
        **busy,
        "throughput_bare": round(bare, 1),
        "throughput_ratio": round(ratio, 3),
        "targets": TARGETS,
    }
    p95, cpu = busy["key_p95_ms"], busy["ui_cpu_share"]
    rows = [
        ("first paint, 10,000 items", f"{paint:.2f} s", *against("first_paint_s", paint)),
        ("key latency p50", f"{busy['key_p50_ms']} ms", "", True),
        ("key latency p95", f"{p95} ms", *against("key_p95_ms", p95)),
        ("key p95, cursor moves", f"{busy['key_move_p95_ms']} ms", "", True),
        ("key p95, view/filter/sort (10,000 rows)", f"{busy['key_view_p95_ms']} ms", "", True),
        ("UI-thread CPU (share of one core)", f"{cpu:.2f}", *against("ui_cpu_share", cpu)),
        ("throughput, app open", f"{busy['throughput_with_app']} items/s", "", True),
        ("throughput, no app", f"{bare:.1f} items/s", "", True),
        ("throughput ratio", f"{ratio:.1%}", *against("throughput_ratio", ratio)),
    ]
    print(table(rows))
    write_report(args.out, report)


if __name__ == "__main__":
    main()
