"""Local ASR: accuracy and speed of the offline engine and Whisper, and how they use the cores.

Word error rate, real-time factor and peak memory on people reading (the moonshine-voice wheel's
recordings) and on synthesised passages, for pocketsphinx and Whisper base int8; one worker
against two and CTranslate2 threads against our workers; 10 s chunks against one chunk
(bench/asr_quality.py). Also: do two pocketsphinx decodes at once run faster in threads or in
processes, how long a busy thread is starved of the GIL while sphinx decodes (what a terminal UI
would feel), and the extra memory split_audio needs on long media.

    uv sync --extra whisper --group whisper-model --group bench-speech
    uv run python bench/local_asr.py [--jobs 2] [--repeats 3] [--minutes 30] [--asr-only]

Prints a markdown table and writes bench/results/local_asr.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.audio.decode import read_pcm  # noqa: E402
from engine.providers.base import Chunk  # noqa: E402
from engine.providers.sphinx import SphinxTranscriber  # noqa: E402
from engine.providers.whisper import whisper_available  # noqa: E402

EXAMPLES = ROOT / "examples"
SPEECH = ["hello.wav", "podcast.mp3", "lecture.mp4"]


def speech_pcm() -> bytes:
    return b"".join(read_pcm(EXAMPLES / name) for name in SPEECH)


def write_wav(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(pcm)
    return path


def live_children() -> list[str]:
    """Pids of this process's live children (the decoding processes); Linux only."""
    found: list[str] = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:  # threads come and go while we look
            found += (task / "children").read_text().split()
        except OSError:
            continue
    return found


def cpu_seconds() -> float:
    """CPU time of this process plus its live children (the sphinx worker processes); Linux only."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    total = usage.ru_utime + usage.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for child in live_children():
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def run_jobs(
    transcribe: Callable[[Chunk], object], chunk: Chunk, jobs: int, threads: int, repeats: int
) -> tuple[float, float]:
    """Best wall time of ``repeats`` runs, and the CPU cores kept busy during that run.

    Other work on the machine only ever slows a run down, so the best run is the
    fairest; cores busy (CPU seconds over wall seconds) shows whether the work ran
    in parallel at all, whatever else was competing for the CPUs.
    """
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        cpu, start = cpu_seconds(), time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(transcribe, [chunk] * jobs))
        wall = time.perf_counter() - start
        best = min(best, (wall, (cpu_seconds() - cpu) / wall))
    return best


def longest_stall(work: Callable[[], object]) -> float:
    """Longest gap a 5 ms ticker thread sees while ``work`` runs in another thread."""
    gaps = [0.0]
    done = threading.Event()

    def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(0.005)
            now = time.perf_counter()
            gaps[0] = max(gaps[0], now - last)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    done.set()
    ticker.join()
    return gaps[0]


def measure_sphinx(chunk: Chunk, jobs: int, repeats: int) -> list[dict[str, object]]:
    rows = []
    audio = chunk.duration * jobs
    threaded = SphinxTranscriber(in_process=True)
    with SphinxTranscriber(workers=2) as pooled:
        for engine in (threaded, pooled):  # load a Decoder in each thread / start both processes
            run_jobs(engine.transcribe, chunk, 2, 2, 1)
        for mode, engine in (("threads", threaded), ("processes", pooled)):
            one, one_cores = run_jobs(engine.transcribe, chunk, jobs, 1, repeats)
            two, two_cores = run_jobs(engine.transcribe, chunk, jobs, 2, repeats)
            stall = longest_stall(partial(engine.transcribe, chunk))
            rows.append(
                {
                    "mode": mode,
                    "jobs": jobs,
                    "audio_seconds": round(audio, 1),
                    "one_worker_s": round(one, 2),
                    "two_workers_s": round(two, 2),
                    "speedup": round(one / two, 2),
                    "cores_busy_one_worker": round(one_cores, 2),
                    "cores_busy_two_workers": round(two_cores, 2),
                    "x_realtime_two_workers": round(audio / two, 1),
                    "longest_gil_stall_s": round(stall, 3),
                }
            )
    return rows


_SPLIT_PROBE = """
import sys, time
sys.path.insert(0, sys.argv[1])
from engine.audio.media import split_audio

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024

