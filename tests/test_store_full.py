"""A full data folder: the session store cannot write, the run pauses, nothing fails, work carries on."""

from __future__ import annotations

import errno
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.board import Board
from engine.errors import StoreError, describe
from engine.inputs import read_inputs
from engine.items import Item, State
from sessions.live import LiveSession
from sessions.recorder import Recorder
from sessions.store import STORE_CANNOT_WRITE, Store
from tests.servers.openai_api import OpenAIServer
from tests.test_crash_safety import make_tones, wait_until
from tests.test_headless_e2e import api_flags, assert_no_traceback, run_cli
from tests.test_live_session import settings_for

pytestmark = pytest.mark.timeout(60)
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN IMMEDIATE")


class FillingDisk:
    """Stands in for the store's sqlite connection: while ``full``, every write fails as SQLite
    fails on a full disk (``SQLITE_FULL``: "database or disk is full"); reads still work.

    ``full_after`` turns it full by itself after that many good write statements.
    """

    def __init__(self, real: sqlite3.Connection, full_after: int | None = None) -> None:
        self.real = real
        self.full = False
        self.full_after = full_after
        self.refused = 0
        self.error: Exception = sqlite3.OperationalError("database or disk is full")
        self._lock = threading.Lock()

    def _check(self, sql: str) -> None:
        if not sql.lstrip().upper().startswith(_WRITES):
            return
        with self._lock:
            if self.full_after is not None:
                self.full_after -= 1
                if self.full_after < 0:
                    self.full = True
            if self.full:
                self.refused += 1
                raise self.error

    def execute(self, sql: str, *args: Any) -> Any:
        self._check(sql)
        return self.real.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        self._check(sql)
        return self.real.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def filling(store: Store, full_after: int | None = None) -> FillingDisk:
    disk = FillingDisk(store._conn, full_after)
    store._conn = disk  # type: ignore[assignment]
    return disk


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data" / "sessions.db") as opened:
        yield opened


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("database or disk is full"),
        sqlite3.OperationalError("disk I/O error"),
        sqlite3.OperationalError("attempt to write a readonly database"),
        OSError(errno.ENOSPC, "No space left on device"),
    ],
    ids=["full", "io", "readonly", "enospc"],
)
@pytest.mark.parametrize("write", ["save_items", "save_chunk", "add_event", "update_session"])
def test_every_store_write_fails_as_one_blocking_error(
    store: Store, error: Exception, write: str
) -> None:
    sid = store.create_session(name="out", inputs=[], settings={}, output_dir="out")
    disk = filling(store)
    disk.full, disk.error = True, error
    calls = {
        "save_items": lambda: store.save_items(sid, [Item(0, "a.wav")]),
        "save_chunk": lambda: store.save_chunk(sid, 0, 0, 0.0, 1.0, [], None),
        "add_event": lambda: store.add_event(sid, "pause", "paused"),
        "update_session": lambda: store.update_session(sid, status="paused"),
    }
    with pytest.raises(StoreError) as refused:
        calls[write]()
    kind, text, transient = describe(refused.value)
    assert kind == "store" and refused.value.blocks and not transient
    assert text.startswith(STORE_CANNOT_WRITE) and str(store.path.parent) in text
    assert "free space" in text
    disk.full = False
    calls[write]()  # the connection is usable again: no transaction was left open


def test_the_recorder_keeps_what_it_could_not_write(store: Store) -> None:
    sid = store.create_session(name="out", inputs=[], settings={}, output_dir="out")
    board = Board()
    full: list[str] = []
    recorder = Recorder(store, sid, board, on_full=full.append)
    board.add([Item(-1, "a.wav"), Item(-1, "b.wav")])
    disk = filling(store)
    disk.full = True
    with pytest.raises(StoreError) as refused:
        recorder.flush()
    recorder.full(refused.value)
    board.update(0, state=State.DONE)
    board.post("pause", "paused for a reason")
    with pytest.raises(StoreError):
        recorder.flush()
    assert len(full) == 1 and full[0].startswith(STORE_CANNOT_WRITE)
    assert store.load_items(sid) == []
    disk.full = False
    recorder.flush()
    recorder.failing = None
    assert [(i.source, i.state) for i in store.load_items(sid)] == [
        ("a.wav", State.DONE),
        ("b.wav", State.QUEUED),
    ]
    assert "paused for a reason" in [e.text for e in store.load_events(sid)]


