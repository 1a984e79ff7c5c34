"""Load benchmark: 10,000 real FLAC files through the real pipeline, 64 workers, at the API's limit.

Run ``uv run python -m bench.load`` (about seven minutes on 2 cores). Every item is a tiny real FLAC
file (hard links to a handful of 0.5 s tones, each under its own name), probed, decoded, cut into a
chunk, sent over HTTP to the local OpenAI-compatible server (in its own process, limit set to the
same spec as the client), written as Markdown, and recorded in a real session database (SQLite in
a temporary XDG_DATA_HOME). The full-screen app runs headless over the batch and is sent a key every
half second, so key latency under load is measured too (``--no-app`` leaves it out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.report import machine, write_report
from tui.memory import DEFAULT_ARENAS, cap_malloc_arenas

if TYPE_CHECKING:
    from engine.settings import Settings

RESULTS = Path(__file__).parent / "results" / "load.json"
TONES = (300, 440, 660, 880)
APP_KEYS = ("down", "down", "pagedown", "up", "home", "2", "1")
MOVES = {"down", "up", "pagedown", "home", "end"}
RSS_TARGET_MB = 250.0


def add_arenas_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--malloc-arenas",
        type=int,
        default=DEFAULT_ARENAS,
        help=f"cap glibc malloc arenas as the app does at start (default {DEFAULT_ARENAS}; 0: no cap)",
    )


def cap_arenas(args: argparse.Namespace) -> None:
    """Cap glibc's malloc arenas as ``--malloc-arenas`` says, as bulkscribe does at start, before
    any thread."""
    if args.malloc_arenas:
        cap_malloc_arenas(args.malloc_arenas)


# -- the process, as /proc sees it ---------------------------------------------------------------


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM in kB and the thread count, from /proc/<pid>/status."""
    wanted = {"VmRSS", "VmHWM", "Threads"}
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in wanted:
            found[name] = int(value.split()[0])
    return found


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if values else 0.0


# -- media -----------------------------------------------------------------------------------------


def make_tones(folder: Path, seconds: float = 0.5) -> list[Path]:
    from tests.mediagen import write_tone

    folder.mkdir(parents=True, exist_ok=True)
    return [write_tone(folder / f"tone-{f}.flac", seconds=seconds, freq=f) for f in TONES]


def link_inputs(tones: list[Path], folder: Path, first: int, count: int) -> list[Path]:
    """``count`` distinct paths (hard links, so no copies) to the tones, numbered from ``first``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(first, first + count):
        path = folder / f"episode-{n:06d}.flac"
        os.link(tones[n % len(tones)], path)
        paths.append(path)
    return paths


# -- the API server, in its own process like a real remote API -----------------------------------


@dataclass(frozen=True)
class FaultMix:
    """Chance per request of each fault; drawn from a seeded generator, so a run can be replayed."""

    seed: int = 1
    rates: tuple[tuple[str, float], ...] = ()
    hold: float = 8.0  # a "timeout" holds the answer this long (the client gives up first)


def _serve(pipe: Any, latency: float, limit: int | None, window: float, faults: FaultMix) -> None:
    import random

    from tests.servers.openai_api import Fault, OpenAIServer

    server = OpenAIServer(latency=latency, limit=limit, window=window)
    if faults.rates:
        rng = random.Random(faults.seed)
        lock = threading.Lock()

        def plan(index: int, key: str | None) -> Fault | None:
            with lock:
                roll = rng.random()
            for name, chance in faults.rates:
                if roll < chance:
                    return Fault(name, retry_after=1, hold=faults.hold)
                roll -= chance
            return None

        server.fault_fn = plan
    with server:
        pipe.send(server.base_url)
        pipe.recv()  # wait for "stop"
    statuses = sorted({a.status for a in server.arrivals})
    ok = [a.t for a in server.arrivals if a.status == 200]
    pipe.send(
        {
            "requests": server.count(),
            "by_status": {str(s): server.count(s) for s in statuses},
            "max_in_window": server.max_in_window(window) if limit else None,
            "first_ok": min(ok) if ok else None,
            "last_ok": max(ok) if ok else None,
            "server_peak_rss_mb": round(proc_status()["VmHWM"] / 1024, 1),
            "arrivals": sorted(a.t for a in server.arrivals),
        }
    )


class ServerProcess:
    """The local API server in a child process; ``stop()`` returns what it saw."""

    def __init__(
        self, latency: float, limit: int | None, window: float, faults: FaultMix = FaultMix()
    ) -> None:
        ctx = mp.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve, args=(child, latency, limit, window, faults), daemon=True
        )
        self._proc.start()
        if not self._pipe.poll(60):
            raise RuntimeError("the local API server did not start")
        self.base_url: str = self._pipe.recv()

    def stop(self) -> dict[str, Any]:
        self._pipe.send("stop")
        report: dict[str, Any] = self._pipe.recv() if self._pipe.poll(60) else {}
        self._proc.join(10)
        return report


def use_folder(folder: Path) -> None:
    """Keep this run's session store and config under ``folder`` (before anything opens them)."""
    os.environ["XDG_DATA_HOME"] = str(folder / "data")
    os.environ["XDG_CONFIG_HOME"] = str(folder / "config")


