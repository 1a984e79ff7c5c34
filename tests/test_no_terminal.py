"""Started without a terminal, the full-screen app refuses with a message and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sessions.store import Store

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("args", [[], ["talk.mp3"]], ids=["no inputs", "an input"])
def test_without_a_terminal_the_app_refuses_and_creates_no_session(
    tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "talk.mp3").write_bytes(b"")
    env = os.environ | {
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=tmp_path,
        env=env | {"PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "needs a terminal" in result.stderr
    assert "--headless" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("transcripts-*"))
    with Store.open(tmp_path / "data" / "bulkscribe" / "sessions.db") as store:
        assert store.sessions() == []
