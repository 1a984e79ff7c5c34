"""Soak benchmark: hours of continuous work with faults, sampling memory, threads, descriptors and the database.

Run ``uv run python -m bench.soak --minutes 120`` (it stops by itself). The real pipeline, engine,
limiter, board and session recorder work through tiny real FLAC files fed continuously (new ones are
queued as others finish) against the local API server in its own process, limited to the same spec
as the client and failing a seeded share of requests with 429s, 5xx, time-outs and resets. Every
30 s it samples RSS, threads, open descriptors and the SQLite files; tracemalloc snapshots after the
warm-up and at the end show which allocations grew.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.load import (
    FaultMix,
    ServerProcess,
    add_arenas_option,
    cap_arenas,
    link_inputs,
    make_tones,
    open_fds,
    proc_status,
    served_settings,
    use_folder,
)
from bench.report import machine, write_report

RESULTS = Path(__file__).parent / "results" / "soak.json"
FAULTS = FaultMix(
    seed=20261128,
    rates=(("429", 0.005), ("500", 0.01), ("503", 0.01), ("timeout", 0.005), ("reset", 0.01)),
    hold=8.0,
)
CLIENT_TIMEOUT = 5.0  # shorter than a "timeout" fault's hold, so the client really times out
TOP = 12


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return sum((t - mx) * (v - my) for t, v in points) / var * 3600 if var else 0.0


def db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def top_growth(start: tracemalloc.Snapshot, end: tracemalloc.Snapshot) -> list[dict[str, Any]]:
    """The allocation sites whose live memory grew most between the two snapshots."""
    keep = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen*")]
    diff = end.filter_traces(keep).compare_to(start.filter_traces(keep), "traceback")
    rows = []
    for stat in diff[:TOP]:
        # Most recent frame first: the line that allocated, then its callers.
        frames = [
            f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in reversed(stat.traceback)
        ]
        rows.append(
            {
                "kib_growth": round(stat.size_diff / 1024, 1),
                "kib_now": round(stat.size / 1024, 1),
                "blocks_growth": stat.count_diff,
                "where": frames,
            }
        )
    return rows


class Feeder:
    """Keeps ``depth`` items queued: new hard-linked files are parsed and added as others finish."""

    def __init__(self, live: Any, tones: list[Path], folder: Path, depth: int) -> None:
        self.live, self.tones, self.folder, self.depth = live, tones, folder, depth
        self.added = 0

    def top_up(self) -> None:
        from engine.inputs import read_inputs
        from engine.items import State

        board = self.live.batch.board
        missing = self.depth - board.count(State.QUEUED)
        if missing > 0:
            paths = link_inputs(self.tones, self.folder, self.added, missing)
            self.live.batch.add_sources(read_inputs([str(p) for p in paths]).sources)
            self.added += missing


def sample(t0: float, live: Any, db: Path) -> dict[str, Any]:
    from engine.items import State

    board, status = live.batch.board, proc_status()
    traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
    overhead = tracemalloc.get_tracemalloc_memory() if tracemalloc.is_tracing() else 0
    return {
        "t": round(time.perf_counter() - t0, 1),
        "rss_mb": round(status["VmRSS"] / 1024, 1),
        "rss_less_tracing_mb": round((status["VmRSS"] * 1024 - overhead) / 2**20, 1),
        "threads": status["Threads"],
        "fds": open_fds(),
        "db_mb": round(db_bytes(db) / 2**20, 2),
        "items": len(board),
        "done": board.count(State.DONE),
        "failed": board.count(State.FAILED),
        "python_heap_mb": round(traced / 2**20, 1),
    }


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    use_folder(folder)
    from engine.providers.openai import OpenAITranscriber
    from sessions.live import LiveSession
    from sessions.store import Store

    duration = args.minutes * 60
    warmup = min(300.0, duration * 0.1)
    tones = make_tones(folder / "tones")
    server = ServerProcess(args.latency, args.limit, args.window, FAULTS)
    if args.tracemalloc:
        tracemalloc.start(6)
    store = Store.open()
    settings = served_settings(args, server, folder, "sk-soak")
    client = OpenAITranscriber(server.base_url, settings.api_keys, timeout=CLIENT_TIMEOUT)
    live = LiveSession.create(store, settings, [], [], transcriber=client)
    feeder = Feeder(live, tones, folder / "inputs", depth=2 * args.workers)
    feeder.top_up()
    t0 = time.perf_counter()
    live.batch.engine.start()
    samples = [sample(t0, live, store.path)]
    print(json.dumps(samples[-1]), flush=True)
    first: tracemalloc.Snapshot | None = None
    next_sample = args.every
    while (now := time.perf_counter() - t0) < duration:
        feeder.top_up()
        if first is None and now >= warmup and args.tracemalloc:
            first = tracemalloc.take_snapshot()
        if now >= next_sample:
            samples.append(sample(t0, live, store.path))
            print(json.dumps(samples[-1]), flush=True)
            next_sample += args.every
        time.sleep(1.0)
    # The last sample comes before the snapshot: taking one costs tens of MB of its own.
    samples.append(sample(t0, live, store.path))
    last = tracemalloc.take_snapshot() if args.tracemalloc else None
    growth = top_growth(first, last) if first is not None and last is not None else []
    tracemalloc.stop()
    live.close()
    seen = server.stop()
    seen.pop("arrivals", None)
    events = len(store.load_events(live.session_id))
    store.close()
    return summarise(args, samples, warmup, growth, seen, events, feeder.added)


def summarise(
    args: argparse.Namespace,
    samples: list[dict[str, Any]],
    warmup: float,
    growth: list[dict[str, Any]],
    seen: dict[str, Any],
    events: int,
    added: int,
) -> dict[str, Any]:
    steady = [s for s in samples if s["t"] >= warmup] or samples
    warm, end = steady[0], samples[-1]
    finished = end["done"] + end["failed"]
    hours = max(1e-9, (end["t"] - warm["t"]) / 3600)
    return {
        "minutes": args.minutes,
        "workers": args.workers,
        "spec": f"{args.limit}/{args.window:g}s",
        "server_latency_s": args.latency,
        "fault_rates": dict(FAULTS.rates),
        "client_timeout_s": CLIENT_TIMEOUT,
        "tracemalloc": args.tracemalloc,
        "malloc_arenas": args.malloc_arenas or None,
        "warmup_s": warmup,
        "items_added": added,
        "items_done": end["done"],
        "items_failed": end["failed"],
        "items_per_min": round(finished / max(1.0, end["t"]) * 60, 1),
        "server": seen,
        "events_kept": events,
        "rss_start_mb": samples[0]["rss_mb"],
        "rss_warm_mb": warm["rss_mb"],
        "rss_end_mb": end["rss_mb"],
        "rss_max_mb": max(s["rss_mb"] for s in samples),
        "rss_slope_mb_per_h": round(slope_per_hour([(s["t"], s["rss_mb"]) for s in steady]), 2),
        "rss_less_tracing_slope_mb_per_h": round(
            slope_per_hour([(s["t"], s["rss_less_tracing_mb"]) for s in steady]), 2
        ),
        "python_heap_slope_mb_per_h": round(
            slope_per_hour([(s["t"], s["python_heap_mb"]) for s in steady]), 2
        ),
        "python_heap_growth_bytes_per_item": round(
            (end["python_heap_mb"] - warm["python_heap_mb"])
            * 2**20
            / max(1, end["items"] - warm["items"])
        ),
        # What a finished item costs for good: the Board's record of it and the input's parse.
        # Growth beyond this, with few items added, is a leak.
        "rss_growth_bytes_per_item": round(
            (end["rss_less_tracing_mb"] - warm["rss_less_tracing_mb"])
            * 2**20
            / max(1, end["items"] - warm["items"])
        ),
        "db_slope_mb_per_h": round((end["db_mb"] - warm["db_mb"]) / hours, 2),
        "threads_range": [min(s["threads"] for s in steady), max(s["threads"] for s in steady)],
        "fds_range": [min(s["fds"] for s in steady), max(s["fds"] for s in steady)],
        "top_growth": growth,
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--limit", type=int, default=300, help="requests per window")
    parser.add_argument("--window", type=float, default=60.0, help="window in seconds")
    parser.add_argument("--latency", type=float, default=0.3, help="server seconds per request")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--no-tracemalloc", dest="tracemalloc", action="store_false")
    add_arenas_option(parser)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    cap_arenas(args)
    # However the run ends, it ends: a hang at close is dumped and the process leaves.
    faulthandler.dump_traceback_later(args.minutes * 60 + 600, exit=True)

    with tempfile.TemporaryDirectory(prefix="bulkscribe-soak-") as folder:
        result = run(args, Path(folder))
    keys = ["rss_start_mb", "rss_warm_mb", "rss_end_mb", "rss_slope_mb_per_h"]
    keys += ["python_heap_slope_mb_per_h", "python_heap_growth_bytes_per_item", "db_slope_mb_per_h"]
    keys += ["threads_range", "fds_range", "items_done", "items_failed", "items_per_min"]
    print("| measure | value |\n|---|---:|")
    for key in keys:
        print(f"| {key} | {result[key]} |")
    print("| server statuses | " + json.dumps(result["server"].get("by_status", {})) + " |")
    for row in result["top_growth"][:5]:
        print(f"+{row['kib_growth']} KiB ({row['blocks_growth']:+} blocks) at {row['where'][0]}")
    report = {
        "machine": machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **result,
    }
    write_report(args.out, report)


if __name__ == "__main__":
    main()
