"""Resume benchmark: a saved 10,000-item session reopened — store load, engine set-up, first paint.

Run ``uv run python -m bench.resume`` (about 20 s). A session of 10,000 items in mixed states (done,
failed, queued, and some left running as if the process had been killed) is written to a private
store; then the clock runs from ``Store.open`` through ``LiveSession.resume`` to the app's first frame,
as ``bulkscribe --resume`` does. Also reports the store's average cost per committed transition when
the recorder batches the changes of a busy run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Unpack

from engine.items import Item, State
from engine.providers.base import Chunk, SendOptions, Transcriber, Transcript
from engine.settings import Settings
from sessions.live import LiveSession
from sessions.store import Store
from tui.app import BulkscribeApp

RESULTS = Path(__file__).parent / "results" / "resume.json"
TARGET_SCREEN_S = 2.0
TARGET_TRANSITION_MS = 1.0


class IdleTranscriber(Transcriber):
    """Resume never transcribes in this bench: the app opens paused, so nothing is sent."""

    name = "bench"

    def transcribe(
        self, chunk: Chunk, language: str | None = None, **options: Unpack[SendOptions]
    ) -> Transcript:
        return Transcript(())


def saved_session(store: Store, items: int, output: Path) -> str:
    settings = Settings(asr="sphinx", output=str(output))
    session_id = store.create_session(
        name="bench", inputs=["bench.txt"], settings=settings.saved(), output_dir=str(output)
    )
    states = [State.DONE] * 6 + [State.FAILED, State.QUEUED, State.QUEUED, State.RUNNING]
    rows = [
        Item(
            i,
            source=f"https://example.org/episode-{i}.mp3",
            kind="url",
            location=f"https://example.org/episode-{i}.mp3",
            title=f"Episode {i}: a title of ordinary length",
            duration=1800.0 + i,
            state=states[i % len(states)],
            attempts=1,
            error="the API failed (500)" if states[i % len(states)] is State.FAILED else None,
            meta={"channel": "Bench", "stem": f"Episode {i}"},
            outputs={"md": str(output / f"Episode {i}.md")}
            if states[i % len(states)] is State.DONE
            else {},
        )
        for i in range(items)
    ]
    store.save_items(session_id, rows)
    store.update_session(session_id, status="running")
    return session_id


def transition_cost(store: Store, session_id: str, items: int, batch: int) -> float:
    """Milliseconds per item transition when the recorder commits ``batch`` changes at a time."""
    loaded = store.load_items(session_id)[:items]
    start = time.perf_counter()
    for offset in range(0, len(loaded), batch):
        store.save_items(
            session_id,
            [item.evolve(stage="transcribe") for item in loaded[offset : offset + batch]],
        )
    return (time.perf_counter() - start) * 1000 / len(loaded)


async def open_screen(data: Path, session_id: str) -> dict[str, float]:
    marks: dict[str, float] = {}
    start = time.perf_counter()
    store = Store.open(data / "bulkscribe" / "sessions.db")
    info = store.session(session_id)
    settings = Settings.from_saved(dict(info.settings))
    live = LiveSession.resume(store, info, settings, transcriber=IdleTranscriber())
    live.batch.engine.pause()
    marks["store_and_engine_s"] = time.perf_counter() - start
    app = BulkscribeApp(live.batch, session_name=live.name, autostart=False)
    async with app.run_test(headless=True, size=(120, 40)) as pilot:
        await pilot.pause()
        marks["first_paint_s"] = time.perf_counter() - start
        await app.action_quit()
    live.close()
    store.close()
    return marks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bulkscribe-bench-") as tmp:
        data = Path(tmp) / "data"
        os.environ["XDG_DATA_HOME"] = str(data)
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")
        store = Store.open(data / "bulkscribe" / "sessions.db")
        session_id = saved_session(store, args.items, Path(tmp) / "out")
        costs = {
            f"batch_{n}": round(transition_cost(store, session_id, 2000, n), 4)
            for n in (1, 10, 100)
        }
        store.close()
        marks = asyncio.run(open_screen(data, session_id))
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count()},
        "items": args.items,
        **{k: round(v, 3) for k, v in marks.items()},
        "ms_per_transition": costs,
        "targets": {"screen_s": TARGET_SCREEN_S, "ms_per_transition": TARGET_TRANSITION_MS},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| measure ({args.items:,} items) | value | target |")
    print("|---|---:|---:|")
    print(f"| store open + load + engine set-up | {marks['store_and_engine_s']:.2f} s | |")
    print(f"| resume to first paint | {marks['first_paint_s']:.2f} s | <= {TARGET_SCREEN_S} s |")
    for name, cost in costs.items():
        print(
            f"| ms per transition, {name.replace('_', ' of ')} | {cost:.3f} | <= {TARGET_TRANSITION_MS} |"
        )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
