"""Feed benchmark: how long a long podcast feed takes to become episodes, fetched from a local host.

Run ``uv run python -m bench.feeds`` (a few seconds). Feeds of 1,000 to 10,000 episodes, shaped like
tests/feedgen.py's (iTunes tags, CDATA notes, podtrac enclosures), are served on 127.0.0.1 and
expanded as a run does: fetch, parse, choose (``--latest 5``). The fast reader is timed against
feedparser alone, which it stands in front of.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from engine.sources.episodes import EpisodeChoice
from engine.sources.feed_fetch import fetch_feed
from engine.sources.feeds import feed_number, read_with_feedparser
from tests.feedgen import big_feed
from tests.servers.media_host import MediaHost

RESULTS = Path(__file__).parent / "results" / "feeds.json"
TARGET_S = 1.0  # "a feed of 1,000+ episodes expands in well under a second"


def best_of(runs: int, fn: object) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,3000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, MediaHost(Path(tmp)) as host:
        for size in sizes:
            data = big_feed(host.base_url, size).encode()
            (Path(tmp) / f"feed{size}.xml").write_bytes(data)
            url = host.media_url(f"feed{size}.xml")
            choice = EpisodeChoice.parse(latest=5)
            assert choice is not None

            def expand(url: str = url, choice: EpisodeChoice = choice) -> None:
                feed = fetch_feed(url)
                assert feed is not None
                number = feed_number(feed.episodes)
                choice.apply(feed.episodes, when=lambda e: e.published, number=number)

            expand_s = best_of(args.runs, expand)
            feedparser_s = best_of(1, lambda data=data: read_with_feedparser(data))
            rows.append(
                {
                    "episodes": size,
                    "feed_mb": round(len(data) / 1e6, 2),
                    "expand_s": round(expand_s, 3),
                    "feedparser_only_s": round(feedparser_s, 3),
                    "under_target": expand_s < TARGET_S,
                }
            )
    print("| episodes | feed MB | fetch+parse+choose s | feedparser alone s | < 1 s |")
    print("|---:|---:|---:|---:|:-:|")
    for row in rows:
        print(
            f"| {row['episodes']} | {row['feed_mb']} | {row['expand_s']} | "
            f"{row['feedparser_only_s']} | {'yes' if row['under_target'] else 'no'} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"target_s": TARGET_S, "runs": rows,
               "median_expand_s": statistics.median(r["expand_s"] for r in rows)}  # fmt: skip
    args.out.write_text(json.dumps(summary, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
