"""Session store costs: per-transition saves by batch size, chunk saves, and loading 10,000 items.

Run with ``uv run python -m bench.store``; prints a markdown table and writes
``bench/results/store.json``. Both ``synchronous`` settings are measured so the choice in
``sessions/store.py`` stays an informed one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.items import Item, State
from engine.segments import Segment
from sessions.store import Store
from tests.itemgen import listed_video

ITEMS = 10_000
BATCHES = (1, 10, 100)
CHUNK_SEGMENTS = 150  # about ten minutes of speech
RESULTS = Path(__file__).parent / "results" / "store.json"


def sample_item(n: int) -> Item:
    """An item filled the way a finished YouTube item is."""
    return listed_video(
        n,
        f"https://www.youtube.com/watch?v=vid{n:07d}",
        title=f"Episode {n}: a reasonably long title about something interesting",
        duration=1834.5,
        stage_times={"metadata": 0.8, "transcript": 41.2, "write": 0.01},
        outputs={"md": f"/out/episode-{n}.md", "srt": f"/out/episode-{n}.srt"},
        meta={
            "url": f"https://www.youtube.com/watch?v=vid{n:07d}",
            "channel": "Some Channel",
            "upload_date": "20250101",
            "tags": ["science", "talk", "interview"],
            "view_count": 12345,
        },
        preview=("First line of the transcript.", "Second line.", "Third line."),
    )


def transitions(store: Store, sid: str, items: list[Item], batch: int, count: int) -> float:
    """Average milliseconds per item transition when saved ``batch`` at a time."""
    changed = [
        items[n % len(items)].evolve(state=State.RUNNING, stage="transcript", version=n + 1)
        for n in range(count)
    ]
    groups = [changed[i : i + batch] for i in range(0, count, batch)]  # built before the clock
    started = time.perf_counter()
    for group in groups:
        store.save_items(sid, group)
    return (time.perf_counter() - started) * 1000 / count


def chunk_saves(store: Store, sid: str, count: int) -> float:
    segments = [Segment(i * 4.0, i * 4.0 + 3.9, "some words spoken here " * 3) for i in range(150)]
    started = time.perf_counter()
    for idx in range(count):
        store.save_chunk(sid, idx % 50, idx, idx * 600.0, idx * 600.0 + 600.0, segments, "en")
    return (time.perf_counter() - started) * 1000 / count


def measure(folder: Path, synchronous: str) -> dict[str, Any]:
    path = folder / f"{synchronous.lower()}.db"
    items = [sample_item(n) for n in range(ITEMS)]
    store = Store.open(path, synchronous=synchronous)
    sid = store.create_session(name="bench", inputs=["list.csv"], settings={}, output_dir="/out")
    started = time.perf_counter()
    store.save_items(sid, items)
    seed_ms = (time.perf_counter() - started) * 1000
    # Fewer single-item commits under FULL: each one waits for the disk.
    counts = {1: 300 if synchronous == "FULL" else 2000, 10: 3000, 100: 10_000}
    per_batch = {b: transitions(store, sid, items, b, counts[b]) for b in BATCHES}
    chunk_ms = chunk_saves(store, sid, 100 if synchronous == "FULL" else 300)
    store.close()

    # Opening and loading are read-only: repeat and keep the median, the machine is shared.
    timings: list[tuple[float, float, float]] = []
    for _ in range(5):
        started = time.perf_counter()
        store = Store.open(path, synchronous=synchronous)
        opened = time.perf_counter()
        listing = store.sessions()
        listed = time.perf_counter()
        loaded = store.load_items(sid)
        done = time.perf_counter()
        store.close()
        timings.append(
            ((opened - started) * 1000, (listed - opened) * 1000, (done - listed) * 1000)
        )
    open_ms, list_ms, load_ms = sorted(timings, key=sum)[len(timings) // 2]
    assert len(loaded) == ITEMS and listing[0].total == ITEMS
    return {
        "synchronous": synchronous,
        "ms_per_transition": {str(b): round(v, 4) for b, v in per_batch.items()},
        "save_chunk_ms": round(chunk_ms, 3),
        "seed_10k_items_ms": round(seed_ms, 1),
        "open_ms": round(open_ms, 2),
        "sessions_list_ms": round(list_ms, 2),
        "load_items_10k_ms": round(load_ms, 1),
        "open_list_load_10k_ms": round(open_ms + list_ms + load_ms, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__)
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bulkscribe-bench-") as tmp:
        runs = [measure(Path(tmp), mode) for mode in ("NORMAL", "FULL")]
    print("| synchronous | ms/transition b=1 | b=10 | b=100 | save_chunk ms "
          "| open+list+load 10k ms | load_items 10k ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        t = r["ms_per_transition"]
        print(
            f"| {r['synchronous']} | {t['1']:.3f} | {t['10']:.3f} | {t['100']:.4f} "
            f"| {r['save_chunk_ms']:.3f} | {r['open_list_load_10k_ms']:.1f} "
            f"| {r['load_items_10k_ms']:.1f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "store",
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "load_average": os.getloadavg()[0],  # a busy machine inflates every number here
        "items": ITEMS,
        "runs": runs,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
