"""Speech for recognition tests: passages spoken by espeak-ng, with a word error rate to score them."""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from pathlib import Path

# Public-domain prose (Dickens, A Tale of Two Cities, 1859; Austen, Pride and Prejudice, 1813).
PASSAGES = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, "
    "it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity.",
    "It is a truth universally acknowledged, that a single man in possession of a good fortune "
    "must be in want of a wife.",
    "There were a king with a large jaw and a queen with a plain face, on the throne of England.",
    "However little known the feelings or views of such a man may be on his first entering "
    "a neighbourhood, this truth is so well fixed in the minds of the surrounding families.",
)
ESPEAK = shutil.which("espeak-ng")


def speak(text: str, path: Path, *, voice: str = "en-us", words_per_minute: int = 160) -> Path:
    """Write ``text`` spoken by espeak-ng to ``path`` (a 22.05 kHz mono WAV)."""
    if ESPEAK is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run(
        [ESPEAK, "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path


def silence(path: Path, seconds: float, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(seconds * rate))
    return path


def join_wavs(parts: list[Path], path: Path, gap: float = 0.6) -> Path:
    """Concatenate WAVs of one format with ``gap`` seconds of silence between them."""
    with wave.open(str(parts[0])) as first:
        params = first.getparams()
    pause = b"\0" * (int(gap * params.framerate) * params.sampwidth * params.nchannels)
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        for index, part in enumerate(parts):
            with wave.open(str(part)) as source:
                out.writeframes(source.readframes(source.getnframes()))
            if index < len(parts) - 1:
                out.writeframes(pause)
    return path


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, for comparing transcripts."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level edit distance over the reference length."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))
