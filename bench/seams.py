"""Seams on speech no test uses: the bundled engine chunked against one chunk, and what chunking pays.

For each chunk length: words added and lost within 3 s of a seam (per seam) against the
unchunked run, phrases written twice at a seam, timeline faults, and the wall and CPU time
of the run with 2 workers, whose ratio to the unchunked run is the speedup chunking buys.

    uv run python -m bench.seams [--quick] [--chunks 30,60,300] [--out bench/results/seams.json]

The synthesised passage (Moby-Dick and Pride and Prejudice, read by espeak-ng) and the human
recording (moonshine-voice's two_cities.wav) are kept out of the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.local_asr import cpu_seconds  # noqa: E402
from engine.audio.decode import probe  # noqa: E402
from engine.audio.media import balanced_chunk_seconds, split_audio  # noqa: E402
from engine.providers.base import Chunk  # noqa: E402
from engine.providers.sphinx import SphinxTranscriber  # noqa: E402
from engine.segments import Segment  # noqa: E402
from engine.stitch import stitch  # noqa: E402
from tests.seam_metrics import compare  # noqa: E402
from tests.speech import human_recording, passage, read_passages, synthesise  # noqa: E402

OVERLAP = 2.0
PASSAGES = ["moby_dick", "pride_and_prejudice"]
HUMAN = ("two_cities.wav", 10.0)
EXAMPLE = ROOT / "examples" / "hello.wav"


def process_cpu() -> tuple[float, dict[str, float]]:
    """CPU seconds of this process, and of each live child (the decoding processes); Linux only."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[str, float] = {}
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            pids = (task / "children").read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children[pid] = (int(fields[11]) + int(fields[12])) / tick
    return usage.ru_utime + usage.ru_stime, children


def critical_cpu(
    before: tuple[float, dict[str, float]], after: tuple[float, dict[str, float]]
) -> float:
    """CPU on the longest path: this process's own work plus the busiest decoding process.

    On an idle machine with a core per process that is the wall time; on a loaded one it is
    what the wall time would be, which makes the speedup measurable when the wall time is not.
    """
    busiest = max((cpu - before[1].get(pid, 0.0) for pid, cpu in after[1].items()), default=0.0)
    return after[0] - before[0] + busiest


def transcribe(
    engine: SphinxTranscriber, audio: Path, work: Path, seconds: float
) -> dict[str, Any]:
    """One run as the pipeline does it: cut, transcribe the chunks on 2 workers, stitch."""
    load = os.getloadavg()[0]
    # As the pipeline does for a local engine: a multiple of the worker processes in chunks.
    seconds = balanced_chunk_seconds(probe(audio).duration, seconds, engine.processes)
    cpu, wall, per_process = cpu_seconds(), time.perf_counter(), process_cpu()
    chunks = split_audio(audio, work, chunk_seconds=seconds, overlap=OVERLAP)
    with ThreadPoolExecutor(2) as threads:
        transcripts = list(threads.map(engine.transcribe, chunks))
    segments = stitch([(c, t.segments) for c, t in zip(chunks, transcripts, strict=True)], OVERLAP)
    return {
        "chunks": chunks,
        "segments": segments,
        "wall_s": time.perf_counter() - wall,
        "cpu_s": cpu_seconds() - cpu,
        "critical_s": critical_cpu(per_process, process_cpu()),
        "load_before": round(load, 2),
        "chunk_s": round(seconds, 1),
    }


