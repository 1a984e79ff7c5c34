"""A finished chunk's word timings survive the session store, so a resumed item keeps them."""

from __future__ import annotations

from pathlib import Path

from engine.segments import Segment, Word
from sessions.codec import segments_from_json, segments_json
from sessions.store import Store


def test_word_timings_come_back_from_a_saved_chunk(tmp_path: Path) -> None:
    spoken = Segment(
        10.0, 11.2, "fail better", (Word(10.0, 10.5, "fail"), Word(10.6, 11.2, "better"))
    )
    bare = Segment(12.0, 13.0, "no words known")
    with Store.open(tmp_path / "sessions.db") as store:
        session = store.create_session(name="s", inputs=[], settings={}, output_dir=str(tmp_path))
        store.save_chunk(session, 1, 0, 0.0, 20.0, [spoken, bare], "en")
        ((start, end, segments, language),) = store.load_chunks(session, 1).values()
    assert (start, end, language) == (0.0, 20.0, "en")
    assert segments == [spoken, bare]


def test_chunks_saved_before_word_timings_were_kept_still_load() -> None:
    assert segments_from_json('[[0.0, 1.5, "hello world"]]') == [Segment(0.0, 1.5, "hello world")]
    assert segments_from_json(segments_json([])) == []