def served_settings(
    args: argparse.Namespace, server: ServerProcess, folder: Path, key: str
) -> Settings:
    """A batch against the local server: its limit as the rate limit, ``args.workers`` in parallel."""
    from engine.settings import Settings

    return Settings(
        asr="openai",
        api_base=server.base_url,
        api_keys=(key,),
        output=str(folder / "out"),
        workers=args.workers,
        parallel=True,
        rate_limit=f"{args.limit}/{args.window:g}s",
        retries=3,
    )


# -- sampling --------------------------------------------------------------------------------------


class Sampler:
    """Samples RSS and threads of this process every ``every`` seconds on its own thread."""

    def __init__(self, every: float, done: Any) -> None:
        self.samples: list[dict[str, float]] = []
        self._every, self._done = every, done
        self._stop = threading.Event()
        self._start = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            status = proc_status()
            self.samples.append(
                {
                    "t": round(time.perf_counter() - self._start, 2),
                    "rss_mb": round(status["VmRSS"] / 1024, 1),
                    "threads": status["Threads"],
                    "done": self._done(),
                }
            )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def time_grants(limiter: Any) -> list[float]:
    """Record when each permit is granted (monotonic, the clock the server's arrivals use too)."""
    grants: list[float] = []
    acquire = limiter.acquire

    def timed(*args: Any, **kwargs: Any) -> Any:
        permit = acquire(*args, **kwargs)
        grants.append(time.monotonic())
        return permit

    limiter.acquire = timed
    return grants


def delays_ms(grants: list[float], arrivals: list[float]) -> dict[str, float]:
    """Grant-to-arrival delay, pairing the k-th permit with the k-th arrival (order is near-kept)."""
    gaps = [(a - g) * 1000 for g, a in zip(sorted(grants), arrivals, strict=False)]
    return {q: round(percentile(gaps, v), 1) for q, v in (("p50", 0.5), ("p99", 0.99), ("max", 1))}


# -- the run ---------------------------------------------------------------------------------------