def test_a_full_store_mid_run_pauses_fails_nothing_and_carries_on(
    store: Store, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    make_tones(media, 6, first=12.0, step=1.0)  # two chunks each: checkpoints are written
    with OpenAIServer(latency=0.05) as server:
        settings = settings_for(server, tmp_path / "out", workers=2, parallel=True)
        live = LiveSession.create(store, settings, [str(media)], read_inputs([str(media)]).sources)
        disk = filling(store)
        engine = live.batch.engine
        engine.start()
        wait_until(lambda: live.batch.counts()["done"] >= 1, what="a first item done")
        disk.full = True
        wait_until(lambda: engine.blocked is not None, what="the engine to pause itself")
        assert engine.blocked.startswith(STORE_CANNOT_WRITE), engine.blocked
        wait_until(lambda: not any(i.state.active for i in live.batch.board.items()),
                   what="running items to settle")  # fmt: skip
        assert live.batch.counts()["failed"] == 0
        assert disk.refused >= 1
        disk.full = False  # space is back: the recorder sees it and the run carries on
        assert engine.wait_finished(30)
        manifest = live.close()
    assert live.store_error is None
    states = [item.state for item in store.load_items(live.session_id)]
    assert states == [State.DONE] * 6
    assert json.loads(manifest.read_text())["counts"] == {"done": 6}
    texts = [e.text for e in store.load_events(live.session_id)]
    assert any(t.startswith(f"paused: {STORE_CANNOT_WRITE}") for t in texts), texts
    assert "the session store can write again: carrying on" in texts


def test_headless_stops_with_the_reason_and_a_resume_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = tmp_path / "media"
    make_tones(media, 5, first=3.0, step=0.5)
    real_open = Store.open
    disks: list[FillingDisk] = []

    def open_filling(*args: Any, **kwargs: Any) -> Store:
        opened = real_open(*args, **kwargs)
        disks.append(filling(opened, full_after=12))  # full soon after the run starts
        return opened

    with OpenAIServer(latency=0.05) as api:
        monkeypatch.setattr(Store, "open", staticmethod(open_filling))
        first = run_cli([str(media), *api_flags(api, workers=2)], tmp_path, monkeypatch)
        monkeypatch.setattr(Store, "open", real_open)
        assert_no_traceback(first)
        assert first.code == 1, first.stderr
        assert f"stopped: {STORE_CANNOT_WRITE} (database or disk is full)" in first.stderr
        assert "bulkscribe --resume" in first.stderr
        rows = first.items
        assert "failed" not in {row["status"] for row in rows}, rows
        assert {row["status"] for row in rows} & {"queued"}  # the rest waits for the resume
        again = run_cli(["--resume", *api_flags(api, workers=2)], tmp_path, monkeypatch)
    assert again.code == 0, again.stderr
    assert again.manifest["counts"] == {"done": 5}


def test_a_full_scratch_folder_beside_the_store_pauses_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks are cut into a scratch folder beside sessions.db: on a full data drive that fails
    # first, with the OSError PyAV raises (errno 28) when it cannot write a chunk.
    import engine.audio.media

    media = tmp_path / "media"
    make_tones(media, 3, first=3.0, step=0.5)
    real_split = engine.audio.media.split_audio

    def no_space(path: Path, folder: Path, *args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "raw-0000.flac"))

    with OpenAIServer(latency=0.05) as api:
        monkeypatch.setattr(engine.audio.media, "split_audio", no_space)
        first = run_cli([str(media), *api_flags(api, workers=2)], tmp_path, monkeypatch)
        first_states = {row["status"] for row in first.items}  # read before the resume rewrites it
        monkeypatch.setattr(engine.audio.media, "split_audio", real_split)
        again = run_cli(["--resume", *api_flags(api, workers=2)], tmp_path, monkeypatch)
    assert_no_traceback(first)
    assert first.code == 1, first.stderr
    assert "stopped: disk full in the working folder" in first.stderr
    assert first_states == {"queued"}
    assert again.code == 0, again.stderr
    assert again.manifest["counts"] == {"done": 3}


def test_a_store_that_keeps_failing_right_after_it_came_back_is_tried_less_often(
    store: Store,
) -> None:
    sid = store.create_session(name="out", inputs=[], settings={}, output_dir="out")
    recorder = Recorder(store, sid, Board())
    refusal = StoreError(f"{STORE_CANNOT_WRITE} (database or disk is full)")
    waits = []
    for _ in range(8):  # fails, comes back, fails again at once: a chunk never fits
        recorder.full(refusal)
        waits.append(recorder.retry_every)
        recorder.flush()  # the small probe write fits
        recorder.failing, recorder._back_at = None, time.monotonic()
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
