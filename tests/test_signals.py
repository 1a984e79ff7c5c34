"""Signals reach the whole process group: a real headless run with the offline engine, stopped.

Each test starts ``bulkscribe --headless --asr sphinx`` in a process group of its own, waits until
a decoding process is working on a chunk, and signals the group as a terminal does (Ctrl-C sends
SIGINT to every process in the foreground group; closing the terminal sends SIGHUP).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[1]
SENTENCES = (
    "the quick brown fox jumps over the lazy dog",
    "seven silver swans swim south in the summer",
    "please read the report before the meeting starts",
)


def speech(path: Path, text: str, repeat: int = 1) -> Path:
    """Spoken English from espeak-ng: the offline engine hears real words, not tones."""
    subprocess.run(["espeak-ng", "-w", str(path), ". ".join([text] * repeat)], check=True)
    return path


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    data: Path
    out: Path
    stdout: str = ""

    def states(self) -> list[tuple[str, str | None, str | None]]:
        db = self.data / "bulkscribe" / "sessions.db"
        if not db.exists():
            return []
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
                return list(conn.execute("SELECT state, stage, error FROM items"))
        except sqlite3.OperationalError:  # created but not yet migrated
            return []

    def wait_for_decoding(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(
                state == "running" and stage == "transcribe" for state, stage, _ in self.states()
            ):
                # The chunk is handed to a decoding process within moments of this stage.
                time.sleep(0.5)
                return
            assert self.proc.poll() is None, self.proc.communicate()
            time.sleep(0.1)
        raise AssertionError(f"no item reached the transcribe stage: {self.states()}")

    def signal(self, signum: int) -> None:
        os.killpg(self.proc.pid, signum)

    def finish(self, timeout: float = 120.0) -> tuple[int, str]:
        out, err = self.proc.communicate(timeout=timeout)
        self.stdout = out.decode("utf-8", errors="replace") if out else ""
        return self.proc.returncode, err.decode("utf-8", errors="replace") if err else ""

    @property
    def manifest(self) -> dict[str, object]:
        return json.loads((self.out / "manifest.json").read_text(encoding="utf-8"))


def start(
    args: Sequence[str],
    tmp_path: Path,
    *,
    stderr: int = subprocess.PIPE,
    stdout: int = subprocess.DEVNULL,
) -> Run:
    data = tmp_path / "data"
    env = {**os.environ, "XDG_DATA_HOME": str(data), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "COLUMNS": "200", "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "--headless", "--asr", "sphinx", *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
    )
    return Run(proc, data, tmp_path / "out")


@pytest.fixture
def talks(tmp_path: Path) -> list[str]:
    folder = tmp_path / "talks"
    folder.mkdir()
    return [str(speech(folder / f"talk-{i}.wav", text)) for i, text in enumerate(SENTENCES)]


def assert_clean_stop(code: int, err: str, run: Run) -> None:
    assert code == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "bulkscribe --resume" in err, err
    manifest = run.manifest
    items = manifest["items"]
    assert isinstance(items, list)
    assert not [i for i in items if i["status"] == "failed"], items
    assert "KeyboardInterrupt" not in json.dumps(manifest)
    assert not [s for s in run.states() if s[0] == "failed" or "KeyboardInterrupt" in (s[2] or "")]
    # Chunks being decoded are abandoned, not waited for: nothing is left marked running.
    assert {s[0] for s in run.states()} <= {"queued", "done"}, run.states()


def resume_to_the_end(tmp_path: Path, run: Run) -> None:
    again = start(["--resume"], tmp_path)
    code, err = again.finish(timeout=240)
    assert code == 0, err
    counts = again.manifest["counts"]
    assert counts == {"done": len(SENTENCES)}, (counts, err)


@pytest.mark.parametrize("repeats", [1, 3])
def test_ctrl_c_to_the_process_group_requeues_and_saves_even_when_repeated(
    repeats: int, talks: list[str], tmp_path: Path
) -> None:
    run = start([*talks, "--workers", "2", "-o", str(tmp_path / "out")], tmp_path)
    run.wait_for_decoding()
    run.signal(signal.SIGINT)
    for _ in range(repeats - 1):
        time.sleep(0.05)  # the clean-up is under way (or done): these must not cut it short
        run.signal(signal.SIGINT)
    code, err = run.finish()
    assert_clean_stop(code, err, run)
    if repeats == 1:  # one resume shows the requeued items finish; the others would show the same
        resume_to_the_end(tmp_path, run)


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_hangup_and_terminate_stop_like_ctrl_c(
    signum: int, talks: list[str], tmp_path: Path
) -> None:
    run = start([*talks, "--workers", "2", "-o", str(tmp_path / "out")], tmp_path)
    run.wait_for_decoding()
    run.signal(signum)
    code, err = run.finish()
    assert_clean_stop(code, err, run)
    if signum == signal.SIGHUP:
        resume_to_the_end(tmp_path, run)


def test_a_hangup_with_the_terminal_gone_still_saves_the_session(
    talks: list[str], tmp_path: Path
) -> None:
    """The terminal closed: SIGHUP, and every later write to it fails."""
    read_end, write_end = os.pipe()
    run = start([*talks, "-o", str(tmp_path / "out")], tmp_path, stderr=write_end)
    os.close(write_end)
    run.wait_for_decoding()
    os.close(read_end)  # writes to stderr now raise BrokenPipeError
    run.signal(signal.SIGHUP)
    code, _ = run.finish()
    assert code == 130
    assert run.manifest["session"]["status"] == "paused"  # type: ignore[index]
    assert not [s for s in run.states() if s[0] == "failed"]


def test_resume_with_dry_run_only_reports(talks: list[str], tmp_path: Path) -> None:
    run = start([*talks, "-o", str(tmp_path / "out")], tmp_path)
    run.wait_for_decoding()
    run.signal(signal.SIGINT)
    assert run.finish()[0] == 130
    before = (sorted(p.name for p in run.out.iterdir()), run.states())

    dry = start(["--resume", "--dry-run"], tmp_path, stdout=subprocess.PIPE)
    code, err = dry.finish()
    assert code == 0, err
    assert f"{len(SENTENCES)} item(s) would carry on" in dry.stdout, dry.stdout
    assert "nothing was transcribed" in dry.stdout
    assert (sorted(p.name for p in run.out.iterdir()), run.states()) == before