open("/proc/self/clear_refs", "w").write("5")  # restart the peak-RSS counter after imports
base = status("VmRSS")
t = time.perf_counter()
chunks = split_audio(sys.argv[2], sys.argv[3], chunk_seconds=600.0, overlap=2.0)
took = time.perf_counter() - t
print(len(chunks), round(chunks[-1].end, 1), status("VmHWM") - base, took)
"""


def long_mp3(path: Path, minutes: float, pcm: bytes) -> Path:
    """Encode ``minutes`` of looped speech to MP3 without holding it all in memory."""
    import av

    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libmp3lame", rate=16000)
        stream.layout = "mono"
        stream.bit_rate = 48_000
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout="mono", rate=16000
        )
        needed, written, block = int(minutes * 60 * 16000), 0, 16000
        while written < needed:
            at = (written * 2) % (len(pcm) - block * 2)
            frame = av.AudioFrame(format="s16", layout="mono", samples=block)
            frame.planes[0].update(pcm[at : at + block * 2])
            frame.sample_rate, frame.pts = 16000, written
            for converted in resampler.resample(frame):
                out.mux(stream.encode(converted))
            written += block
        out.mux(stream.encode(None))
    return path


def measure_split(minutes: float, pcm: bytes, tmp: Path) -> dict[str, object]:
    source = long_mp3(tmp / "long.mp3", minutes, pcm)
    result = subprocess.run(
        [sys.executable, "-c", _SPLIT_PROBE, str(ROOT), str(source), str(tmp / "chunks")],
        check=True,
        capture_output=True,
        text=True,
    )
    count, end, extra_mb, took = result.stdout.split()
    return {
        "minutes": minutes,
        "chunks": int(count),
        "decoded_seconds": float(end),
        "extra_peak_rss_mb": round(float(extra_mb), 1),
        "split_seconds": round(float(took), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="chunks per measurement (even)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; best is kept")
    parser.add_argument(
        "--minutes", type=float, default=30.0, help="length of the split_audio test"
    )
    parser.add_argument(
        "--whisper-model", help="model folder (default: the tests' joined base model)"
    )
    parser.add_argument(
        "--asr-only", action="store_true", help="only the accuracy and speed tables"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "local_asr.json")
    args = parser.parse_args()
    from bench.asr_quality import measure_quality

    quality = measure_quality(args.whisper_model)
    if args.asr_only:
        write_results(args.out.resolve(), {"machine": machine(), "asr": quality})
        return
    pcm = speech_pcm()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wav = write_wav(tmp / "speech.wav", pcm)
        chunk = Chunk(0, 0.0, len(pcm) / 32000, wav)
        rows = measure_sphinx(chunk, args.jobs, args.repeats)
        split = measure_split(args.minutes, pcm, tmp)
    print(f"\nsphinx, {args.jobs} chunks of {chunk.duration:.1f} s speech, {os.cpu_count()} CPUs\n")
    print(
        "| mode | 1 worker s | 2 workers s | speedup | cores busy (1 / 2) | x realtime | GIL stall s |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['mode']} | {r['one_worker_s']} | {r['two_workers_s']} | {r['speedup']} "
            f"| {r['cores_busy_one_worker']} / {r['cores_busy_two_workers']} "
            f"| {r['x_realtime_two_workers']} | {r['longest_gil_stall_s']} |"
        )
    print(
        f"\nsplit_audio on {split['minutes']} min MP3: {split['chunks']} chunks, "
        f"{split['split_seconds']} s, extra peak RSS {split['extra_peak_rss_mb']} MB"
    )
    whisper = "available" if whisper_available("small") else "not installed or model not on disk"
    print(f"whisper (small): {whisper}")
    write_results(
        args.out.resolve(),
        {
            "machine": machine(),
            "asr": quality,
            "sphinx": rows,
            "split_audio": split,
            "whisper_small": whisper,
            "peak_rss_mb_parent": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
            ),
        },
    )


def machine() -> dict[str, object]:
    return {"cpus": os.cpu_count(), "python": platform.python_version()}


def write_results(out: Path, results: dict[str, object]) -> None:
    """Write the sections measured now; sections not measured this time keep their last figures."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        results = {**json.loads(out.read_text()), **results}
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
