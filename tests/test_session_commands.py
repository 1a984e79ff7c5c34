"""``bulkscribe sessions ...``: what a person sees from list, show, export, import, delete, prune."""

from __future__ import annotations

import argparse
import io
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from rich.console import Console

from engine.errors import UsageError
from engine.items import Item, State
from engine.segments import Segment
from sessions import commands
from sessions.store import SessionInfo, Store


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bulkscribe")
    commands.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["sessions", *argv])


def run(*argv: str, width: int = 2000) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False)
    assert commands.run(parse(*argv), console) == 0
    return out.getvalue()


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "bulkscribe"


@pytest.fixture
def sid(data_home: Path) -> str:
    """A paused session with done, failed and queued items, a chunk and an event."""
    with Store.open() as store:
        sid = store.create_session(
            name="podcasts",
            inputs=["feed.txt"],
            settings={"model": "whisper-1", "api_key": "sk-never-shown"},
            output_dir="/out/podcasts",
        )
        store.save_items(
            sid,
            [
                Item(0, "a.mp3", title="Episode A", state=State.DONE),
                Item(1, "b.mp3", state=State.FAILED, error_class="media", error="no audio track"),
                Item(2, "c.mp3"),
            ],
        )
        store.save_chunk(sid, 2, 0, 0.0, 600.0, [Segment(0.0, 1.0, "hello")], "en")
        store.add_event(sid, "retry", "b.mp3 failed after 3 attempts")
        store.update_session(sid, status="paused")
    return sid


def add_finished(store: Store, sid: str, days: float) -> None:
    when = datetime.now().astimezone() - timedelta(days=days)
    empty: MappingProxyType[str, Any] = MappingProxyType({})
    store.restore(
        SessionInfo(sid, "old", when, when, "finished", empty, 0, "/o", empty, (), empty),
        [],
        [],
        [],
    )


@pytest.mark.parametrize(
    ("text", "age"),
    [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("2w", timedelta(weeks=2)),
     ("90m", timedelta(minutes=90)), (" 1.5 days ", timedelta(hours=36))],
)  # fmt: skip
def test_parse_age_reads_what_people_type(text: str, age: timedelta) -> None:
    assert commands.parse_age(text) == age


@pytest.mark.parametrize("text", ["", "30", "d30", "30 parsecs", "-3d"])
def test_parse_age_explains_bad_input(text: str) -> None:
    with pytest.raises(UsageError, match="cannot read the age") as caught:
        commands.parse_age(text)
    assert "30d" in caught.value.hint


def test_list_with_no_sessions(data_home: Path) -> None:
    assert "No saved sessions yet." in run("list")


def test_list_shows_counts_and_tells_running_from_interrupted(data_home: Path, sid: str) -> None:
    out = run("list")
    row = next(line for line in out.splitlines() if sid in line)
    assert "podcasts" in row and "⏸ paused" in row and "/out/podcasts" in row
    assert re.search(r"paused\s+1/3\s+1\s", row)  # done of total, failed
    with Store.open() as store:
        store.update_session(sid, status="running")
        assert "! interrupted" in run("list")  # marked running, but no bulkscribe holds it
        with store.lock(sid):
            assert "▶ running" in run("list")


def test_show_gives_details_failures_and_events(data_home: Path, sid: str) -> None:
    out = run("show", sid[:-2])
    assert sid in out and "podcasts" in out and "feed.txt" in out
    assert "3 total" in out and "✓ done 1" in out and "✗ failed 1" in out
    assert "model=whisper-1" in out and "sk-never-shown" not in out
    assert "no audio track" in out and "b.mp3 failed after 3 attempts" in out
    assert "1 item(s) left" in out
    # Items are numbered from 1, as in the app: b.mp3 is the second.
    assert re.search(r"│\s+2 │ b\.mp3", out), out


def test_show_unknown_session_is_a_usage_error(data_home: Path) -> None:
    with pytest.raises(UsageError, match="no session zzz; see 'bulkscribe sessions list'"):
        run("show", "zzz")


def test_export_to_stdout_is_valid_json_even_in_a_narrow_terminal(
    data_home: Path, sid: str
) -> None:
    data = json.loads(run("export", sid, width=30))
    assert data["session"]["id"] == sid
    assert [i["source"] for i in data["items"]] == ["a.mp3", "b.mp3", "c.mp3"]
    assert data["chunks"][0]["segments"] == [[0.0, 1.0, "hello"]]


def test_export_to_file_then_import_elsewhere(
    tmp_path: Path, data_home: Path, sid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "exports" / "s.json"
    assert f"to {target}" in run("export", sid, "--json", str(target))
    with Store.open() as store:
        items = store.load_items(sid)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "elsewhere"))
    assert f"Imported session {sid}." in run("import", str(target))
    with Store.open() as store:
        assert store.load_items(sid) == items
        assert store.load_chunks(sid, 2)[0][2] == [Segment(0.0, 1.0, "hello")]


def test_import_of_a_missing_or_foreign_file_is_explained(tmp_path: Path, data_home: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        run("import", str(tmp_path / "missing.json"))
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(UsageError, match="not a bulkscribe session export"):
        run("import", str(other))


def test_delete_forgets_the_session_but_not_while_it_is_open(data_home: Path, sid: str) -> None:
    with Store.open() as store, store.lock(sid), pytest.raises(UsageError, match="already open"):
        run("delete", sid)
    out = run("delete", sid)
    assert f"Deleted session {sid}" in out and "/out/podcasts are kept" in out
    assert sid not in run("list")


def test_prune_deletes_old_finished_sessions_only(data_home: Path, sid: str) -> None:
    with Store.open() as store:
        add_finished(store, "20250101-000000-0001", days=45)
        add_finished(store, "20250101-000000-0002", days=3)
    out = run("prune", "--older-than", "30d")
    assert "Deleted 1 finished session(s): 20250101-000000-0001" in out
    listing = run("list")
    assert "20250101-000000-0001" not in listing
    assert "20250101-000000-0002" in listing and sid in listing
    assert "nothing deleted" in run("prune", "--older-than", "30d")


def test_a_corrupt_database_is_reported_once_and_replaced(data_home: Path) -> None:
    data_home.mkdir(parents=True)
    (data_home / "sessions.db").write_bytes(b"this is not a database" * 200)
    out = run("list")
    assert "Your session database was unreadable; it was moved to" in out
    assert "a new one started" in out and "No saved sessions yet." in out
    assert "unreadable" not in run("list")