def measure(
    engine: SphinxTranscriber, name: str, audio: Path, lengths: list[float], work: Path
) -> list[dict[str, Any]]:
    whole = transcribe(engine, audio, work / f"{name}-whole", 36000.0)
    duration = whole["chunks"][-1].end
    rows = []
    for seconds in lengths:
        run = transcribe(engine, audio, work / f"{name}-{seconds:g}", seconds)
        chunks: list[Chunk] = run["chunks"]
        reference: list[Segment] = whole["segments"]
        report = compare(reference, run["segments"], chunks, duration)
        rows.append(
            {
                "audio": name,
                "audio_s": round(duration, 1),
                "chunk_s": seconds,
                "balanced_chunk_s": run["chunk_s"],
                "chunks": len(chunks),
                "seams": report.seams,
                "pause_cuts": sum(
                    1 for a, b in zip(chunks, chunks[1:], strict=False) if a.end - b.start < OVERLAP
                ),
                "words": report.words,
                "added_per_seam": round(report.added_per_seam, 2),
                "lost_per_seam": round(report.lost_per_seam, 2),
                "substituted_per_seam": round(report.substituted / max(1, report.seams), 2),
                "added_elsewhere": report.added_elsewhere,
                "lost_elsewhere": report.lost_elsewhere,
                "repeated": list(report.repeated),
                "timeline_faults": list(report.timeline_faults),
                "max_shift_s": report.max_shift,
                "wall_s": round(run["wall_s"], 2),
                "cpu_s": round(run["cpu_s"], 2),
                "whole_wall_s": round(whole["wall_s"], 2),
                "whole_cpu_s": round(whole["cpu_s"], 2),
                "speedup": round(whole["wall_s"] / run["wall_s"], 2),
                "critical_cpu_s": round(run["critical_s"], 2),
                "whole_critical_cpu_s": round(whole["critical_s"], 2),
                "cpu_speedup": round(whole["critical_s"] / max(1e-9, run["critical_s"]), 2),
                "load": [whole["load_before"], run["load_before"]],
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| audio | s | chunk s (as cut) | chunks (pause cuts) | added/seam | lost/seam | subst./seam "
        "| repeated | faults | max shift s | wall s | CPU s | one chunk wall / CPU s | speedup "
        "| longest-path CPU s (one chunk) | CPU-path speedup |"
    )
    lines = [head, "|" + "---|" * 16]
    for r in rows:
        lines.append(
            f"| {r['audio']} | {r['audio_s']} | {r['chunk_s']:g} ({r['balanced_chunk_s']:g}) "
            f"| {r['chunks']} ({r['pause_cuts']}) "
            f"| {r['added_per_seam']} | {r['lost_per_seam']} | {r['substituted_per_seam']} "
            f"| {len(r['repeated'])} | {len(r['timeline_faults'])} | {r['max_shift_s']} "
            f"| {r['wall_s']} | {r['cpu_s']} | {r['whole_wall_s']} / {r['whole_cpu_s']} "
            f"| {r['speedup']}x | {r['critical_cpu_s']} ({r['whole_critical_cpu_s']}) "
            f"| {r['cpu_speedup']}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", default="30,60,300", help="chunk lengths in seconds")
    parser.add_argument("--quick", action="store_true", help="one short passage, for smoke tests")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "seams.json")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "bulkscribe-speech"
    )
    args = parser.parse_args(argv)
    lengths = [float(x) for x in args.chunks.split(",")]
    if args.quick:
        first = " ".join(passage(PASSAGES[0]).split()[:50])
        sources = [("synthesised", synthesise(first, args.cache), [10.0])]
    else:
        sources = [("synthesised", read_passages(PASSAGES, args.cache), lengths)]
        human = human_recording(HUMAN[0])
        if human is not None:
            sources.append((f"human {HUMAN[0]}", human, [HUMAN[1]]))
    rows: list[dict[str, Any]] = []
    with SphinxTranscriber(workers=2) as engine, tempfile.TemporaryDirectory() as tmp:
        # Both worker processes up and their models loaded before anything is timed.
        warm = Chunk(0, 0.0, 1.0, EXAMPLE)
        with ThreadPoolExecutor(2) as threads:
            list(threads.map(engine.transcribe, [warm, warm]))
        for name, audio, chosen in sources:
            rows += measure(engine, name, audio, chosen, Path(tmp))
    print(table(rows))
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "overlap_s": OVERLAP,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
