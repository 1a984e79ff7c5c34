"""Engine benchmark: worker speedup on a slow API, use of a rate limit, per-item overhead, live changes.

Run ``uv run python -m bench.engine`` (about two minutes) or ``--quick`` (about 20 s). Every request
goes to the local OpenAI-compatible server on 127.0.0.1 with a real FLAC chunk.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.load import ServerProcess
from bench.report import machine, write_report
from engine.items import Item, State
from engine.limits.limiter import Limiter
from engine.limits.pools import INDEPENDENT, SHARED
from engine.providers.base import Chunk
from engine.providers.openai import SERVICE, OpenAITranscriber
from engine.run.engine import Engine
from engine.run.job import Job
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer

RESULTS = Path(__file__).parent / "results" / "engine.json"
KEYS = ["sk-bench-a", "sk-bench-b", "sk-bench-c"]


def run_engine(
    work: Callable[[Job], None],
    items: int,
    workers: int,
    limiters: tuple[Limiter, ...] = (),
    key_counts: dict[str, int] | None = None,
    during: Callable[[Engine], None] | None = None,
) -> tuple[float, Engine]:
    """Run ``items`` items through a fresh engine; ``during`` runs alongside and may stop it early."""
    engine = Engine(work, workers=workers, limiters=limiters, key_counts=key_counts, retries=0)
    engine.add(Item(-1, f"item-{i}") for i in range(items))
    # A reader pulling at 10 Hz, as the TUI does, so its cost is part of the figures.
    cursor = engine.board.cursor()
    done = threading.Event()

    def read() -> None:
        while not done.wait(0.1):
            cursor.pull()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    started = time.perf_counter()
    engine.start()
    if during is not None:
        during(engine)
    else:
        engine.wait_finished()
    elapsed = time.perf_counter() - started
    engine.stop()
    done.set()
    reader.join()
    return elapsed, engine


def transcribe_work(client: OpenAITranscriber, chunk: Chunk) -> Callable[[Job], None]:
    def work(job: Job) -> None:
        # As the pipeline does: the permit is taken once the request is ready to go out.
        client.transcribe(
            chunk, key_index=job.key_index(SERVICE), before_send=lambda: job.acquire(SERVICE)
        )

    return work


def failed(engine: Engine) -> int:
    return engine.board.count(State.FAILED)


# -- (a) latency-bound speedup -----------------------------------------------------------------


def sleep_work(seconds: float) -> Callable[[Job], None]:
    """The same shape of work with the HTTP stack taken out: a permit, then waiting on the wire."""

    def work(job: Job) -> None:
        job.acquire(SERVICE)
        job.sleep(seconds)

    return work


def bench_speedup(
    chunk: Chunk, quick: bool, latency: float = 0.2, rounds: int | None = None
) -> list[dict[str, Any]]:
    """Items/s for 1..32 workers against a server that answers after ``latency`` seconds.

    The server runs in its own process, as a remote API would: its CPU (it decodes every upload)
    then does not hold this process's interpreter lock.
    """
    counts = [1, 2, 5, 10] if quick else [1, 2, 5, 10, 20, 32]
    rows: list[dict[str, Any]] = []
    server = ServerProcess(latency, None, 10.0)
    client = OpenAITranscriber(server.base_url, KEYS[:1], response_format="json")
    try:
        for n in counts:
            # The same whole number of rounds for every worker count: every run lasts as long, so
            # the warm-up (threads, one new connection per worker) weighs the same in each, and no
            # idle tail counts against the speedup.
            per_worker = rounds or (4 if quick else 16)
            items = n * per_worker
            limiter = Limiter(SERVICE, "100000/s")  # in the path, never binding
            elapsed, engine = run_engine(transcribe_work(client, chunk), items, n, (limiter,))
            rate = items / elapsed
            base = rows[0]["items_per_s"] if rows else rate
            # Engine alone: the pool, limiter and board around a wait as long as one request.
            per_item = elapsed * n / items
            limiter = Limiter(SERVICE, "100000/s")
            alone, _ = run_engine(sleep_work(per_item), items, n, (limiter,))
            rows.append(
                {
                    "latency_s": latency,
                    "workers": n,
                    "items": items,
                    "seconds": round(elapsed, 3),
                    "items_per_s": round(rate, 2),
                    "ideal_items_per_s": round(n / latency, 2),
                    "speedup": round(rate / base, 2),
                    "speedup_per_worker": round(rate / base / n, 3),
                    "engine_only_per_worker": round(per_item * items / n / alone, 3),
                    "failed": failed(engine),
                }
            )
    finally:
        client.close()
        server.stop()
    return rows


# -- (b) limit-bound share ---------------------------------------------------------------------


def window_use(times: list[float], start: float, end: float, window: float, limit: int) -> float:
    """Mean fill of a sliding window [t, t + window) over t in [start, end - window], as a share."""
    times = sorted(times)
    samples, total, t = 0, 0.0, start
    while t <= end - window:
        total += sum(1 for x in times if t <= x < t + window) / limit
        samples += 1
        t += 0.05
    return total / samples if samples else 0.0


def bench_limit(chunk: Chunk, quick: bool) -> dict[str, Any]:
    limit, window, spec = (20, 2.0, "20/2s") if quick else (120, 10.0, "120/10s")
    duration, workers = (6.0, 16) if quick else (30.0, 16)
    with OpenAIServer(latency=0.05, limit=limit, window=window) as server:
        client = OpenAITranscriber(server.base_url, KEYS[:1], response_format="json")
        limiter = Limiter(SERVICE, spec)
        elapsed, engine = run_engine(
            transcribe_work(client, chunk),
            limit * int(duration / window + 2),
            workers,
            (limiter,),
            during=lambda e: time.sleep(duration),
        )
        client.close()
        ok = [a.t for a in server.arrivals if a.status == 200]
        first = min(ok)
        return {
            "limit": spec,
            "workers": workers,
            "seconds": round(elapsed, 2),
            "requests": len(ok),
            "share_of_limit": round(window_use(ok, first, first + duration, window, limit), 4),
            "max_in_window": server.max_in_window(window),
            "limit_per_window": limit,
            "http_429": server.count(429),
            "failed": failed(engine),
        }


# -- (c) engine overhead -----------------------------------------------------------------------


def bench_overhead(quick: bool) -> list[dict[str, Any]]:
    items = 2_000 if quick else 20_000
    rows = []
    for n in (1, 8):
        elapsed, engine = run_engine(lambda job: None, items, n)
        assert engine.board.count(State.DONE) == items
        rows.append(
            {
                "workers": n,
                "items": items,
                "seconds": round(elapsed, 3),
                "items_per_s": round(items / elapsed),
                "ms_per_item": round(elapsed * 1000 / items, 4),
            }
        )
    return rows


# -- (d) live changes --------------------------------------------------------------------------


def bench_live(chunk: Chunk, quick: bool) -> dict[str, Any]:
    limit, window = 20, 2.0
    steps = 6 if quick else 14
    changes: list[tuple[str, Callable[[Engine], object]]] = [
        ("mode independent", lambda e: e.set_rate_mode(INDEPENDENT)),
        ("workers 12", lambda e: e.set_workers(12)),
        ("spec 12/2s", lambda e: e.set_rate_spec("12/2s")),
        ("mode shared", lambda e: e.set_rate_mode(SHARED)),
        ("workers 3", lambda e: e.set_workers(3)),
        ("spec 20/2s", lambda e: e.set_rate_spec("20/2s")),
        ("spec 5/s,20/2s", lambda e: e.set_rate_spec("5/s,20/2s")),
    ]
    done: list[str] = []

    def drive(engine: Engine) -> None:
        for step in range(steps):
            time.sleep(1.0)
            name, change = changes[step % len(changes)]
            change(engine)
            done.append(name)
        time.sleep(1.0)

    with OpenAIServer(latency=0.02, limit=limit, window=window, per_key=True, keys=KEYS) as server:
        client = OpenAITranscriber(server.base_url, KEYS, response_format="json")
        limiter = Limiter(SERVICE, f"{limit}/{window:g}s")
        elapsed, engine = run_engine(
            transcribe_work(client, chunk),
            2000,
            6,
            (limiter,),
            key_counts={SERVICE: len(KEYS)},
            during=drive,
        )
        client.close()
        per_key = {key: server.max_in_window(window, key=key) for key in KEYS}
        return {
            "limit": f"{limit}/{window:g}s per key",
            "seconds": round(elapsed, 2),
            "changes": done,
            "requests": server.count(200),
            "max_in_window_per_key": per_key,
            "limit_per_window": limit,
            "http_429": server.count(429),
            "failed": failed(engine),
        }


# -- report ------------------------------------------------------------------------------------


def table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short smoke run (about 20 s)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        chunk = Chunk(0, 0.0, 0.5, write_tone(Path(folder) / "chunk.flac", seconds=0.5))
        speedup = bench_speedup(chunk, args.quick)
        # About what a transcription request takes for a short clip; long chunks take far longer.
        speedup_slow = [] if args.quick else bench_speedup(chunk, False, latency=1.0, rounds=8)
        limit = bench_limit(chunk, args.quick)
        overhead = bench_overhead(args.quick)
        live = bench_live(chunk, args.quick)

    live_row = {**live, "worst_key": max(live["max_in_window_per_key"].values())}
    print(
        table(
            "Latency-bound speedup (server latency 0.2 s)",
            speedup,
            ["workers", "items", "seconds", "items_per_s", "speedup", "speedup_per_worker"]
            + ["engine_only_per_worker"],
        )
    )
    if speedup_slow:
        print(
            table(
                "Latency-bound speedup (server latency 1.0 s)",
                speedup_slow,
                ["workers", "items", "seconds", "items_per_s", "speedup", "speedup_per_worker"]
                + ["engine_only_per_worker"],
            )
        )
    print(
        table(
            "Limit-bound run",
            [limit],
            ["limit", "workers", "seconds", "requests", "share_of_limit", "max_in_window"]
            + ["http_429"],
        )
    )
    print(table("Engine overhead (no-op work)", overhead, list(overhead[0])))
    print(
        table(
            "Live changes",
            [live_row],
            ["limit", "seconds", "requests", "worst_key", "limit_per_window", "http_429"],
        )
    )
    report = {
        "machine": machine(),
        "quick": args.quick,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "speedup": speedup,
        "speedup_1s": speedup_slow,
        "limit": limit,
        "overhead": overhead,
        "live": live,
    }
    write_report(args.out, report)


if __name__ == "__main__":
    main()