async def watch_with_app(live: Any, latencies: list[tuple[str, float]]) -> None:
    """Run the engine with the app open headless; send a key every 0.5 s and time it to the paint."""
    from bench.tui import key_to_paint, watch_frames
    from tui.app import BulkscribeApp

    # The end-of-batch summary would take the last key timed as the engine finishes.
    app = BulkscribeApp(live.batch, session_name=live.name, autostart=False, end_summary=False)
    frames = watch_frames(app)
    async with app.run_test(headless=True, size=(120, 40)):
        live.batch.engine.start()
        n = 0
        while not live.batch.engine.finished:
            await asyncio.sleep(0.5)
            key = APP_KEYS[n % len(APP_KEYS)]
            n += 1
            try:
                painted, _ = await key_to_paint(app, key, frames)  # to paint; to effect unused
                latencies.append((key, painted))
            except RuntimeError:
                latencies.append((key, float("nan")))  # no visible effect within 5 s
        await app.action_quit()


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    use_folder(folder)
    from engine.inputs import read_inputs
    from engine.items import State
    from engine.limits.services import Service
    from sessions.live import LiveSession
    from sessions.store import Store

    tones = make_tones(folder / "tones")
    link_inputs(tones, folder / "inputs", 0, args.items)
    server = ServerProcess(args.latency, args.limit, args.window)
    rss_before = proc_status()["VmRSS"] / 1024
    store = Store.open()
    settings = served_settings(args, server, folder, "sk-load")
    sources = read_inputs([str(folder / "inputs")]).sources
    live = LiveSession.create(store, settings, [str(folder / "inputs")], sources)
    board = live.batch.board
    grants = time_grants(live.batch.limits[Service.ASR])
    sampler = Sampler(0.5, lambda: board.count(State.DONE))
    latencies: list[tuple[str, float]] = []
    started = time.perf_counter()
    if args.app:
        asyncio.run(watch_with_app(live, latencies))
    else:
        live.batch.engine.start()
        live.batch.engine.wait_finished()
    elapsed = time.perf_counter() - started
    sampler.stop()
    manifest = json.loads(live.close().read_text(encoding="utf-8"))
    saved = store.load_items(live.session_id)
    store.close()
    seen = server.stop()
    status = proc_status()

    items = board.items()
    outputs = [Path(p) for item in items for p in item.outputs.values()]
    keys_ms = [ms for _, ms in latencies if ms == ms]
    moves_ms = [ms for key, ms in latencies if key in MOVES and ms == ms]
    rss = [s["rss_mb"] for s in sampler.samples]
    limit_per_s = args.limit / args.window
    return {
        "items": args.items,
        "workers": args.workers,
        "spec": settings.rate_limit,
        "server_latency_s": args.latency,
        "app_open": args.app,
        "malloc_arenas": args.malloc_arenas or None,
        "seconds": round(elapsed, 1),
        "items_per_s": round(args.items / elapsed, 2),
        "limit_per_s": round(limit_per_s, 2),
        "share_of_limit": round(args.items / elapsed / limit_per_s, 3),
        "done": sum(1 for item in items if item.state is State.DONE),
        "failed": sum(1 for item in items if item.state is State.FAILED),
        "manifest_items": len(manifest["items"]),
        "manifest_done": manifest["counts"].get("done", 0),
        "store_done": sum(1 for item in saved if item.state is State.DONE),
        "outputs_missing": sum(1 for path in outputs if not path.is_file()),
        "outputs": len(outputs),
        "max_in_window": seen.get("max_in_window"),
        "limit": args.limit,
        "http_429": seen.get("by_status", {}).get("429", 0),
        "requests": seen.get("requests"),
        "grant_to_arrival_ms": delays_ms(grants, seen.get("arrivals", [])),
        "rss_before_mb": round(rss_before, 1),
        "rss_peak_mb": round(status["VmHWM"] / 1024, 1),
        "rss_sampled_max_mb": max(rss, default=0.0),
        "rss_end_mb": round(status["VmRSS"] / 1024, 1),
        "threads_max": max((s["threads"] for s in sampler.samples), default=0),
        "server_peak_rss_mb": seen.get("server_peak_rss_mb"),
        "keys_sent": len(latencies),
        "keys_without_effect": len(latencies) - len(keys_ms),
        "key_p50_ms": round(percentile(keys_ms, 0.5), 1),
        "key_p95_ms": round(percentile(keys_ms, 0.95), 1),
        "key_move_p95_ms": round(percentile(moves_ms, 0.95), 1),
        "key_max_ms": round(max(keys_ms, default=0.0), 1),
        "load_avg_1min_end": round(os.getloadavg()[0], 2),
        "rss_curve": sampler.samples[:: max(1, len(sampler.samples) // 120)],
    }


def report_table(result: dict[str, Any]) -> str:
    ok_lost = result["done"] == result["items"] == result["manifest_items"] == result["store_done"]
    rows = [
        (
            "items done / manifest / store",
            f"{result['done']} / {result['manifest_items']} / {result['store_done']}",
            f"{result['items']}",
            ok_lost,
        ),
        (
            "output files missing",
            str(result["outputs_missing"]),
            "0",
            result["outputs_missing"] == 0,
        ),
        (
            "max requests in any window",
            f"{result['max_in_window']}",
            f"≤ {result['limit']}",
            (result["max_in_window"] or 0) <= result["limit"],
        ),
        ("HTTP 429", str(result["http_429"]), "0", result["http_429"] == 0),
        ("items/s", f"{result['items_per_s']}", f"limit {result['limit_per_s']}/s", True),
        ("share of limit", f"{result['share_of_limit']:.1%}", "", True),
        (
            "peak RSS (VmHWM)",
            f"{result['rss_peak_mb']} MB",
            f"< {RSS_TARGET_MB:g} MB",
            result["rss_peak_mb"] < RSS_TARGET_MB,
        ),
        ("threads (max)", str(result["threads_max"]), "", True),
    ]
    if result["app_open"]:
        rows += [
            (
                "key latency p50 / p95",
                f"{result['key_p50_ms']} / {result['key_p95_ms']} ms",
                "",
                True,
            ),
            ("key p95, cursor moves", f"{result['key_move_p95_ms']} ms", "", True),
        ]
    lines = ["| measure | result | target | met |", "|---|---:|---:|:-:|"]
    lines += [f"| {a} | {b} | {c} | {'yes' if ok else 'NO'} |" for a, b, c, ok in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument(
        "--limit", type=int, default=300, help="requests per window (client and server)"
    )
    parser.add_argument("--window", type=float, default=10.0, help="window in seconds")
    parser.add_argument("--latency", type=float, default=0.25, help="server seconds per request")
    parser.add_argument("--no-app", dest="app", action="store_false", help="no headless app")
    add_arenas_option(parser)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--append", action="store_true", help="add this run to the JSON's runs")
    args = parser.parse_args(argv)
    cap_arenas(args)

    with tempfile.TemporaryDirectory(prefix="bulkscribe-load-") as folder:
        result = run(args, Path(folder))
    print(report_table(result))
    runs = []
    if args.append and args.out.exists():
        runs = json.loads(args.out.read_text(encoding="utf-8")).get("runs", [])
    runs.append({"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **result})
    report = {
        "machine": machine(),
        "targets": {"rss_peak_mb": RSS_TARGET_MB, "http_429": 0, "lost_items": 0},
        "runs": runs,
    }
    write_report(args.out, report)


if __name__ == "__main__":
    main()
