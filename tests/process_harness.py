"""Real bulkscribe processes for tests: one Redis, each process with its own folders and log."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer

ROOT = Path(__file__).resolve().parents[1]


def cli_env(tmp: Path, name: str, **extra: str) -> dict[str, str]:
    """A process's environment: a data and config folder of its own, wide plain output."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp),
        "XDG_DATA_HOME": str(tmp / name / "data"),
        "XDG_CONFIG_HOME": str(tmp / name / "config"),
        "COLUMNS": "200",
        "NO_COLOR": "1",
        **extra,
    }


def spawn(
    tmp: Path, log: str, argv: Sequence[str], env: dict[str, str], prefix: Sequence[str] = ()
) -> subprocess.Popen[str]:
    """``bulkscribe ARGV`` (after ``prefix``, e.g. faketime), its output appended to ``log``.err."""
    out = (tmp / f"{log}.err").open("a")
    return subprocess.Popen(
        [*prefix, sys.executable, "-m", "tui.cli", *argv],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )


def log_of(tmp: Path, log: str) -> str:
    return (tmp / f"{log}.err").read_text()


def api_flags(api: OpenAIServer, key: str, limit: int, window: float, quota: str) -> list[str]:
    """The flags of a process that sends to the local API under one shared quota."""
    return [
        "--asr", "openai", "--api-base", api.base_url, "--api-key", key,
        "--rate-limit", f"{limit}/{window:g}s", "--quota", quota, "--retries", "5",
    ]  # fmt: skip


def tone_folder(folder: Path, freqs: Sequence[int], seconds: float = 0.3) -> Path:
    """A folder of short tones, ``tone-FREQ.wav``: the local API hears each one's frequency."""
    folder.mkdir(parents=True)
    for freq in freqs:
        write_tone(folder / f"tone-{freq}.wav", seconds=seconds, freq=freq)
    return folder


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
