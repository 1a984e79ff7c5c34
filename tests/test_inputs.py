"""Inputs: classification of links and paths, text and JSON lists, stdin, folders, duplicates."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.inputs import InputBatch, Source, classify, read_inputs
from tests.mediagen import write_tone

VIDEO = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short real recording, copied wherever a test needs a media file."""
    return write_tone(tmp_path_factory.mktemp("media") / "tone.wav", seconds=0.2)


def copy_media(tone: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(tone.read_bytes())
    return dest


# --- classify -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "  https://youtu.be/dQw4w9WgXcQ?t=42  ",
        "http://youtube.com/watch?v=dQw4w9WgXcQ&list=PLabc&index=3",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://music.youtube.com/watch?v=dQw4w9WgXcQ&feature=share",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "https://www.youtube.com/embed/dQw4w9WgXcQ",
        "https://www.youtube.com/live/dQw4w9WgXcQ?si=x",
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        "youtube.com/watch?v=dQw4w9WgXcQ",
        "youtu.be/dQw4w9WgXcQ",
        "HTTPS://WWW.YOUTUBE.COM/watch?v=dQw4w9WgXcQ",
    ],
)
def test_youtube_forms_normalise_to_one_watch_url(text: str) -> None:
    assert classify(text) == ("youtube", VIDEO, None)


def test_playlist_links_are_kept_for_later_expansion() -> None:
    kind, location, error = classify("https://www.youtube.com/playlist?list=PLrAXtmErZgOe&si=1")
    assert (kind, location, error) == (
        "playlist",
        "https://www.youtube.com/playlist?list=PLrAXtmErZgOe",
        None,
    )
    assert classify("https://youtube.com/watch?list=PLrAXtmErZgOe")[0] == "playlist"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("https://youtu.be/short", "valid video id"),
        ("https://www.youtube.com/watch?v=dQw4w9WgXc!", "valid video id"),
        ("https://www.youtube.com/@somechannel", "not a video or a playlist"),
        ("https://www.youtube.com/results?search_query=cats", "not a video or a playlist"),
    ],
)
def test_youtube_links_that_are_not_videos_say_why(text: str, reason: str) -> None:
    kind, location, error = classify(text)
    assert kind == "invalid" and location == ""
    assert error is not None and reason in error


def test_web_urls_are_normalised_without_fragment_or_default_port() -> None:
    assert classify("HTTPS://Feeds.Example.ORG:443/ep%201.mp3?x=1#t=30") == (
        "url",
        "https://feeds.example.org/ep%201.mp3?x=1",
        None,
    )
    assert classify("http://127.0.0.1:8123/a.mp3")[1] == "http://127.0.0.1:8123/a.mp3"
    assert classify("https://example.org")[1] == "https://example.org/"
    assert classify("www.example.org/ep.mp3") == ("url", "https://www.example.org/ep.mp3", None)


@pytest.mark.parametrize("scheme", ["javascript", "data", "ftp", "mailto", "gopher"])
def test_other_schemes_are_refused_with_the_scheme_named(scheme: str) -> None:
    kind, location, error = classify(f"{scheme}:something/x")
    assert (kind, location) == ("invalid", "")
    assert error == f"unsupported URL scheme '{scheme}:' (use http or https, or a local path)"


def test_credentials_never_survive_in_location_or_message() -> None:
    kind, location, _ = classify("https://alice:s3cret@media.example.org/ep.mp3")
    assert (kind, location) == ("url", "https://media.example.org/ep.mp3")
    _, _, error = classify("ftp://alice:s3cret@media.example.org/ep.mp3")
    assert error is not None and "s3cret" not in error and "alice" not in error


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("https://exa mple.org/a.mp3", "space"),
        ("https://example.org/a\u200b.mp3", "invisible"),
        ("https://example.org/a\x00.mp3", "control character"),
        ("ep\t1.mp3", "control character"),
        ("http:///no-host.mp3", "no host"),
        ("http://example.org:99999/a.mp3", "malformed URL"),
        ("http://[::1/a.mp3", "malformed URL"),
    ],
)
def test_malformed_entries_are_invalid_with_a_reason(text: str, reason: str) -> None:
    kind, _, error = classify(text)
    assert kind == "invalid"
    assert error is not None and reason in error


