"""Transcript files, atomic writes and batch reports, checked the way a reader of the files would."""

from __future__ import annotations

import csv
import errno
import json
import os
from pathlib import Path

import pytest
import yaml

from engine.errors import OutputError
from engine.outputs import (
    Chapter,
    TranscriptDoc,
    atomic_write,
    render,
    write_items_csv,
    write_manifest,
    write_outputs,
)
from engine.segments import Segment

SEGMENTS = (
    Segment(0.0, 1.5, "Hello and welcome."),
    Segment(59.999, 61.25, "One minute in."),
    Segment(3600.0, 3723.456, "An hour later."),
)


def doc(**changes: object) -> TranscriptDoc:
    fields: dict[str, object] = {
        "source": "https://example.test/watch?v=1",
        "url": "https://example.test/watch?v=1",
        "title": "A Talk",
        "segments": SEGMENTS,
        "processed_at": "2025-01-02T03:04:05+00:00",
    }
    fields.update(changes)
    return TranscriptDoc(**fields)  # type: ignore[arg-type]


def split_note(text: str) -> tuple[dict[str, object], str]:
    assert text.startswith("---\n")
    head, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(head), body


def sentences(n: int, start: float = 0.0, step: float = 2.0) -> tuple[Segment, ...]:
    return tuple(Segment(start + i * step, start + i * step + 1.5, f"Line {i}.") for i in range(n))


# -- subtitles --------------------------------------------------------------------------------


def test_srt_exact_shape() -> None:
    assert render(doc(), "srt") == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello and welcome.\n\n"
        "2\n00:00:59,999 --> 00:01:01,250\nOne minute in.\n\n"
        "3\n01:00:00,000 --> 01:02:03,456\nAn hour later.\n\n"
    )


def test_vtt_exact_shape() -> None:
    assert render(doc(), "vtt") == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:01.500\nHello and welcome.\n\n"
        "00:00:59.999 --> 00:01:01.250\nOne minute in.\n\n"
        "01:00:00.000 --> 01:02:03.456\nAn hour later.\n\n"
    )


def test_cues_fix_zero_length_and_inverted_segments() -> None:
    segments = (
        Segment(5.0, 5.0, "instant"),
        Segment(9.0, 8.0, "inverted"),
        Segment(9.2, 10.0, "next"),
        Segment(-1.0, 0.0, "before zero"),
    )
    out = render(doc(segments=segments), "srt")
    assert "00:00:05,000 --> 00:00:05,500\ninstant" in out
    # Lengthened only up to the next cue's start, so cues never overlap.
    assert "00:00:09,000 --> 00:00:09,200\ninverted" in out
    assert "00:00:00,000 --> 00:00:00,500\nbefore zero" in out


def test_cue_text_cannot_break_the_file() -> None:
    segments = (
        Segment(0, 1, "first line\n\n\nsecond line"),
        Segment(1, 2, "a --> b ---> c"),
        Segment(2, 3, "   \n "),
        Segment(3, 4, "<b>bold</b> & co"),
    )
    srt = render(doc(segments=segments), "srt")
    blocks = srt.strip("\n").split("\n\n")
    assert blocks == [
        "1\n00:00:00,000 --> 00:00:01,000\nfirst line\nsecond line",
        "2\n00:00:01,000 --> 00:00:02,000\na -> b -> c",
        "3\n00:00:03,000 --> 00:00:04,000\n<b>bold</b> & co",
    ]
    vtt = render(doc(segments=segments), "vtt")
    assert vtt.count("-->") == 3
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in vtt
    assert "first line\nsecond line\n\n" in vtt


# -- paragraphs, chapters, timestamps ---------------------------------------------------------


def test_txt_groups_sentences_into_paragraphs() -> None:
    text = render(doc(segments=sentences(12)), "txt")
    assert text == (
        "Line 0. Line 1. Line 2. Line 3. Line 4.\n\n"
        "Line 5. Line 6. Line 7. Line 8. Line 9.\n\n"
        "Line 10. Line 11.\n"
    )


def test_paragraph_breaks_on_a_long_pause() -> None:
    segments = (Segment(0, 1, "Before the pause."), Segment(4.5, 5, "After it."))
    assert render(doc(segments=segments), "txt") == "Before the pause.\n\nAfter it.\n"
    close = (Segment(0, 1, "No pause."), Segment(2.5, 3, "Still together."))
    assert render(doc(segments=close), "txt") == "No pause. Still together.\n"


