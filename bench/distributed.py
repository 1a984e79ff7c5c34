"""Distributed benchmark: latency-bound items on 1 process x 8 workers vs 3 processes x 8 workers.

Run ``uv run python -m bench.distributed`` (about a minute) or ``--quick``. Real processes: a
real redis-server on a free port, the local OpenAI-compatible server answering each request after
a fixed latency (so items wait on the network, as against a remote API), a coordinator
(``--distribute``) and, for the second configuration, two ``bulkscribe worker`` processes. A plain
headless run (no Redis) gives the baseline that the overhead per item is measured against.

Wall time is the server's: from the first request's arrival to the last one's answer, so process
start-up (Python imports, slow on a loaded machine) is left out of every configuration alike.
The limit is set far above what is sent, so it does not bind.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.engine import table
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer
from tests.servers.redis_server import RedisServer

RESULTS = Path(__file__).parent / "results" / "distributed.json"
ROOT = Path(__file__).resolve().parents[1]
THREADS = 8


def _env(folder: Path, name: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "LANG")},
        "HOME": str(folder),
        "XDG_DATA_HOME": str(folder / name / "data"),
        "XDG_CONFIG_HOME": str(folder / name / "config"),
        "BULKSCRIBE_HOST": f"host-{name}",
        "NO_COLOR": "1",
    }


def _cli(folder: Path, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    log = (folder / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *argv],
        cwd=ROOT,
        env=_env(folder, name),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def run_config(
    label: str, items: int, latency: float, remote: int, folder: Path, redis: RedisServer | None
) -> dict[str, Any]:
    media = folder / f"media-{label}"
    media.mkdir()
    for i in range(items):
        write_tone(media / f"tone-{300 + 10 * i}.wav", seconds=0.3, freq=300 + 10 * i)
    with OpenAIServer(latency=latency) as api:
        api_flags = [
            "--asr", "openai", "--api-base", api.base_url, "--api-key", "sk-bench",
            "--rate-limit", "100000/min", "--quota", f"bench-{label}",
        ]  # fmt: skip
        procs = []
        if redis is not None:
            for w in range(remote):
                procs.append(
                    _cli(
                        folder,
                        f"{label}-w{w}",
                        [
                            "worker",
                            "--redis",
                            redis.url,
                            "--workers",
                            str(THREADS),
                            *api_flags,
                        ],
                    )  # fmt: skip
                )
        argv = [str(media), "--headless", "--new", "--workers", str(THREADS), *api_flags]
        argv += ["--output", str(folder / f"out-{label}")]
        if redis is not None:
            argv += ["--redis", redis.url, "--distribute"]
        coordinator = _cli(folder, f"{label}-coord", argv)
        code = coordinator.wait(600)
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        times = sorted(a.t for a in api.arrivals if a.status == 200)
    manifest = json.loads((folder / f"out-{label}" / "manifest.json").read_text())
    wall = times[-1] - times[0] + latency if times else float("nan")
    return {
        "config": label,
        "processes": 1 + remote,
        "threads": THREADS * (1 + remote),
        "items": items,
        "done": manifest["counts"].get("done", 0),
        "exit": code,
        "wall_s": round(wall, 2),
        "items_per_s": round(items / wall, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.distributed", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--items", type=int, default=None)
    parser.add_argument("--latency", type=float, default=None, help="server answer delay (s)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    items = args.items or (24 if args.quick else 144)
    latency = args.latency or (0.5 if args.quick else 1.0)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with RedisServer(folder / "redis") as redis:
            rows = [
                run_config("local 1x8", items, latency, 0, folder, None),
                run_config("redis 1x8", items, latency, 0, folder, redis),
                run_config("redis 3x8", items, latency, 2, folder, redis),
            ]
    base, one, three = rows
    ideal = latency * items / THREADS  # every thread waiting on the network all the time
    for row in rows:
        row["overhead_ms_per_item"] = round(
            (row["wall_s"] - ideal / (row["threads"] / THREADS)) * row["threads"] / items * 1000, 1
        )
    three["speedup"] = round(one["wall_s"] / three["wall_s"], 2)
    three["speedup_of_ideal"] = f"{three['speedup'] / 3:.0%}"
    one["speedup"] = base["speedup"] = 1.0
    one["speedup_of_ideal"] = base["speedup_of_ideal"] = "-"
    columns = [
        "config", "processes", "threads", "items", "done", "wall_s", "items_per_s",
        "speedup", "speedup_of_ideal", "overhead_ms_per_item",
    ]  # fmt: skip
    print(table("Distributed batch (latency-bound items)", rows, columns))
    print(
        f"latency {latency}s per request; overhead = thread-time per item above the latency; "
        f"machine: {platform.machine()}, {os.cpu_count()} cores"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"latency": latency, "rows": rows, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ")},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
