"""A remote download is bounded: a size cap and a disk reserve, whatever the server declares."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.errors import OutputError
from engine.http_bounds import MB
from engine.sources import download_guard
from engine.sources.download_guard import DownloadTooLarge
from engine.sources.remote import download_audio
from tests.servers.hostile_http import Behaviour, HostileServer

HUGE = 200 * MB


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("declare", [False, True], ids=["streamed", "declared"])
def test_a_download_past_the_cap_stops_with_an_error_and_leaves_nothing(
    tmp_path: Path, declare: bool
) -> None:
    behaviour = Behaviour("huge", size=HUGE, declare=declare)
    with HostileServer(behaviour) as server:
        with pytest.raises(DownloadTooLarge) as caught:
            download_audio(server.url("episode-412.mp3"), tmp_path, max_bytes=2 * MB)
        sent = server.sent
    text = caught.value.user_text
    assert "larger than the 2 MB download limit" in text
    assert "max_download_mb" in text
    if declare:
        assert "declares 200 MB" in text
    assert _leftovers(tmp_path) == []
    # What left the server before the client hung up: the cap plus socket buffers, not 200 MB.
    assert sent < 40 * MB


def test_a_download_under_the_cap_is_kept(tmp_path: Path) -> None:
    with HostileServer(Behaviour("huge", size=3 * MB, declare=False)) as server:
        path = download_audio(server.url("episode-1.mp3"), tmp_path, max_bytes=4 * MB)
    assert path.parent == tmp_path.resolve()
    assert path.stat().st_size == 3 * MB
    assert path.read_bytes()[:3] == b"ID3"


def test_a_download_stops_before_the_disk_fills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reserve set just above what this disk has free: the first block already eats into it.
    free = shutil.disk_usage(tmp_path).free
    monkeypatch.setattr(download_guard, "DISK_RESERVE_BYTES", free + 64 * MB)
    server = HostileServer(Behaviour("huge", size=HUGE, declare=False))
    with server, pytest.raises(OutputError) as caught:
        download_audio(server.url("episode-2.mp3"), tmp_path)
    assert caught.value.blocks  # the next item would meet the same full disk: the batch pauses
    assert "free" in caught.value.message and "download stopped" in caught.value.message
    assert _leftovers(tmp_path) == []


def test_the_limit_is_a_setting_with_a_floor() -> None:
    from engine.errors import UsageError
    from engine.settings import Settings
    from tui.config import unknown_keys

    assert Settings().max_download_mb == 4096
    assert unknown_keys({"max_download_mb": 100}) == []
    with pytest.raises(UsageError, match="max_download_mb must be at least 1"):
        Settings(max_download_mb=0).validate()