def test_unpunctuated_speech_still_gets_paragraphs() -> None:
    words = tuple(Segment(i, i + 1, "word " * 10) for i in range(60))  # 3,000 characters
    paragraphs = render(doc(segments=words), "txt").strip().split("\n\n")
    assert len(paragraphs) >= 3
    assert all(len(p) <= 1000 for p in paragraphs)
    assert " ".join(paragraphs).split() == ["word"] * 600


def test_txt_timestamps_under_and_over_an_hour() -> None:
    short = doc(segments=(Segment(0, 1, "Start."), Segment(75, 76, "Later.")), duration=80.0)
    assert render(short, "txt", timestamps=True) == "[00:00] Start.\n\n[01:15] Later.\n"
    long = doc()
    assert render(long, "txt", timestamps=True) == (
        "[00:00:00] Hello and welcome.\n\n[00:00:59] One minute in.\n\n[01:00:00] An hour later.\n"
    )


def test_markdown_note_exact_shape() -> None:
    note = doc(
        title="A Talk",
        channel="Chan",
        upload_date="2024-03-09",
        duration=3723.456,
        method="captions",
        engine="youtube",
        language="en",
        tags=("science", "space"),
        description="Short description.",
        extras={"Speaker": "Ann"},
    )
    assert render(note, "md") == (
        "---\n"
        "title: A Talk\n"
        "source: https://example.test/watch?v=1\n"
        "url: https://example.test/watch?v=1\n"
        "channel: Chan\n"
        "upload_date: 2024-03-09\n"
        "duration: 3723\n"
        "duration_hms: '1:02:03'\n"
        "method: captions\n"
        "engine: youtube\n"
        "language: en\n"
        "processed_at: '2025-01-02T03:04:05+00:00'\n"
        "tags:\n- science\n- space\n"
        "description: Short description.\n"
        "Speaker: Ann\n"
        "---\n\n"
        "# A Talk\n\n"
        "Hello and welcome.\n\n"
        "One minute in.\n\n"
        "An hour later.\n"
    )


def test_markdown_omits_missing_values_and_long_descriptions() -> None:
    fields, _ = split_note(render(doc(description="x" * 600), "md"))
    assert set(fields) == {"title", "source", "url", "method", "processed_at", "tags"}
    assert fields["tags"] == []


def test_markdown_chapters_and_timestamps() -> None:
    chapters = (Chapter(0, 10, "Intro"), Chapter(10, 20, "Empty"), Chapter(20, None, "Main #"))
    segments = (
        Segment(0, 1, "Hi."),
        Segment(1.5, 2, "Welcome."),
        Segment(21, 22, "The point."),
        Segment(23, 24, "Another."),
    )
    _, body = split_note(render(doc(segments=segments, chapters=chapters), "md", timestamps=True))
    assert body == (
        "\n# A Talk\n\n## Intro\n\n[00:00] Hi. Welcome.\n\n## Main \\#\n\n[00:21] The point. Another.\n"
    )


def test_transcript_text_never_becomes_markup() -> None:
    texts = ["# not a heading", "> not a quote", "- not a list", "---", "1. not ordered", "<div>x"]
    segments = tuple(Segment(i * 5, i * 5 + 1, t) for i, t in enumerate(texts))
    _, body = split_note(render(doc(segments=segments, title="T"), "md"))
    assert body.split("\n\n")[1:] == [
        "\\# not a heading",
        "\\> not a quote",
        "\\- not a list",
        "\\---",
        "1\\. not ordered",
        "\\<div>x\n",
    ]
    # Ordinary punctuation in the middle of speech is left as spoken.
    plain = render(doc(segments=(Segment(0, 1, "It costs $5 - really? *Yes* #1."),)), "md")
    assert plain.endswith("\nIt costs $5 - really? *Yes* #1.\n")


