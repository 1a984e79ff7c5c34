"""One local-ASR measurement in a fresh process: transcribe files, print time, CPU and peak memory.

    python bench/asr_probe.py --engine whisper --model FOLDER --workers 2 --threads 1 a.wav b.wav

Run by bench/local_asr.py, one process per configuration, so each peak-memory figure is that
configuration's alone. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.local_asr import cpu_seconds, live_children  # noqa: E402
from engine.audio.decode import probe  # noqa: E402
from engine.audio.media import split_audio  # noqa: E402
from engine.providers.base import Chunk, Transcriber  # noqa: E402
from engine.stitch import stitch  # noqa: E402


def _hwm_mb(pid: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    """Peak RSS of this process plus that of each live child (its decoding processes)."""
    total = _hwm_mb("self")
    for child in live_children():
        try:
            total += _hwm_mb(child)
        except OSError:
            continue
    return total


def build(args: argparse.Namespace) -> Transcriber:
    if args.engine == "whisper":
        from engine.providers.whisper import WhisperTranscriber

        return WhisperTranscriber(
            args.model, workers=args.workers, cpu_threads=args.threads or None, beam_size=args.beam
        )
    from engine.providers.sphinx import SphinxTranscriber

    return SphinxTranscriber(workers=args.workers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=("whisper", "sphinx"), required=True)
    parser.add_argument("--model", default="base")
    parser.add_argument("--workers", type=int, default=1, help="files decoded at once")
    parser.add_argument("--threads", type=int, default=0, help="CTranslate2 cpu_threads (0: ours)")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--chunk-seconds", type=float, default=0, help="cut, decode, stitch")
    parser.add_argument("--overlap", type=float, default=2.0)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    engine = build(args)
    chunks = [Chunk(0, 0.0, probe(f).duration or 0.0, Path(f)) for f in args.files]
    # Load the model (or start the decoder processes) outside the timing: it happens once a run.
    warm = min(chunks, key=lambda c: c.duration)
    load_started = time.perf_counter()
    engine.transcribe(warm)
    load_s = time.perf_counter() - load_started
    cpu, started = cpu_seconds(), time.perf_counter()
    if args.chunk_seconds:
        texts = []
        for n, chunk in enumerate(chunks):
            folder = Path(tempfile.mkdtemp(prefix=f"asr-probe-{n}-"))
            parts = split_audio(chunk.path, folder, args.chunk_seconds, args.overlap)
            with ThreadPoolExecutor(args.workers) as pool:
                results = list(pool.map(engine.transcribe, parts))
            joined = stitch(
                [(p, r.segments) for p, r in zip(parts, results, strict=True)], args.overlap
            )
            texts.append(" ".join(s.text for s in joined))
    else:
        with ThreadPoolExecutor(args.workers) as pool:
            results = list(pool.map(engine.transcribe, chunks))
        texts = [" ".join(s.text for s in r.segments) for r in results]
    wall = time.perf_counter() - started
    used = cpu_seconds() - cpu
    peak = _peak_mb()
    close = getattr(engine, "close", None)
    if close is not None:
        close()
    audio = sum(c.duration for c in chunks)
    print(
        json.dumps(
            {
                "audio_s": round(audio, 2),
                "wall_s": round(wall, 2),
                "cpu_s": round(used, 2),
                "first_call_s": round(load_s, 2),
                "peak_rss_mb": round(peak, 1),
                "texts": texts,
            }
        )
    )


if __name__ == "__main__":
    main()
