"""Shared-quota benchmark: 1, 2, 4 and 8 processes x 16 workers on one Redis-held quota.

Run ``uv run python -m bench.quota_shared`` (about two minutes) or ``--quick``. A real redis-server
is started on a free port of 127.0.0.1 and the local OpenAI-compatible server counts every request
on arrival over a sliding window; each process is a real Python process with its own engine, 16
worker threads and its own API key, all naming the same quota. Reported per configuration: the share
of the limit used after the first window, the most requests the server saw in any window, 429s, and
fairness (the smallest and largest process's share of what was accepted).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.engine import table, window_use
from tests.servers.openai_api import OpenAIServer, max_in_window
from tests.servers.redis_server import RedisServer

RESULTS = Path(__file__).parent / "results" / "quota_shared.json"
ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import json, sys, time
from engine.items import Item
from engine.run.engine import Engine
from engine.limits.limiter import Limiter
from engine.providers.base import Chunk
from engine.providers.openai import SERVICE, OpenAITranscriber
from engine.limits.shared import SharedQuota
from bench.engine import transcribe_work

redis_url, base_url, key, spec, seconds, chunk_path, workers, items = sys.argv[1:9]
chunk = Chunk(0, 0.0, 0.3, __import__("pathlib").Path(chunk_path))
client = OpenAITranscriber(base_url, [key], response_format="json", timeout=10.0)
limiter = Limiter(SERVICE, spec, quota=SharedQuota.connect(redis_url, "bench"))
engine = Engine(transcribe_work(client, chunk), workers=int(workers), limiters=[limiter], retries=3)
engine.add(Item(-1, f"item-{i}") for i in range(int(items)))
engine.start()
time.sleep(float(seconds))
engine.stop(timeout=10)
stats = limiter.stats()
print(json.dumps({"granted": stats.granted, "throttled": stats.throttled}))
"""


def run_config(
    processes: int, workers: int, limit: int, window: float, seconds: float, folder: Path
) -> dict[str, Any]:
    from tests.mediagen import write_tone

    chunk = write_tone(folder / "chunk.flac", seconds=0.3)
    with (
        RedisServer(folder / f"redis-{processes}") as redis_server,
        OpenAIServer(latency=0.05, limit=limit, window=window) as api,
    ):
        started = time.monotonic()
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _CHILD,
                    redis_server.url,
                    api.base_url,
                    f"sk-p{i}",
                    f"{limit}/{window:g}s",
                    str(seconds),
                    str(chunk),
                    str(workers),
                    # More items than the limit lets through in the run, spread over everyone.
                    str(int(2 * limit * seconds / window / processes) + workers),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for i in range(processes)
        ]
        reports = [json.loads(child.communicate(timeout=seconds + 120)[0]) for child in children]
        arrivals = api.arrivals
    accepted = [a.t for a in arrivals if a.status == 200]
    # Measured from the first accepted request: process start-up is not the quota's doing.
    first = min(accepted) if accepted else started
    last = first + seconds - 2.0
    per_key = [
        sum(1 for a in arrivals if a.status == 200 and a.key == f"sk-p{i}")
        for i in range(processes)
    ]
    total = sum(per_key) or 1
    return {
        "processes": processes,
        "workers": workers,
        "limit": f"{limit}/{window:g}s",
        "accepted": len(accepted),
        "use_after_first_window": round(
            window_use(accepted, first + window, last, window, limit), 3
        ),
        "max_in_window": max_in_window([a.t for a in arrivals], window),
        "over_limit": max(0, max_in_window([a.t for a in arrivals], window) - limit),
        "429s": sum(1 for a in arrivals if a.status == 429),
        "fair_min": round(min(per_key) / total, 3),
        "fair_max": round(max(per_key) / total, 3),
        "granted_reported": sum(r["granted"] for r in reports),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quota_shared", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short smoke run (about 20 s)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    counts = [1, 2] if args.quick else [1, 2, 4, 8]
    seconds = 6.0 if args.quick else 20.0
    workers = 4 if args.quick else 16
    limit, window = (10, 2.0) if args.quick else (50, 5.0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for processes in counts:
            rows.append(run_config(processes, workers, limit, window, seconds, Path(tmp)))
            print(rows[-1], flush=True)
    columns = list(rows[0])
    print(table("Shared quota through Redis", rows, columns))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"machine": platform.machine(), "runs": rows}, indent=2) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
