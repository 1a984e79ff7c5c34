"""Accuracy and speed of the local engines on people reading and on synthesised passages.

Word error rate, real-time factor (wall seconds per audio second), CPU seconds and peak memory for
the offline engine (pocketsphinx) and Whisper base int8; one worker against two, CTranslate2
threads against our workers; one chunk against 10 s chunks stitched. Each figure comes from its
own process (bench/asr_probe.py) and is printed next to the load average when it was taken,
because other work on a shared machine inflates wall times.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.spoken import PASSAGES, join_wavs, speak, word_error_rate  # noqa: E402

PROBE = ROOT / "bench" / "asr_probe.py"
# The texts read in the moonshine-voice wheel's recordings. Dickens (1859) is in the public
# domain; the Beckett line is a twelve-word quotation. endgame_nagg_nell.wav (a scene from
# Beckett's Endgame) is timed but not scored: no checked transcript of it is kept here.
TWO_CITIES = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
    "age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the "
    "season of Light, it was the season of Darkness, it was the spring of hope, it was the winter "
    "of despair, we had everything before us, we had nothing before us, we were all going direct "
    "to Heaven, we were all going direct the other way - in short, the period was so far like the "
    "present period, that some of its noisiest authorities insisted on its being received, for "
    "good or for evil, in the superlative degree of comparison only."
)
BECKETT = "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better."


@dataclass(frozen=True)
class Clip:
    name: str
    path: Path
    reference: str | None  # None: timed, not scored
    kind: str  # "human" or "espeak"


def moonshine_assets() -> Path | None:
    """The wheel's assets folder, found without importing the package (it wants a sound card)."""
    spec = importlib.util.find_spec("moonshine_voice")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "assets"


def corpus(tmp: Path) -> list[Clip]:
    clips = []
    assets = moonshine_assets()
    if assets is not None:
        clips += [
            Clip("two_cities.wav", assets / "two_cities.wav", TWO_CITIES, "human"),
            Clip("beckett.wav", assets / "beckett.wav", BECKETT, "human"),
            Clip("endgame_nagg_nell.wav", assets / "endgame_nagg_nell.wav", None, "human"),
        ]
    parts = [speak(text, tmp / f"passage{i}.wav") for i, text in enumerate(PASSAGES * 2)]
    clips.append(
        Clip(
            "espeak passages",
            join_wavs(parts, tmp / "passages.wav"),
            " ".join(PASSAGES * 2),
            "espeak",
        )
    )
    return clips


def load() -> float:
    return os.getloadavg()[0]


