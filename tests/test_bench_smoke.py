"""Every benchmark runs end to end at a small size and reports what it promises (no timings checked).

The figures in docs/performance.md come from these scripts at full size; this keeps them runnable,
so a change elsewhere cannot quietly break a benchmark until the next time someone needs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(240)


def run_bench(module: str, out: Path, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", module, "--out", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "|---" in result.stdout  # the markdown table a person reads
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def test_load_bench_with_the_app_loses_nothing_and_keeps_the_limit(tmp_path: Path) -> None:
    data = run_bench(
        "bench.load", tmp_path / "load.json",
        "--items", "60", "--workers", "8", "--limit", "40", "--window", "2", "--latency", "0.05",
    )  # fmt: skip
    run = data["runs"][-1] if "runs" in data else data
    assert run["done"] == run["manifest_items"] == run["store_done"] == 60
    assert run["outputs_missing"] == 0 and run["failed"] == 0
    assert run["max_in_window"] <= 40
    assert run["keys_sent"] > 0 and run["keys_without_effect"] == 0 and run["rss_peak_mb"] > 0


def test_engine_bench_quick_run_reports_every_part(tmp_path: Path) -> None:
    data = run_bench("bench.engine", tmp_path / "engine.json", "--quick")
    assert [row["workers"] for row in data["speedup"]] == [1, 2, 5, 10]
    assert all(row["failed"] == 0 for row in data["speedup"])
    assert data["limit"]["max_in_window"] <= int(data["limit"]["limit"].split("/")[0])
    assert max(data["live"]["max_in_window_per_key"].values()) <= data["live"]["limit_per_window"]
    assert data["overhead"] and all(row["ms_per_item"] > 0 for row in data["overhead"])


def test_screen_bench_measures_keys_and_throughput(tmp_path: Path) -> None:
    data = run_bench("bench.tui", tmp_path / "tui.json", "--items", "400", "--window", "2")
    # At this size the engine may finish before the keys do; the full size keeps it busy.
    assert data["keys_pressed"] > 0 and data["key_p95_ms"] > 0
    assert data["first_paint_s"] > 0 and {"ui_cpu_share", "throughput_ratio"} <= set(data)


def test_soak_bench_samples_and_stops_by_itself(tmp_path: Path) -> None:
    data = run_bench(
        "bench.soak", tmp_path / "soak.json", "--minutes", "0.25", "--every", "5",
        "--no-tracemalloc", "--limit", "120", "--latency", "0.05",
    )  # fmt: skip
    assert len(data["samples"]) >= 3
    assert data["items_added"] > 0 and data["samples"][-1]["done"] > 0


def test_session_benches_report_transition_costs(tmp_path: Path) -> None:
    store = run_bench("bench.store", tmp_path / "store.json")
    assert {run["synchronous"] for run in store["runs"]} == {"NORMAL", "FULL"}
    resume = run_bench("bench.resume", tmp_path / "resume.json", "--items", "300")
    assert resume["items"] == 300 and resume["first_paint_s"] > 0


def test_feed_bench_expands_a_thousand_episode_feed(tmp_path: Path) -> None:
    data = run_bench("bench.feeds", tmp_path / "feeds.json", "--sizes", "1000", "--runs", "1")
    assert [row["episodes"] for row in data["runs"]] == [1000]


def test_quota_bench_counts_capacity_429s_and_idle_spells(tmp_path: Path) -> None:
    data = run_bench(
        "bench.quota", tmp_path / "quota.json",
        "--only", "c,e", "--seconds", "10", "--items-e", "200", "--workers-e", "16",
        "--latency", "0.2",
    )  # fmt: skip
    quantised, full = data["runs"]
    for run in (quantised, full):
        assert run["failed"] == 0 and run["done"] == run["items"]
        assert run["max_ok_in_window"] <= run["limit"]
        assert run["share_whole"] > 0 and run["longest_idle_s"] >= 0
    assert quantised["learnt"] == "50/10s"  # from the server's x-ratelimit headers


@pytest.mark.skipif(
    __import__("shutil").which("redis-server") is None, reason="redis-server is not installed"
)
def test_shared_quota_bench_quick_run_never_goes_over(tmp_path: Path) -> None:
    data = run_bench("bench.quota_shared", tmp_path / "quota_shared.json", "--quick")
    assert [row["processes"] for row in data["runs"]] == [1, 2]
    for row in data["runs"]:
        assert row["accepted"] > 0 and row["granted_reported"] >= row["accepted"]
        assert row["fair_min"] > 0


def test_seams_bench_compares_chunked_and_whole_runs_on_speech(tmp_path: Path) -> None:
    from tests.speech import NoSynthesiser, espeak

    try:
        espeak()
    except NoSynthesiser as exc:
        pytest.skip(str(exc))
    data = run_bench("bench.seams", tmp_path / "seams.json", "--quick", "--cache", str(tmp_path))
    row = data["rows"][0]
    assert row["chunks"] >= 2 and row["seams"] == row["chunks"] - 1 and row["words"] > 0
    assert {"added_per_seam", "lost_per_seam", "repeated", "speedup", "cpu_s"} <= set(row)
    assert row["timeline_faults"] == []


def test_distributed_bench_runs_every_configuration_to_the_end(tmp_path: Path) -> None:
    from tests.servers.redis_server import redis_binary

    if redis_binary() is None:
        pytest.skip("redis-server is not installed")
    data = run_bench(
        "bench.distributed", tmp_path / "distributed.json", "--items", "16", "--latency", "0.2"
    )
    rows = {row["config"]: row for row in data["rows"]}
    assert set(rows) == {"local 1x8", "redis 1x8", "redis 3x8"}
    assert all(row["done"] == 16 and row["exit"] == 0 for row in rows.values()), rows
    assert "speedup" in rows["redis 3x8"]
