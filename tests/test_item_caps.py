"""Outside text kept per item is bounded: a 50 MB field never reaches the store or the reports whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import pytest

from engine.inputs.source import Source
from engine.item_caps import (
    DEPTH,
    LIST_ITEMS,
    MAP_ITEMS,
    TEXT_CHARS,
    TITLE_CHARS,
    cap_text,
    cap_title,
    cap_value,
)
from engine.items import Item
from engine.stages.resolve import items_from_sources
from sessions.store import Store
from tests.test_headless_e2e import assert_no_traceback, run_cli

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("length", "limit", "cut"),
    [(0, 10, False), (10, 10, False), (11, 10, True), (5 * MB, 100, True)],
)
def test_text_over_its_limit_is_cut_with_a_marker(length: int, limit: int, cut: bool) -> None:
    text = "é" * length
    capped = cap_text(text, limit)
    if not cut:
        assert capped == text
    else:
        assert capped.startswith("é" * limit)
        assert capped.endswith(f"… [{length - limit:,} more characters cut]")
        assert len(capped) < limit + 60


def test_nested_metadata_is_bounded_everywhere() -> None:
    deep: object = "bottom"
    for _ in range(DEPTH + 3):
        deep = {"down": deep}
    meta = {
        "description": "d" * (3 * TEXT_CHARS),
        "tags": ["t"] * (LIST_ITEMS + 500),
        "extras": {f"column {i}": "x" * 50 for i in range(MAP_ITEMS + 50)},
        "k" * 10_000: "long key",
        "deep": deep,
        "chapters": ((0.0, 1.0, "c" * (2 * TEXT_CHARS)),),
    }
    capped = cap_value(meta)
    size = len(json.dumps(capped, ensure_ascii=False))
    assert size < 600_000, size
    assert "more characters cut" in capped["description"]
    assert len(capped["tags"]) == LIST_ITEMS
    assert capped["extras"]["…"] == "50 more fields cut"
    assert all(len(key) <= 300 for key in capped)
    assert "more characters cut" in capped["chapters"][0][2]
    assert json.dumps(capped)  # still plain JSON


def test_listed_items_keep_a_capped_title_and_extras() -> None:
    source = Source(
        raw="https://example.test/talk", kind="url", location="https://example.test/talk",
        origin="talks.json", row=1, title="T" * (5 * MB),
        extras={"description": "D" * (50 * MB), "speaker": "Ada"},
    )  # fmt: skip
    (item,) = items_from_sources([source])
    assert item.title is not None and len(item.title) < TITLE_CHARS + 60
    assert item.title.endswith("more characters cut]")
    assert item.meta["extras"]["speaker"] == "Ada"
    assert len(item.meta["extras"]["description"]) < TEXT_CHARS + 60


def _store_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.iterdir() if p.name.startswith(path.name))


def test_the_store_keeps_no_giant_field_whatever_path_it_came_by(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    with Store.open(db) as store:
        sid = store.create_session(name="out", inputs=[], settings={}, output_dir="out")
        item = Item(
            0, "https://example.test/x", kind="url", title="T" * (20 * MB),
            meta={"description": "D" * (50 * MB), "tags": ["x" * MB] * 5},
        )  # fmt: skip
        for _ in range(3):  # every transition is saved; none may carry the giant copy
            store.save_items(sid, [item])
        (loaded,) = store.load_items(sid)
    assert _store_bytes(db) < 2 * MB, _store_bytes(db)
    assert loaded.title == cap_title(item.title)
    assert "more characters cut" in loaded.meta["description"]


def _tagged_flac(path: Path, title: str, artist: str) -> Path:
    with av.open(str(path), "w") as out:
        out.metadata["title"] = title
        out.metadata["artist"] = artist
        stream = out.add_stream("flac", rate=8000, layout="mono", format="s16")
        frame = av.AudioFrame(format="s16", layout="mono", samples=8000)
        frame.planes[0].update(bytes(16000))
        frame.sample_rate, frame.pts = 8000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


@pytest.mark.timeout(120)
def test_a_file_with_megabyte_tags_makes_small_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = _tagged_flac(tmp_path / "tagged.flac", "Title " * 400_000, "Artist " * 300_000)
    run = run_cli([str(media), "--headless", "--asr", "sphinx"], tmp_path, monkeypatch)
    assert run.code == 0, run.stderr[-2000:]
    assert_no_traceback(run)
    (item,) = run.items
    assert len(item["title"]) < TITLE_CHARS + 60 and item["title"].endswith("characters cut]")
    assert (run.out / "manifest.json").stat().st_size < 200_000
    assert (run.out / "items.csv").stat().st_size < 50_000
    fields, _ = run.note(item)
    assert len(fields["channel"]) < TEXT_CHARS + 60
    db = Path(os.environ["XDG_DATA_HOME"]) / "bulkscribe" / "sessions.db"
    assert db.exists() and _store_bytes(db) < 2 * MB, _store_bytes(db)
