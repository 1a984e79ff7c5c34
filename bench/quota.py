"""Quota benchmark: how much of a server's real request capacity the engine uses, and at what cost.

Run ``uv run python -m bench.quota`` (all scenarios, about 15 minutes on 2 cores) or pick some with
``--only a,c``. Each scenario runs the real engine (worker pool, limiter, retries) and the real
OpenAI client against the local API server in its own process, counting as the server counts:

  (a) spec equal to the server's limit (300/min vs 300/min)
  (b) spec above it (300/min vs a server allowing 200/min)
  (c) quantised: 300/min vs a server allowing 50 per sliding 10 s
  (d) (b) and (c) again from a server that sends no x-ratelimit-* headers
  (e) full load: 10,000 items x 64 workers at 300 per 10 s (``--items-e`` sets the size)

For each: the share of the server's capacity used (whole run, and after its first window), 429s
per 1,000 requests, the longest spell with nothing in flight against the longest Retry-After, and
the most successful requests the server saw in any window (never above its limit).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "quota.json"


@dataclass(frozen=True)
class Scenario:
    name: str
    spec: str
    limit: int  # the server's
    window: float
    headers: bool = True
    workers: int = 16
    seconds: float = 90.0  # how long the run should last at the server's rate
    items: int | None = None  # fixed size instead of ``seconds``

    def size(self) -> int:
        if self.items is not None:
            return self.items
        return int(self.limit + self.limit / self.window * self.seconds)


SCENARIOS = {
    "a": Scenario("a", "300/min", 300, 60.0),
    "b": Scenario("b", "300/min", 200, 60.0, seconds=120.0),
    "c": Scenario("c", "300/min", 50, 10.0),
    "d-b": Scenario("d-b", "300/min", 200, 60.0, headers=False, seconds=120.0),
    "d-c": Scenario("d-c", "300/min", 50, 10.0, headers=False),
    "e": Scenario("e", "300/10s", 300, 10.0, workers=64, items=10_000),
}


def _serve(pipe: Any, latency: float, limit: int, window: float, headers: bool) -> None:
    from tests.servers.openai_api import OpenAIServer

    server = OpenAIServer(latency=latency, limit=limit, window=window)
    server.rate_headers = headers
    with server:
        pipe.send(server.base_url)
        pipe.recv()
    arrivals = server.arrivals
    pipe.send(
        {
            "max_in_window": server.max_in_window(window),
            "ok": sorted(a.t for a in arrivals if a.status == 200),
            "by_status": {str(s): sum(a.status == s for a in arrivals) for s in {200, 429, 0}},
        }
    )


def longest_idle(spans: list[tuple[float, float]]) -> float:
    """The longest gap between the first send and the last answer with no request in flight."""
    gap, reach = 0.0, None
    for start, end in sorted(spans):
        if reach is not None and start > reach:
            gap = max(gap, start - reach)
        reach = end if reach is None else max(reach, end)
    return gap


def run_scenario(sc: Scenario, chunk: Any, latency: float) -> dict[str, Any]:
    from engine.errors import RateLimited
    from engine.items import Item, State
    from engine.limits.limiter import Limiter
    from engine.providers.openai import OpenAITranscriber
    from engine.run.engine import Engine

    ctx = mp.get_context("spawn")
    pipe, child = ctx.Pipe()
    proc = ctx.Process(
        target=_serve, args=(child, latency, sc.limit, sc.window, sc.headers), daemon=True
    )
    proc.start()
    if not pipe.poll(60):
        raise RuntimeError("the local API server did not start")
    base = pipe.recv()
    client = OpenAITranscriber(base, ["sk-bench"], timeout=30.0, max_connections=sc.workers)
    limiter = Limiter("asr", sc.spec)
    client.on_reply = limiter.observe
    spans: list[tuple[float, float]] = []
    retry_afters: list[float] = []

    def work(job: Any) -> None:
        sent: list[float] = []

        def before_send() -> None:
            job.acquire("asr")
            sent.append(time.monotonic())

        try:
            client.transcribe(chunk, None, before_send=before_send)
        except RateLimited as exc:
            retry_afters.append(exc.retry_after or 0.0)
            raise
        finally:
            if sent:
                spans.append((sent[-1], time.monotonic()))

    engine = Engine(work, workers=sc.workers, parallel=True, limiters=[limiter], retries=8)
    engine.add([Item(-1, source=f"item-{n}", kind="file", location="-") for n in range(sc.size())])
    started = time.monotonic()
    engine.start()
    engine.wait_finished()
    wall = time.monotonic() - started
    engine.stop()
    client.close()
    pipe.send("stop")
    seen: dict[str, Any] = pipe.recv() if pipe.poll(120) else {}
    proc.join(10)
    ok: list[float] = seen.get("ok", [])
    rate = sc.limit / sc.window
    first, last = (ok[0], ok[-1]) if ok else (0.0, 0.0)
    # The sustained capacity: L/W per second from the first success to the last. (A sliding window
    # could also take L at once at the start; pacing leaves that burst unused on purpose.)
    whole = len(ok) / (rate * (last - first) + 1) if ok else 0.0
    later = [t for t in ok if t >= first + sc.window]
    steady = len(later) / (rate * (last - first - sc.window)) if last - first > sc.window else 0.0
    requests = sum(seen.get("by_status", {}).values())
    n429 = seen.get("by_status", {}).get("429", 0)
    stats = limiter.stats()
    failed = len(engine.board.select([State.FAILED]))
    return {
        **asdict(sc),
        "items": sc.size(),
        "done": len(engine.board.select([State.DONE])),
        "failed": failed,
        "requests": requests,
        "http_429": n429,
        "per_1000": round(1000 * n429 / max(1, requests), 2),
        "share_whole": round(whole, 4),
        "share_after_first_window": round(steady, 4),
        "longest_idle_s": round(longest_idle(spans), 2),
        "longest_retry_after_s": round(max(retry_afters, default=0.0), 2),
        "max_ok_in_window": seen.get("max_in_window"),
        "learnt": stats.learnt,
        "factor": round(stats.factor, 3),
        "wall_s": round(wall, 1),
    }


def report_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | spec vs server | headers | items x workers | share (whole / after 1st window)"
        " | 429s (per 1000) | longest idle / Retry-After | max in a window | learnt | failed |",
        "|---|---|:-:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        window = f"{r['window']:g}s" if r["window"] != 60 else "min"
        lines.append(
            f"| {r['name']} | {r['spec']} vs {r['limit']}/{window} | {'yes' if r['headers'] else 'no'}"
            f" | {r['items']} x {r['workers']} | {r['share_whole']:.1%} / "
            f"{r['share_after_first_window']:.1%} | {r['http_429']} ({r['per_1000']:g})"
            f" | {r['longest_idle_s']:g}s / {r['longest_retry_after_s']:g}s"
            f" | {r['max_ok_in_window']} ≤ {r['limit']} | {r['learnt'] or '-'} | {r['failed']} |"
        )
    return "\n".join(lines)


def merged_runs(path: Path, rows: list[dict]) -> list[dict]:
    """This run's rows, plus the earlier file's rows for scenarios not run again (``--only``)."""
    try:
        earlier = json.loads(path.read_text(encoding="utf-8")).get("runs", [])
    except (OSError, ValueError, AttributeError):
        earlier = []
    fresh = {row["name"] for row in rows}
    kept = [row for row in earlier if isinstance(row, dict) and row.get("name") not in fresh]
    order = list(SCENARIOS)
    return sorted(kept + rows, key=lambda r: order.index(r["name"]) if r["name"] in order else 99)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quota", description=__doc__)
    parser.add_argument("--only", default=",".join(SCENARIOS), help="e.g. a,c,e")
    parser.add_argument("--seconds", type=float, help="length of (a)-(d) at the server's rate")
    parser.add_argument("--items-e", type=int, default=10_000, help="size of scenario (e)")
    parser.add_argument("--workers-e", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.5, help="server seconds per request")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from engine.providers.base import Chunk
    from tests.mediagen import write_tone

    rows = []
    with tempfile.TemporaryDirectory(prefix="bulkscribe-quota-") as folder:
        tone = write_tone(Path(folder) / "tone.flac", seconds=0.3, freq=440.0)
        chunk = Chunk(0, 0.0, 0.3, tone)
        for name in args.only.split(","):
            sc = SCENARIOS[name.strip()]
            if name == "e":
                sc = Scenario("e", sc.spec, sc.limit, sc.window, True, args.workers_e,
                              items=args.items_e)  # fmt: skip
            elif args.seconds is not None:
                sc = Scenario(sc.name, sc.spec, sc.limit, sc.window, sc.headers, sc.workers,
                              seconds=args.seconds)  # fmt: skip
            load = os.getloadavg()[0]
            rows.append(run_scenario(sc, chunk, args.latency))
            rows[-1].update(when=time.strftime("%Y-%m-%dT%H:%M:%S%z"), load_1min=round(load, 2))
            print(report_table(rows[-1:]).splitlines()[-1], flush=True)
    print(report_table(rows))
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "latency_s": args.latency,
        "runs": merged_runs(args.out, rows),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