def test_paths_resolve_against_bases_in_order(tmp_path: Path, tone: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    copy_media(tone, second / "talk.mp3")
    first.mkdir()
    assert classify("talk.mp3", bases=(first, second)) == ("file", str(second / "talk.mp3"), None)
    copy_media(tone, first / "talk.mp3")
    assert classify("talk.mp3", bases=(first, second))[1] == str(first / "talk.mp3")


def test_missing_and_non_media_paths_are_invalid(tmp_path: Path) -> None:
    kind, _, error = classify("gone.mp3", bases=(tmp_path,))
    assert kind == "invalid" and error == f"file not found: gone.mp3 (looked in {tmp_path})"
    (tmp_path / "notes.pdf").write_text("x")
    _, _, error = classify(str(tmp_path / "notes.pdf"))
    assert error is not None and "not an audio or video file" in error and "'.pdf'" in error
    (tmp_path / "old.xls").write_text("x")
    assert "save it as .xlsx or .csv" in (classify("old.xls", bases=(tmp_path,))[2] or "")
    assert "is a folder" in (classify(str(tmp_path))[2] or "")


def test_file_urls_and_quoted_paths_work_as_local_paths(tmp_path: Path, tone: Path) -> None:
    media = copy_media(tone, tmp_path / "my talk.mp3")
    assert classify(media.as_uri()) == ("file", str(media), None)
    assert classify(f'"{media}"') == ("file", str(media), None)
    assert classify("file://server/share/a.mp3")[0] == "invalid"


def test_hints_for_a_bare_video_id_and_a_formula() -> None:
    assert "https://youtu.be/dQw4w9WgXcQ" in (classify("dQw4w9WgXcQ")[2] or "")
    assert "spreadsheet formula" in (classify('=HYPERLINK("x")')[2] or "")


# --- arguments, text lists, stdin -----------------------------------------------------------


def test_arguments_mix_urls_files_and_invalid_entries(tmp_path: Path, tone: Path) -> None:
    copy_media(tone, tmp_path / "local.wav")
    (tmp_path / "readme.doc").write_text("x")
    batch = read_inputs(
        ["https://youtu.be/dQw4w9WgXcQ", "local.wav", "readme.doc", "javascript:alert(1)"],
        cwd=tmp_path,
    )
    assert [s.kind for s in batch.sources] == ["youtube", "file", "invalid", "invalid"]
    assert all(s.origin == "args" and s.row is None for s in batch.sources)
    assert batch.sources[1].location == str(tmp_path / "local.wav")
    assert "not an audio or video file: readme.doc" in (batch.sources[2].error or "")
    assert batch.counts() == {"youtube": 1, "playlist": 0, "url": 0, "file": 1, "invalid": 2}


def test_bare_web_addresses_as_arguments_are_links_not_list_files(tmp_path: Path) -> None:
    batch = read_inputs(["youtu.be/dQw4w9WgXcQ", "www.example.org/feed.json"], cwd=tmp_path)
    assert [(s.kind, s.location) for s in batch.sources] == [
        ("youtube", VIDEO),
        ("url", "https://www.example.org/feed.json"),
    ]


def test_text_list_skips_blanks_and_comments_and_keeps_line_numbers(
    tmp_path: Path, tone: Path
) -> None:
    copy_media(tone, tmp_path / "lists" / "near.mp3")
    copy_media(tone, tmp_path / "far.mp3")
    (tmp_path / "lists" / "links.txt").write_text(
        "# my queue\n"
        "\n"
        "  https://youtu.be/dQw4w9WgXcQ  \n"
        "https://example.org/page#section\n"
        "near.mp3\n"
        "far.mp3\n"
        "   # indented comment\n"
        "javascript:alert(1)\n"
        "gone.mp3\n",
        encoding="utf-8",
    )
    batch = read_inputs(["lists/links.txt"], cwd=tmp_path)
    rows = [(s.row, s.kind) for s in batch.sources]
    assert rows == [
        (3, "youtube"),
        (4, "url"),
        (5, "file"),
        (6, "file"),
        (8, "invalid"),
        (9, "invalid"),
    ]
    # A '#' inside a URL is a fragment, not a comment; the list's own folder is searched first.
    assert batch.sources[1].raw == "https://example.org/page#section"
    assert batch.sources[2].location == str(tmp_path / "lists" / "near.mp3")
    assert batch.sources[3].location == str(tmp_path / "far.mp3")
    assert batch.sources[0].origin == str(tmp_path / "lists" / "links.txt")
    assert batch.sources[4].error == (
        "lists/links.txt line 8: unsupported URL scheme 'javascript:' (use http or https, or a local path)"
    )
    assert (batch.sources[5].error or "").startswith(
        "lists/links.txt line 9: file not found: gone.mp3"
    )


def test_text_list_in_windows_encoding_with_crlf(tmp_path: Path) -> None:
    (tmp_path / "q.list").write_bytes(
        "https://example.org/caf\u00e9.mp3\r\n\r\nhttps://example.org/b.mp3\r\n".encode("cp1252")
    )
    batch = read_inputs(["q.list"], cwd=tmp_path)
    assert [(s.row, s.location) for s in batch.sources] == [
        (1, "https://example.org/caf\u00e9.mp3"),
        (3, "https://example.org/b.mp3"),
    ]


def test_stdin_reads_one_entry_per_line(tmp_path: Path, tone: Path) -> None:
    copy_media(tone, tmp_path / "a.m4a")
    stream = io.StringIO("https://example.org/x.mp3\n\n# skip\na.m4a\nnope://x\n")
    batch = read_inputs(["-"], stdin=stream, cwd=tmp_path)
    assert [(s.origin, s.row, s.kind) for s in batch.sources] == [
        ("stdin", 1, "url"),
        ("stdin", 4, "file"),
        ("stdin", 5, "invalid"),
    ]
    assert (batch.sources[2].error or "").startswith("stdin line 5: unsupported URL scheme 'nope:'")


def test_credentials_are_removed_from_raw_and_location(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text("https://bob:hunter2@private.example.org/feed/ep1.mp3\n")
    (source,) = read_inputs(["l.txt"], cwd=tmp_path).sources
    assert source.raw == "https://private.example.org/feed/ep1.mp3"
    assert source.location == "https://private.example.org/feed/ep1.mp3"
    assert "hunter2" not in repr(source)


# --- JSON -----------------------------------------------------------------------------------


def test_json_list_of_strings(tmp_path: Path) -> None:
    (tmp_path / "q.json").write_text(json.dumps(["https://youtu.be/dQw4w9WgXcQ", " ", "ftp://x/y"]))
    batch = read_inputs(["q.json"], cwd=tmp_path)
    assert [(s.row, s.kind) for s in batch.sources] == [(1, "youtube"), (3, "invalid")]
    assert (batch.sources[1].error or "").startswith("q.json item 3: unsupported URL scheme 'ftp:'")


def test_json_list_of_objects_with_titles_and_extras(tmp_path: Path, tone: Path) -> None:
    copy_media(tone, tmp_path / "talk.wav")
    items = [
        {"url": "https://example.org/1.mp3", "title": "One", "speaker": "Ada", "minutes": 12},
        {"link": "https://example.org/2.mp3", "Name": "Two", "tags": ["a", "b"]},
        {"path": "talk.wav", "description": "local", "published": None},
        {"title": "No link here"},
        {},
        42,
    ]
    (tmp_path / "q.json").write_text(json.dumps(items))
    batch = read_inputs(["q.json"], cwd=tmp_path)
    first, second, third, no_link, number = batch.sources
    assert (first.title, dict(first.extras)) == ("One", {"speaker": "Ada", "minutes": "12"})
    assert (second.location, second.title, second.extras["tags"]) == (
        "https://example.org/2.mp3",
        "Two",
        '["a", "b"]',
    )
    assert (third.kind, third.extras["description"], third.extras["published"]) == (
        "file",
        "local",
        "",
    )
    assert (no_link.kind, no_link.row, no_link.error) == (
        "invalid",
        4,
        "q.json item 4: no URL or path",
    )
    assert no_link.title == "No link here"
    assert number.row == 6 and "expected a link (text) or an object" in (number.error or "")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('["a", ', "is not valid JSON"),
        ('{"url": "https://example.org/a.mp3"}', "must hold a JSON list"),
        ("", "is not valid JSON"),
    ],
)
def test_unreadable_json_aborts_with_the_path_and_reason(
    tmp_path: Path, content: str, reason: str
) -> None:
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(UsageError) as caught:
        read_inputs(["bad.json"], cwd=tmp_path)
    assert "bad.json" in caught.value.message and reason in caught.value.message


