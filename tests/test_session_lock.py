"""Session locks: a second bulkscribe is refused by name and pid; a killed holder never sticks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import UsageError
from sessions.lock import SessionLock, holder

ROOT = Path(__file__).resolve().parents[1]
HOLD = """
import sys
from pathlib import Path
from sessions.lock import SessionLock
SessionLock(sys.argv[1], Path(sys.argv[2])).acquire()
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def other_process(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another bulkscribe process holding session 'abc' until it is told to stop or killed."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, "abc", str(tmp_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "locked"
    yield child
    if child.poll() is None:
        child.kill()
    child.wait(timeout=10)


def test_second_process_is_refused_with_the_holders_pid(
    tmp_path: Path, other_process: subprocess.Popen[str]
) -> None:
    with pytest.raises(
        UsageError, match=rf"session abc is open in another bulkscribe \(pid {other_process.pid}\)"
    ):
        SessionLock("abc", tmp_path).acquire()
    assert holder("abc", tmp_path) == other_process.pid
    with SessionLock("other", tmp_path):  # other sessions are unaffected
        pass


def test_a_killed_holder_releases_the_session(
    tmp_path: Path, other_process: subprocess.Popen[str]
) -> None:
    os.kill(other_process.pid, signal.SIGKILL)
    other_process.wait(timeout=10)
    assert holder("abc", tmp_path) is None
    with SessionLock("abc", tmp_path) as lock:
        assert lock.held
        assert holder("abc", tmp_path) == os.getpid()


def test_release_removes_the_file_and_the_session_can_be_taken_again(tmp_path: Path) -> None:
    lock = SessionLock("abc", tmp_path)
    with lock:
        assert lock.path.read_text().strip() == str(os.getpid())
        with pytest.raises(UsageError, match="already open in this bulkscribe"):
            SessionLock("abc", tmp_path).acquire()
    assert not lock.path.exists() and not lock.held
    with SessionLock("abc", tmp_path):
        assert holder("abc", tmp_path) == os.getpid()
    assert holder("abc", tmp_path) is None


def test_lock_files_live_beside_the_default_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    with SessionLock("abc") as lock:
        assert lock.path == tmp_path / "bulkscribe" / "locks" / "abc.lock"


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden"])
def test_ids_that_are_not_file_names_are_rejected(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        SessionLock(bad, tmp_path)
