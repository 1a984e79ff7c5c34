"""The session store: Items survive a restart exactly, bad files are set aside, secrets never land."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest

from engine.errors import UsageError
from engine.items import Item, State
from engine.segments import Segment
from sessions import schema
from sessions import store as store_module
from sessions.store import SessionEvent, SessionInfo, Store
from sessions.transfer import FORMAT_VERSION, export_session, import_session
from tests.itemgen import listed_video


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "bulkscribe"


@pytest.fixture
def store(data_home: Path) -> Iterator[Store]:
    opened = Store.open()
    yield opened
    opened.close()


def full_item(n: int) -> Item:
    """An item with every field away from its default."""
    return listed_video(
        n,
        f"https://example.test/watch?v={n}",
        title=f"Épisode {n} — “quotes” ✓",
        duration=3600.25,
        state=State.FAILED,
        stage="transcript",
        attempts=3,
        error_class="rate-limited",
        error="429 Too Many Requests (wait 30 s)",
        worker=4,
        method="asr",
        engine="openai",
        language="fr",
        chunks_total=6,
        chunks_done=5,
        queued_at=1_700_000_000.125,
        started_at=1_700_000_001.5,
        finished_at=1_700_000_099.75,
        stage_times=MappingProxyType({"metadata": 0.5, "transcript": 97.25}),
        outputs=MappingProxyType({"md": "/out/a.md", "srt": "/out/a.srt"}),
        meta=MappingProxyType(
            {
                "tags": ["a", "b"],
                "chapters": [[0.0, 60.0, "Intro"]],
                "pair": (1, (2, "x")),
                "extras": {"speaker": "Ann", "n": None},
                "view_count": 12,
            }
        ),
        preview=("first line", "second line"),
        version=17,
    )


def make_session(
    store: Store, sid: str, *, status: str = "running", age: timedelta = timedelta(0)
) -> str:
    when = datetime.now().astimezone() - age
    info = SessionInfo(
        sid, f"name {sid}", when, when, status, MappingProxyType({}), 0, "/out",
        MappingProxyType({}), (), MappingProxyType({}),
    )  # fmt: skip
    return store.restore(info, [], [], [])


def test_item_columns_are_item_fields_in_order() -> None:
    assert tuple(f.name for f in fields(Item)) == schema.ITEM_COLUMNS


def test_items_come_back_exactly_after_reopening(data_home: Path) -> None:
    items = [full_item(0), Item(1, "plain.mp3"), full_item(2).evolve(state=State.DONE)]
    with Store.open() as store:
        sid = store.create_session(name="run", inputs=["a"], settings={}, output_dir="/out")
        store.save_items(sid, items)
    with Store.open() as store:
        loaded = store.load_items(sid)
    assert loaded == items
    assert loaded[0].meta["pair"] == (1, (2, "x"))
    assert isinstance(loaded[0].meta, MappingProxyType)
    assert loaded[0].state is State.FAILED and loaded[1].title is None


def test_saving_again_keeps_only_the_latest_state(store: Store) -> None:
    sid = store.create_session(name="run", inputs=[], settings={}, output_dir="/out")
    item = Item(0, "a.mp3")
    store.save_items(sid, [item, Item(1, "b.mp3")])
    store.save_items(sid, [item.evolve(state=State.RUNNING, stage="decode", version=1)])
    store.save_items(sid, [item.evolve(state=State.DONE, outputs={"md": "/o/a.md"}, version=2)])
    loaded = store.load_items(sid)
    assert [(i.id, i.state, i.version) for i in loaded] == [
        (0, State.DONE, 2),
        (1, State.QUEUED, 0),
    ]
    assert store.session(sid).counts == {"done": 1, "queued": 1}


def test_a_saved_stem_is_the_one_given_and_keeps_the_rest(store: Store) -> None:
    sid = store.create_session(name="run", inputs=[], settings={}, output_dir="/out")
    store.save_items(sid, [Item(0, "a.mp3", meta={"show": "Talks"}), Item(1, "b.mp3")])
    store.save_stem(sid, 0, "a-talk (2)")
    first, second = store.load_items(sid)
    assert first.meta == {"show": "Talks", "stem": "a-talk (2)"}
    assert second.meta == {}


def test_chunks_round_trip_overwrite_and_drop(data_home: Path) -> None:
    segments = [Segment(0.0, 1.5, "hello"), Segment(1.5, 3.25, "wörld")]
    with Store.open() as store:
        sid = store.create_session(name="run", inputs=[], settings={}, output_dir="/out")
        store.save_chunk(sid, 7, 0, 0.0, 600.0, segments, "en")
        store.save_chunk(sid, 7, 1, 598.0, 1200.0, [], None)
        store.save_chunk(sid, 8, 0, 0.0, 10.0, segments[:1], "de")
    with Store.open() as store:
        assert store.load_chunks(sid, 7) == {
            0: (0.0, 600.0, segments, "en"),
            1: (598.0, 1200.0, [], None),
        }
        store.save_chunk(sid, 7, 1, 598.0, 1200.0, segments[1:], "en")
        assert store.load_chunks(sid, 7)[1][2] == segments[1:]
        store.drop_chunks(sid, 7)
        assert store.load_chunks(sid, 7) == {}
        assert store.load_chunks(sid, 8) == {0: (0.0, 10.0, segments[:1], "de")}


def test_unknown_session_is_a_clear_error(store: Store) -> None:
    with pytest.raises(UsageError, match="no session nope; see 'bulkscribe sessions list'"):
        store.session("nope")
    with pytest.raises(UsageError, match="no session"):
        store.save_items("nope", [Item(0, "a")])
    with pytest.raises(UsageError, match="no session"):
        store.save_chunk("nope", 0, 0, 0.0, 1.0, [], None)


def test_listing_is_newest_first_with_counts(store: Store) -> None:
    old = make_session(store, "20260101-000000-aaaa", age=timedelta(days=2))
    new = make_session(store, "20260102-000000-bbbb")
    store.save_items(old, [Item(0, "a", state=State.DONE), Item(1, "b", state=State.FAILED)])
    infos = store.sessions()
    assert [i.id for i in infos] == [new, old]
    assert infos[1].total == 2 and infos[1].count(State.FAILED) == 1 and infos[0].total == 0


def test_prefix_lookup_needs_a_unique_prefix(store: Store) -> None:
    make_session(store, "20260101-000000-aaaa")
    make_session(store, "20260101-000000-aabb")
    assert store.session("20260101-000000-aab").id == "20260101-000000-aabb"
    with pytest.raises(UsageError, match="matches several sessions"):
        store.session("20260101-000000-aa")


def test_latest_unfinished_is_the_newest_resumable(store: Store) -> None:
    pending = [Item(0, "a", state=State.DONE), Item(1, "b")]
    for sid, status, age, items in [
        ("20260101-000000-0001", "paused", 5, pending),
        ("20260101-000000-0002", "running", 4, pending),
        ("20260101-000000-0003", "finished", 3, pending),
        ("20260101-000000-0004", "running", 2, [Item(0, "a", state=State.SKIPPED)]),
        ("20260101-000000-0005", "cancelled", 1, pending),
    ]:
        make_session(store, sid, status=status, age=timedelta(hours=age))
        store.save_items(sid, items)
    latest = store.latest_unfinished()
    assert latest is not None and latest.id == "20260101-000000-0002" and latest.resumable
    store.update_session(latest.id, status="finished")
    latest = store.latest_unfinished()
    assert latest is not None and latest.id == "20260101-000000-0001"


def test_delete_removes_items_chunks_and_events(store: Store) -> None:
    sid = store.create_session(name="run", inputs=[], settings={}, output_dir="/out")
    store.save_items(sid, [Item(0, "a")])
    store.save_chunk(sid, 0, 0, 0.0, 1.0, [Segment(0, 1, "x")], "en")
    store.add_event(sid, "retry", "trying again")
    store.delete(sid[:-1])
    assert store.sessions() == []
    assert store.load_items(sid) == [] and store.load_chunks(sid, 0) == {}
    assert store.load_events(sid) == []


def test_prune_deletes_only_old_finished_sessions(store: Store) -> None:
    old_done = make_session(
        store, "20260101-000000-0001", status="finished", age=timedelta(days=40)
    )
    make_session(store, "20260101-000000-0002", status="finished", age=timedelta(days=5))
    make_session(store, "20260101-000000-0003", status="paused", age=timedelta(days=90))
    assert store.prune(timedelta(days=30)) == [old_done]
    assert sorted(i.id for i in store.sessions()) == [
        "20260101-000000-0002",
        "20260101-000000-0003",
    ]


def test_event_log_keeps_only_the_most_recent(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "EVENTS_KEPT", 5)
    sid = store.create_session(name="run", inputs=[], settings={}, output_dir="/out")
    for n in range(8):
        store.add_event(sid, "note", f"event {n}", t=1000.0 + n)
    assert [e.text for e in store.load_events(sid)] == [f"event {n}" for n in range(3, 8)]
    assert store.load_events(sid, limit=2)[-1] == SessionEvent(1007.0, "note", "event 7")


def test_saves_from_several_threads_all_land(store: Store) -> None:
    sid = store.create_session(name="run", inputs=[], settings={}, output_dir="/out")

    def write(start: int) -> None:
        for n in range(start, start + 50):
            store.save_items(sid, [Item(n, f"s{n}", state=State.DONE)])

    threads = [threading.Thread(target=write, args=(k * 50,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [i.id for i in store.load_items(sid)] == list(range(200))


def test_new_file_and_empty_file_are_migrated_to_the_current_schema(data_home: Path) -> None:
    data_home.mkdir(parents=True)
    (data_home / "sessions.db").write_bytes(b"")
    with Store.open() as store:
        assert store.recovered_from is None
        assert store.path == data_home / "sessions.db"
    conn = sqlite3.connect(data_home / "sessions.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_migrations_apply_in_order_from_an_older_version(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        sid = store.create_session(name="kept", inputs=[], settings={}, output_dir="/out")
    conn = sqlite3.connect(path, isolation_level=None)
    later = (*schema.MIGRATIONS, ("ALTER TABLE sessions ADD COLUMN note TEXT DEFAULT 'n'",))
    assert schema.migrate(conn, later) == schema.SCHEMA_VERSION + 1
    assert conn.execute("SELECT name, note FROM sessions WHERE id = ?", (sid,)).fetchone() == (
        "kept",
        "n",
    )
    conn.close()


def test_a_database_from_a_newer_bulkscribe_is_refused_not_moved(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(UsageError, match="made by a newer bulkscribe"):
        Store.open(path)
    assert path.exists() and not list(tmp_path.glob("*.corrupt-*"))


def test_random_bytes_are_moved_aside_with_companions(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    junk = random.Random(7).randbytes(8192)
    path.write_bytes(junk)
    Path(f"{path}-wal").write_bytes(b"stale wal")
    with Store.open(path) as store:
        moved = store.recovered_from
        assert moved is not None and moved.name.startswith("sessions.db.corrupt-")
        assert moved.read_bytes() == junk
        assert Path(f"{moved}-wal").read_bytes() == b"stale wal"
        sid = store.create_session(name="fresh", inputs=[], settings={}, output_dir="/out")
    with Store.open(path) as store:
        assert store.recovered_from is None and store.session(sid).name == "fresh"


def test_a_database_with_damaged_pages_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    with Store.open(path) as store:
        sid = store.create_session(name="run", inputs=[], settings={}, output_dir="/o")
        store.save_items(sid, [Item(n, f"source {n}" * 20) for n in range(500)])
    damaged = bytearray(path.read_bytes())
    half = len(damaged) // 2
    damaged[half : half + 8192] = random.Random(3).randbytes(8192)
    path.write_bytes(bytes(damaged))
    with Store.open(path) as store:
        assert store.recovered_from is not None and store.sessions() == []


def test_a_foreign_sqlite_file_is_moved_aside_untouched(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.execute("INSERT INTO contacts VALUES ('Ann')")
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        assert store.recovered_from is not None
        moved = sqlite3.connect(store.recovered_from)
        assert moved.execute("SELECT name FROM contacts").fetchall() == [("Ann",)]
        assert moved.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        moved.close()
        assert store.sessions() == []


PLANTED = ("sk-plantedKEY0123456789", "tok-planted-42", "hunter2-planted", "Bearer planted-xyz")


def _bytes_on_disk(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_secrets_never_reach_the_database_file(data_home: Path) -> None:
    key, token, password, bearer = PLANTED
    settings = {
        "model": "whisper-1",
        "api_key": key,
        "api_keys": [key],
        "api_key_source": "env:OPENAI_API_KEY",
        "provider": {"access_token": token, "base": "http://127.0.0.1"},
        "Authorization": bearer,
    }
    store = Store.open()
    sid = store.create_session(name="run", inputs=["a"], settings=settings, output_dir="/out")
    store.update_session(sid, settings={**settings, "proxy_password": password}, totals={"n": 1})
    saved = store.session(sid).settings
    assert saved == {
        "model": "whisper-1",
        "api_key_source": "env:OPENAI_API_KEY",
        "provider": {"base": "http://127.0.0.1"},
    }
    on_disk_while_open = _bytes_on_disk(data_home)
    store.close()
    for blob in (on_disk_while_open, _bytes_on_disk(data_home)):
        assert b"OPENAI_API_KEY" in blob  # the file was really read
        assert not any(secret.encode() in blob for secret in PLANTED)


def test_export_then_import_on_a_fresh_store_is_identical(tmp_path: Path) -> None:
    items = [full_item(0), Item(1, "b.mp3", state=State.DONE), full_item(2)]
    segments = [Segment(0.0, 2.0, "bonjour"), Segment(2.0, 4.5, "à tous")]
    with Store.open(tmp_path / "a.db") as source:
        sid = source.create_session(
            name="run",
            inputs=["x", "y"],
            settings={"model": "m", "formats": ["md"]},
            output_dir="/o",
        )
        source.save_items(sid, items)
        source.save_chunk(sid, 0, 0, 0.0, 600.0, segments, "fr")
        source.add_event(sid, "retry", "item 0 again", t=1234.5)
        source.update_session(sid, status="paused", totals={"done": 1})
        data = json.loads(json.dumps(export_session(source, sid)))
        before = source.session(sid)
    assert data["format_version"] == FORMAT_VERSION
    with Store.open(tmp_path / "b.db") as target:
        new_id = import_session(target, data)
        assert new_id == sid
        assert target.load_items(sid) == items
        assert target.load_chunks(sid, 0) == {0: (0.0, 600.0, segments, "fr")}
        assert target.load_events(sid) == [SessionEvent(1234.5, "retry", "item 0 again")]
        assert target.session(sid) == before
        again = import_session(target, data)
        assert again != sid and target.load_items(again) == items


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": FORMAT_VERSION + 1}, "made by a newer bulkscribe"),
        ({"format": "something-else"}, "not a bulkscribe session export"),
        ({"items": [{"id": 0}]}, "export file is damaged"),
        ({"session": {"id": "x"}}, "export file is damaged"),
    ],
)
def test_import_refuses_what_it_cannot_read(tmp_path: Path, change: dict, message: str) -> None:
    with Store.open(tmp_path / "s.db") as store:
        sid = store.create_session(name="run", inputs=[], settings={}, output_dir="/o")
        data = {**export_session(store, sid), **change}
        with pytest.raises(UsageError, match=message):
            import_session(store, data)
        assert len(store.sessions()) == 1


def test_import_strips_secrets_and_unsafe_ids(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        sid = store.create_session(name="run", inputs=[], settings={}, output_dir="/o")
        data = export_session(store, sid)
        store.delete(sid)
        data["session"]["settings"] = {"api_key": PLANTED[0], "model": "m"}
        data["session"]["id"] = "../../escape"
        new_id = import_session(store, data)
        assert "/" not in new_id and store.session(new_id).settings == {"model": "m"}
    assert PLANTED[0].encode() not in _bytes_on_disk(tmp_path)