# --- folders --------------------------------------------------------------------------------


def test_folder_scan_is_recursive_sorted_and_skips_hidden_and_non_media(
    tmp_path: Path, tone: Path
) -> None:
    root = tmp_path / "media"
    for sub in ("a/deeper", "b"):
        (root / sub).mkdir(parents=True)
    write_tone(root / "b" / "Second.mp3", seconds=0.2)
    write_tone(root / "a" / "z-first.flac", seconds=0.2)
    write_tone(root / "a" / "deeper" / "inner.mp4", seconds=0.2, video=True)
    copy_media(tone, root / "Top.WAV")
    copy_media(tone, root / "top2.ogg")
    copy_media(tone, root / ".hidden.mp3")
    copy_media(tone, root / ".cache" / "secret.mp3")
    (root / "notes.txt").write_text("https://example.org/not-read.mp3")
    (root / "cover.jpg").write_bytes(b"\xff\xd8")
    batch = read_inputs(["media"], cwd=tmp_path)
    found = [Path(s.location).relative_to(root).as_posix() for s in batch.sources]
    assert found == ["a/deeper/inner.mp4", "a/z-first.flac", "b/Second.mp3", "Top.WAV", "top2.ogg"]
    assert {s.kind for s in batch.sources} == {"file"}


def test_an_empty_folder_is_reported_not_silently_ignored(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.md").write_text("x")
    (source,) = read_inputs(["empty"], cwd=tmp_path).sources
    assert source.kind == "invalid"
    assert (source.error or "").startswith("no audio or video files found in folder empty")


def test_folder_symlink_loops_do_not_hang(tmp_path: Path, tone: Path) -> None:
    copy_media(tone, tmp_path / "m" / "a.wav")
    os.symlink(tmp_path / "m", tmp_path / "m" / "loop")
    batch = read_inputs(["m"], cwd=tmp_path)
    assert [Path(s.location).name for s in batch.sources] == ["a.wav"]


# --- duplicates and aborting errors ---------------------------------------------------------


def test_duplicates_across_files_keep_the_first_and_are_reported(
    tmp_path: Path, tone: Path
) -> None:
    copy_media(tone, tmp_path / "talk.wav")
    (tmp_path / "one.txt").write_text("https://youtu.be/dQw4w9WgXcQ\ntalk.wav\nftp://x\n")
    (tmp_path / "two.json").write_text(
        json.dumps(
            [VIDEO + "&t=5", str(tmp_path / "talk.wav"), "ftp://x", "https://example.org/new"]
        )
    )
    batch = read_inputs(["one.txt", "two.json", "-"], cwd=tmp_path, stdin=io.StringIO("talk.wav\n"))
    assert isinstance(batch, InputBatch)
    assert [(s.kind, s.origin.rsplit("/", 1)[-1]) for s in batch.sources] == [
        ("youtube", "one.txt"),
        ("file", "one.txt"),
        ("invalid", "one.txt"),
        ("invalid", "two.json"),  # invalid entries are never merged: each needs its own fix
        ("url", "two.json"),
    ]
    assert [(d.origin.rsplit("/", 1)[-1], d.row, d.duplicate_of) for d in batch.duplicates] == [
        ("two.json", 1, 0),
        ("two.json", 2, 1),
        ("stdin", 1, 1),
    ]
    assert all(s.duplicate_of is None for s in batch.sources)


@pytest.mark.parametrize("name", ["missing.txt", "missing.csv", "missing.xlsx", "missing.json"])
def test_missing_list_files_abort_with_the_path(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError) as caught:
        read_inputs(["https://example.org/a.mp3", name], cwd=tmp_path)
    assert caught.value.message == f"list file not found: {name}"


def test_an_unreadable_list_file_aborts_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a folder")
    with pytest.raises(UsageError) as caught:
        read_inputs(["plain/links.txt"], cwd=tmp_path)
    assert caught.value.message == "cannot read list file plain/links.txt: Not a directory"


def test_source_is_frozen_and_hashable() -> None:
    source = Source("x", "url", "https://x/", "args", None, extras={"a": "1"})
    with pytest.raises(AttributeError):
        source.kind = "file"  # type: ignore[misc]
    with pytest.raises(TypeError):
        source.extras["a"] = "2"  # type: ignore[index]
    assert hash(source) == hash(Source("x", "url", "https://x/", "args", None, extras={"a": "1"}))
