"""LiveSession in one process: what create, resume and close leave in the store, the lock and the folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import AuthError, UsageError
from engine.inputs import read_inputs
from engine.items import Item, State
from engine.limits.services import Service
from engine.settings import Settings
from sessions.live import LiveSession
from sessions.lock import holder
from sessions.store import Store
from tests.servers.openai_api import OpenAIServer
from tests.test_crash_safety import frontmatter, make_tones, wait_until

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data" / "sessions.db") as opened:
        yield opened


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(latency=0.05) as api:
        yield api


def settings_for(server: OpenAIServer, out: Path, **changes: object) -> Settings:
    return Settings(
        asr="openai",
        api_base=server.base_url,
        api_keys=("sk-test",),
        output=str(out),
        chunk_seconds=10,
    ).evolve(**changes)


def start_session(store: Store, settings: Settings, media: Path) -> LiveSession:
    sources = read_inputs([str(media)]).sources
    return LiveSession.create(store, settings, [str(media)], sources)


def run_to_end(live: LiveSession) -> Path:
    live.batch.engine.start()
    assert live.batch.engine.wait_finished(20)
    return live.close()


def temp_folder(store: Store, session_id: str) -> Path:
    return store.path.parent / "tmp" / session_id


def test_create_saves_every_item_and_takes_the_session(
    store: Store, server: OpenAIServer, tmp_path: Path
) -> None:
    make_tones(tmp_path / "media", 3)
    live = start_session(store, settings_for(server, tmp_path / "out"), tmp_path / "media")
    sid = live.session_id
    # Read through a second connection, as a resume after a crash right now would.
    with Store.open(store.path) as other:
        items = other.load_items(sid)
        assert other.session(sid).status == "running"
    assert [i.state for i in items] == [State.QUEUED] * 3
    assert [Path(i.location).name for i in items] == ["tone00.wav", "tone01.wav", "tone02.wav"]
    assert holder(sid, store.path.parent) == os.getpid()
    assert temp_folder(store, sid).is_dir()

    manifest = live.close()  # nothing was started: the session waits to be resumed
    info = store.session(sid)
    assert info.status == "paused" and info.resumable
    assert dict(info.totals) == {"queued": 3}
    assert holder(sid, store.path.parent) is None
    assert not temp_folder(store, sid).exists()
    assert manifest.exists()
    assert server.arrivals == []


def test_a_finished_run_records_items_chunks_stems_and_status(
    store: Store, server: OpenAIServer, tmp_path: Path
) -> None:
    make_tones(tmp_path / "media", 2, first=25)
    live = start_session(store, settings_for(server, tmp_path / "out"), tmp_path / "media")
    run_to_end(live)
    info = store.session(live.session_id)
    assert info.status == "finished" and not info.resumable
    items = store.load_items(info.id)
    assert {i.state for i in items} == {State.DONE}
    assert [i.meta["stem"] for i in items] == ["tone00", "tone01"]
    assert all(Path(i.outputs["md"]).exists() for i in items)
    chunks = store.load_all_chunks(info.id)
    assert {item_id: len(c) for item_id, c in chunks.items()} == {0: 3, 1: 3}
    assert server.count(200) == 6
    assert "finished" in [e.kind for e in store.load_events(info.id)]


def test_resume_requeues_interrupted_items_and_keeps_finished_ones(
    store: Store, server: OpenAIServer, tmp_path: Path
) -> None:
    media = make_tones(tmp_path / "media", 4)
    out = tmp_path / "out"
    sid = store.create_session(name="out", inputs=[], settings={}, output_dir=str(out))
    states = [State.RUNNING, State.WAITING, State.DONE, State.FAILED]
    store.save_items(
        sid,
        [
            Item(
                n,
                source=name,
                location=str(tmp_path / "media" / name),
                state=state,
                stage="transcribe" if state.active else None,
                worker=n if state.active else None,
                error="broken" if state is State.FAILED else None,
            )
            for n, (name, state) in enumerate(zip(media, states, strict=True))
        ],  # fmt: skip
    )
    live = LiveSession.resume(store, store.session(sid), settings_for(server, out))
    board = {i.id: i for i in live.batch.board.items()}
    assert [board[n].state for n in range(4)] == [
        State.QUEUED, State.QUEUED, State.DONE, State.FAILED,
    ]  # fmt: skip
    assert board[0].worker is None and board[0].stage is None
    assert board[3].error == "broken"
    run_to_end(live)
    # Only the two unfinished items were sent; the failed one waits for an explicit retry.
    assert {a.freq for a in server.arrivals} == {300, 400}
    assert [i.state for i in store.load_items(sid)] == [
        State.DONE, State.DONE, State.DONE, State.FAILED,
    ]  # fmt: skip
    assert store.session(sid).status == "finished"


def test_a_session_open_here_cannot_be_opened_twice(
    store: Store, server: OpenAIServer, tmp_path: Path
) -> None:
    make_tones(tmp_path / "media", 1)
    live = start_session(store, settings_for(server, tmp_path / "out"), tmp_path / "media")
    info = store.session(live.session_id)
    with pytest.raises(UsageError, match="already open in this bulkscribe"):
        LiveSession.resume(store, info, settings_for(server, tmp_path / "out"))
    assert store.session(info.id).status == "running"  # the refused resume changed nothing
    live.close()
    again = LiveSession.resume(
        store, store.session(info.id), settings_for(server, tmp_path / "out")
    )
    run_to_end(again)
    assert store.session(info.id).status == "finished"


def test_resume_continues_a_long_item_from_its_last_finished_chunk(
    store: Store, server: OpenAIServer, tmp_path: Path
) -> None:
    make_tones(tmp_path / "media", 1, first=45)  # five chunks
    out = tmp_path / "out"
    server.latency = 0.2
    live = start_session(store, settings_for(server, out), tmp_path / "media")
    live.batch.engine.start()
    wait_until(lambda: live.batch.board.get(0).chunks_done >= 2, what="two chunks")
    live.close(interrupted=True)
    kept = store.load_chunks(live.session_id, 0)
    assert 2 <= len(kept) < 5
    assert store.load_items(live.session_id)[0].state is State.QUEUED
    before = len(server.arrivals)

    again = LiveSession.resume(store, store.session(live.session_id), settings_for(server, out))
    run_to_end(again)
    resent = {a.filename for a in server.arrivals[before:]}
    assert resent.isdisjoint(f"chunk-{idx:04d}.flac" for idx in kept)
    assert len(resent) == 5 - len(kept)
    meta, body = frontmatter((out / "tone00.md").read_text())
    assert meta["method"] == "asr" and "tone 300 hertz" in body
    assert sorted(p.name for p in out.iterdir()) == ["items.csv", "manifest.json", "tone00.md"]


def test_resume_reuses_a_claimed_name_and_clears_half_written_files(
    store: Store, server: OpenAIServer, tmp_path: Path
) -> None:
    """A kill after the file name was claimed, mid-write: the redo overwrites, never makes '(2)'."""
    make_tones(tmp_path / "media", 1)
    out = tmp_path / "out"
    out.mkdir()
    sid = store.create_session(name="out", inputs=[], settings={}, output_dir=str(out))
    location = str(tmp_path / "media" / "tone00.wav")
    store.save_items(
        sid,
        [Item(0, source=location, location=location, state=State.RUNNING, meta={"stem": "tone00"})],
    )
    (out / "tone00.md").write_text("half of an older run")
    ours = [out / ".tone00.md.0123abcd.tmp", out / ".manifest.json.deadbeef.tmp"]
    theirs = [out / ".other talk.md.0123abcd.tmp", out / "notes.tmp", out / ".tone00.md.tmp"]
    for path in ours + theirs:
        path.write_text("partial")

    live = LiveSession.resume(store, store.session(sid), settings_for(server, out))
    assert not any(p.exists() for p in ours)
    assert all(p.exists() for p in theirs)  # another session's, or not ours to judge
    run_to_end(live)
    assert not (out / "tone00 (2).md").exists()
    meta, body = frontmatter((out / "tone00.md").read_text())
    assert meta["title"] == "tone00" and "tone 300 hertz" in body


def test_a_run_that_cannot_start_leaves_no_session_behind(store: Store, tmp_path: Path) -> None:
    make_tones(tmp_path / "media", 1)
    keyless = Settings(asr="openai", output=str(tmp_path / "out"))
    with pytest.raises(AuthError, match="no API key"):
        start_session(store, keyless, tmp_path / "media")
    assert store.sessions() == []  # nothing for 'sessions list' or a resume to trip over
    assert list((store.path.parent / "tmp").iterdir()) == []


def test_changes_made_while_running_come_back_on_resume(
    store: Store, server: OpenAIServer, tmp_path: Path
) -> None:
    """Parallelism, limits and order changed live are saved with the session, not just the start."""
    from tui.config import resolve_settings

    make_tones(tmp_path / "media", 2)
    live = start_session(store, settings_for(server, tmp_path / "out"), tmp_path / "media")
    engine, asr = live.batch.engine, live.batch.limits[Service.ASR]
    engine.set_workers(6)
    asr.set_spec("120/min")
    asr.set_mode("independent")
    engine.set_order("longest")
    wait_until(lambda: store.session(live.session_id).settings.get("workers") == 6)
    saved = dict(store.session(live.session_id).settings)
    assert (saved["parallel"], saved["rate_limit"], saved["rate_mode"], saved["order"]) == (
        True, "120/min", "independent", "longest",
    )  # fmt: skip
    assert "api_keys" not in saved
    live.close(interrupted=True)

    resumed = resolve_settings({}, saved=Settings.from_saved(saved)).evolve(api_keys=("sk-test",))
    again = LiveSession.resume(store, store.session(live.session_id), resumed)
    try:
        assert again.batch.engine.workers == 6 and again.batch.engine.parallel
        assert str(again.batch.limits[Service.ASR].spec) == "120/min"
        assert again.batch.limits[Service.ASR].mode == "independent"
        assert again.batch.engine.view.order == "longest"
    finally:
        again.close(interrupted=True)


def test_a_finished_batch_writes_its_reports_before_any_quit(
    store: Store, server: OpenAIServer, tmp_path: Path
) -> None:
    """The reports are written when the last item finishes, so a kill afterwards loses nothing."""
    make_tones(tmp_path / "media", 3)
    out = tmp_path / "out"
    live = start_session(store, settings_for(server, out), tmp_path / "media")
    assert live.batch_finished() is None  # nothing has run yet: no reports, still running
    assert not (out / "manifest.json").exists()
    live.batch.engine.start()
    assert live.batch.engine.wait_finished(20)
    manifest = live.batch_finished()
    assert manifest == out / "manifest.json"
    import json

    written = json.loads(manifest.read_text())
    assert [row["status"] for row in written["items"]] == ["done"] * 3
    assert written["session"]["status"] == "finished"
    assert written["counts"] == {"done": 3}
    assert (out / "items.csv").read_text().count("\n") == 4
    # Read as the next start would after a kill right now: nothing left to offer for resuming.
    with Store.open(store.path) as other:
        assert other.session(live.session_id).status == "finished"
        assert other.latest_unfinished() is None
    live.close()