def run_probe(engine: str, files: list[Path], **options: object) -> dict[str, object]:
    argv = [sys.executable, str(PROBE), "--engine", engine]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    before = load()
    done = subprocess.run([*argv, *map(str, files)], check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = round(max(before, load()), 2)
    result["rtf"] = round(result["wall_s"] / result["audio_s"], 3)
    return result


def accuracy(clips: list[Clip], model: str | None) -> list[dict[str, object]]:
    """Each clip on its own, one chunk, one worker: WER, RTF, CPU, memory, for each engine."""
    rows = []
    engines = [("sphinx", {})] + ([("whisper", {"model": model})] if model else [])
    for engine, options in engines:
        for clip in clips:
            result = run_probe(engine, [clip.path], **options)
            text = result.pop("texts")[0]  # type: ignore[index]
            wer = word_error_rate(clip.reference, text) if clip.reference else None
            rows.append({"engine": engine, "clip": clip.name, "kind": clip.kind,
                         "wer": None if wer is None else round(wer, 3), **result})  # fmt: skip
    return rows


def sharing(clip: Clip, model: str, copies: int = 2) -> list[dict[str, object]]:
    """The same batch of ``copies`` files through Whisper with workers x CTranslate2 threads."""
    rows = []
    for workers, threads in ((1, 1), (1, 2), (2, 1), (2, 2), (1, 4)):
        result = run_probe(
            "whisper", [clip.path] * copies, model=model, workers=workers, threads=threads
        )
        result.pop("texts")
        rows.append({"workers": workers, "cpu_threads": threads, **result})
    sphinx_rows = []
    for workers in (1, 2):
        result = run_probe("sphinx", [clip.path] * copies, workers=workers)
        result.pop("texts")
        sphinx_rows.append({"workers": workers, **result})
    return rows + [{"engine": "sphinx", **r} for r in sphinx_rows]


def beams(clip: Clip, model: str) -> list[dict[str, object]]:
    rows = []
    for beam in (1, 5):
        result = run_probe("whisper", [clip.path], model=model, beam=beam)
        text = result.pop("texts")[0]  # type: ignore[index]
        rows.append(
            {"beam": beam, "wer": round(word_error_rate(clip.reference or "", text), 3), **result}
        )
    return rows


def chunked(clips: list[Clip], model: str, seconds: float = 10.0) -> list[dict[str, object]]:
    """One chunk against ``seconds`` chunks cut with the app's overlap and stitched."""
    rows = []
    for clip in clips:
        if clip.reference is None or clip.name == "beckett.wav":
            continue
        whole = run_probe("whisper", [clip.path], model=model)
        cut = run_probe("whisper", [clip.path], model=model, chunk_seconds=seconds, overlap=2.0)
        rows.append(
            {
                "clip": clip.name,
                "one_chunk_wer": round(word_error_rate(clip.reference, whole["texts"][0]), 3),  # type: ignore[index]
                f"chunks_{seconds:.0f}s_wer": round(
                    word_error_rate(clip.reference, cut["texts"][0]), 3
                ),  # type: ignore[index]
                "chunked_text": cut["texts"][0],  # type: ignore[index]
                "load": max(whole["load"], cut["load"]),  # type: ignore[type-var]
            }
        )
    return rows


def whisper_folder(given: str | None) -> str | None:
    if given:
        return given
    from tests.whisper_model import SHA256, cache_root, join_model

    try:
        return str(join_model(cache_root() / f"whisper-base-{SHA256[:12]}"))
    except BaseException as exc:  # noqa: BLE001 - pytest.skip outside pytest: wheels missing
        print(f"Whisper base not measured: {exc}")
        return None


def measure_quality(given: str | None) -> dict[str, object]:
    installed = importlib.util.find_spec("faster_whisper") is not None
    model = whisper_folder(given) if installed else None
    with tempfile.TemporaryDirectory() as tmp_name:
        clips = corpus(Path(tmp_name))
        if moonshine_assets() is None:
            print("moonshine-voice is not installed (uv sync --group bench-speech): espeak only")
        results: dict[str, object] = {"accuracy": accuracy(clips, model)}
        print_rows("one chunk, one worker", results["accuracy"], ["engine", "clip", "wer", "rtf", "cpu_s", "peak_rss_mb", "load"])  # type: ignore[arg-type]  # fmt: skip
        if model:
            main_clip = clips[0]
            results["sharing"] = sharing(main_clip, model)
            print_rows(f"2 x {main_clip.name}: workers x cpu_threads", results["sharing"], ["engine", "workers", "cpu_threads", "wall_s", "rtf", "cpu_s", "peak_rss_mb", "load"])  # type: ignore[arg-type]  # fmt: skip
            results["beams"] = beams(main_clip, model)
            print_rows(f"beam size, {main_clip.name}", results["beams"], ["beam", "wer", "rtf", "cpu_s", "load"])  # type: ignore[arg-type]  # fmt: skip
            results["chunked"] = chunked(clips, model)
            print_rows("Whisper: one chunk vs 10 s chunks, stitched", results["chunked"], ["clip", "one_chunk_wer", "chunks_10s_wer", "load"])  # type: ignore[arg-type]  # fmt: skip
    return results


def print_rows(title: str, rows: list[dict[str, object]], columns: list[str]) -> None:
    print(f"\n{title}\n")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
