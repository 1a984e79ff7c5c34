"""Real speech for tests: public-domain passages read by espeak-ng, and human readings if installed.

The passages in tests/speech/ are public domain in the United States: the opening of the
Declaration of Independence (1776), of Melville's Moby-Dick (1851) and of Austen's Pride and
Prejudice (1813). Moby-Dick and Pride
and Prejudice are kept for bench/seams.py, so the benchmark measures speech no test tunes on.

Synthesis is deterministic for one espeak-ng build, so the audio is cached by text, voice,
speed and espeak-ng version, and each run after the first costs nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

PASSAGES = Path(__file__).resolve().parent / "speech"
VOICE = "en-us"
WORDS_PER_MINUTE = 160
# Human readings shipped as assets in the moonshine-voice wheel (MIT), found without importing it.
HUMAN_PACKAGE = "moonshine_voice"


class NoSynthesiser(RuntimeError):
    """espeak-ng is not installed (the CI script installs it from Debian's packages)."""


def espeak() -> str:
    found = shutil.which("espeak-ng")
    if found is None:
        raise NoSynthesiser("espeak-ng is not on PATH; install it with apt-get install espeak-ng")
    return found


def passage(name: str) -> str:
    return (PASSAGES / f"{name}.txt").read_text(encoding="utf-8")


def _version(binary: str) -> str:
    return subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()


def synthesise(text: str, cache: Path, voice: str = VOICE, wpm: int = WORDS_PER_MINUTE) -> Path:
    """A WAV file of ``text`` read by espeak-ng, made once and kept under ``cache``."""
    binary = espeak()
    key = hashlib.sha256(f"{_version(binary)}|{voice}|{wpm}|{text}".encode()).hexdigest()[:20]
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"speech-{key}.wav"
    if not path.exists():
        # One partial file per process: parallel test workers may make the same recording at once.
        partial = path.with_suffix(f".partial-{os.getpid()}.wav")
        subprocess.run(
            [binary, "-v", voice, "-s", str(wpm), "-w", str(partial), "--stdin"],
            input=text.encode(),
            check=True,
            capture_output=True,
            timeout=120,
        )
        partial.replace(path)  # a run killed midway leaves no half-written file in the cache
    return path


def read_passages(names: list[str], cache: Path) -> Path:
    """Several passages read one after another, as one recording."""
    return synthesise("\n\n".join(passage(name) for name in names), cache)


def human_recording(name: str) -> Path | None:
    """One of moonshine-voice's recordings of people reading, or None if it is not installed."""
    spec = importlib.util.find_spec(HUMAN_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "assets" / name
        if path.is_file():
            return path
    return None