HOSTILE_TITLES = [
    'He said "hi"',
    "it's",
    "Part 1: the colon",
    "- looks like a list",
    "# hash",
    "&anchor",
    "*alias",
    "!tag",
    "!!python/object:os.system",
    "null",
    "~",
    "yes",
    "No",
    "on",
    "123",
    "1e3",
    "0x1F",
    "1:02:03",
    "2024-01-02",
    "line one\nline two",
    "trailing newline\n",
    " leading and trailing ",
    "---",
    "...",
    "{ flow: map }",
    "[a, b]",
    "%TAG",
    "@at",
    "`tick`",
    "| pipe",
    "> fold",
    "ÆØÅ çà ñ",
    "مرحبا بالعالم",
    "abc\u202edcba",
    "🎙️ Podcast 🎧",
    "tab\there",
    "\x00nul\x07bell",
    "",
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_frontmatter_round_trips_hostile_titles(title: str) -> None:
    note = render(doc(title=title, tags=(title, "ok"), extras={"Col": title}), "md")
    fields, body = split_note(note)
    assert fields["title"] == title
    assert fields["tags"] == [title, "ok"]
    assert fields["Col"] == title
    assert body.startswith("\n# ")
    assert "\n# " in body and body.count("\n---\n") == 0


def test_title_heading_keeps_hash_characters() -> None:
    _, body = split_note(render(doc(title="Episode #", segments=()), "md"))
    assert body == "\n# Episode \\#\n"
    _, body = split_note(render(doc(title="##", segments=()), "md"))
    assert body == "\n# \\##\n"


def test_extras_never_override_fixed_keys() -> None:
    extras = {"title": "sheet title", "Duration": "long", "extra_title": "taken", "Notes": "ok"}
    fields, _ = split_note(render(doc(duration=61.0, extras=extras), "md"))
    assert fields["title"] == "A Talk"
    assert fields["duration"] == 61
    assert fields["extra_Duration"] == "long"
    assert fields["extra_title"] == "taken"
    assert fields["extra_extra_title"] == "sheet title"
    assert fields["Notes"] == "ok"


def test_json_shape() -> None:
    data = json.loads(render(doc(title="Ünïcode", language="de", duration=3723.4567), "json"))
    assert list(data) == [
        "title", "source", "url", "language", "duration", "method", "engine", "segments"
    ]  # fmt: skip
    assert data["title"] == "Ünïcode"
    assert data["duration"] == 3723.457
    assert data["segments"][1] == {"start": 59.999, "end": 61.25, "text": "One minute in."}
    assert "Ünïcode" in render(doc(title="Ünïcode"), "json")  # not \u-escaped


def test_unknown_format_is_an_output_error() -> None:
    with pytest.raises(OutputError, match="unknown output format"):
        render(doc(), "docx")


# -- writing files ----------------------------------------------------------------------------


def test_write_outputs_writes_each_format(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "out"
    paths = write_outputs(doc(), folder, "A Talk", ["md", "srt", "json", "md"], timestamps=True)
    assert list(paths) == ["md", "srt", "json"]
    assert sorted(p.name for p in folder.iterdir()) == ["A Talk.json", "A Talk.md", "A Talk.srt"]
    assert paths["srt"].read_text(encoding="utf-8") == render(doc(), "srt")
    assert "[00:00:59] One minute in." in paths["md"].read_text(encoding="utf-8")


@pytest.mark.parametrize("stem", ["../escape", "a/b", "..", ""])
def test_write_outputs_refuses_unsafe_stems(tmp_path: Path, stem: str) -> None:
    folder = tmp_path / "out"
    with pytest.raises(OutputError):
        write_outputs(doc(), folder, stem, ["md"])
    assert not (tmp_path / "escape.md").exists()
    assert not folder.exists() or list(folder.iterdir()) == []


def test_write_outputs_refuses_a_symlink_out_of_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    os.symlink(victim, folder / "A Talk.txt")
    with pytest.raises(OutputError, match="outside the output folder"):
        write_outputs(doc(), folder, "A Talk", ["md", "txt"])
    assert victim.read_text() == "keep me"
    assert not (folder / "A Talk.md").exists()


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "note.md"
    atomic_write(target, "old")
    atomic_write(target, "new ü")
    atomic_write(tmp_path / "raw.bin", b"\x00\x01")
    assert target.read_text(encoding="utf-8") == "new ü"
    assert (tmp_path / "raw.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["note.md", "raw.bin"]


def test_atomic_write_into_an_unusable_folder_raises(tmp_path: Path) -> None:
    # A regular file where the folder should be fails for root too (chmod would not).
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    with pytest.raises(OutputError, match=r"could not write note\.md: Not a directory"):
        atomic_write(blocker / "note.md", "text")
    with pytest.raises(OutputError, match="output folder is a file"):
        write_outputs(doc(), blocker, "x", ["md"])
    assert blocker.read_text() == "a file"


def test_atomic_write_disk_full_keeps_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "note.md"
    target.write_text("previous version")
    real_write = os.write
    calls = {"n": 0}

    def full_after_first_chunk(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, bytes(data[:3]))  # a short write, then the disk fills up

    monkeypatch.setattr(os, "write", full_after_first_chunk)
    with pytest.raises(OutputError, match=r"disk full while writing note\.md"):
        atomic_write(target, "a much longer new version")
    assert target.read_text() == "previous version"
    assert [p.name for p in tmp_path.iterdir()] == ["note.md"]


def test_atomic_write_permission_denied_names_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(OutputError, match=f"output folder not writable: {tmp_path}"):
        atomic_write(tmp_path / "note.md", "text")


def test_atomic_write_failed_rename_removes_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(src: object, dst: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OutputError, match="could not write note.md: Input/output error"):
        atomic_write(tmp_path / "note.md", "text")
    assert list(tmp_path.iterdir()) == []


# -- manifest and items.csv -------------------------------------------------------------------


def items(folder: Path) -> list[dict[str, object]]:
    return [
        {
            "source": "https://example.test/a",
            "origin": "/lists/talks.csv",
            "row": 2,
            "kind": "url",
            "title": "First",
            "status": "done",
            "method": "asr",
            "engine": "sphinx",
            "attempts": 1,
            "error": None,
            "duration": 12.5,
            "outputs": {"md": str(folder / "First.md"), "srt": str(folder / "First.srt")},
        },
        {
            "source": '=HYPERLINK("http://evil")',
            "row": 3,
            "kind": "url",
            "title": "+cmd|' /C calc'!A0",
            "status": "failed",
            "method": None,
            "engine": None,
            "attempts": 3,
            "error": "-bad @thing",
            "duration": float("nan"),
            "outputs": {},
        },
        {
            "source": "/media/c.mp3",
            "row": None,
            "kind": "file",
            "title": "\tTab start",
            "status": "done",
            "method": "asr",
            "engine": "openai",
            "attempts": 2,
            "error": "",
            "duration": 3.0,
            "outputs": {"md": str(folder / "sub" / "C.md"), "json": "/elsewhere/C.json"},
        },
    ]


def test_manifest_content(tmp_path: Path) -> None:
    path = write_manifest(
        tmp_path, {"started_at": "2025-01-01T00:00:00", "dir": tmp_path}, items(tmp_path)
    )
    assert path == tmp_path / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["session"] == {"started_at": "2025-01-01T00:00:00", "dir": str(tmp_path)}
    assert data["counts"] == {"done": 2, "failed": 1}
    assert data["items"][0]["outputs"] == {"md": "First.md", "srt": "First.srt"}
    assert data["items"][1]["duration"] is None  # NaN would make the file invalid JSON
    assert data["items"][2]["outputs"] == {"md": "sub/C.md", "json": "/elsewhere/C.json"}
    assert data["items"][1]["source"] == '=HYPERLINK("http://evil")'  # JSON keeps values as-is


def test_items_csv_content_and_injection_quoting(tmp_path: Path) -> None:
    path = write_items_csv(tmp_path, items(tmp_path))
    assert path == tmp_path / "items.csv"
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        "source", "origin", "row", "kind", "title", "status", "method", "engine", "attempts",
        "error", "duration", "outcome", "md", "srt", "json",
    ]  # fmt: skip
    assert rows[1] == [
        "https://example.test/a", "/lists/talks.csv", "2", "url", "First", "done", "asr",
        "sphinx", "1", "", "12.5", "", "First.md", "First.srt", "",
    ]  # fmt: skip
    assert rows[2][0] == '\'=HYPERLINK("http://evil")'
    assert rows[2][4] == "'+cmd|' /C calc'!A0"
    assert rows[2][9] == "'-bad @thing"
    assert rows[2][10] == ""
    assert rows[3][4] == "'\tTab start"
    assert rows[3][12:] == ["sub/C.md", "", "/elsewhere/C.json"]


def test_reports_are_written_atomically(tmp_path: Path) -> None:
    write_manifest(tmp_path, {}, items(tmp_path))
    write_items_csv(tmp_path, items(tmp_path))
    write_items_csv(tmp_path, [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.csv", "manifest.json"]
    assert (tmp_path / "items.csv").read_text(encoding="utf-8-sig").startswith("source,origin,row,")
