"""Reading input is linear and bounded: special files, size caps, long lines, oversize cells."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.inputs import read_inputs
from engine.inputs.reading import MAX_CELL_CHARS, MAX_LINE_CHARS, MAX_LIST_BYTES

A = "https://example.org/a.mp3"
B = "https://example.org/b.mp3"


def _refused(args: list[str], cwd: Path) -> UsageError:
    """Read in a thread so a regression that blocks (a FIFO) fails the test instead of hanging."""
    caught: list[BaseException] = []

    def read() -> None:
        try:
            read_inputs(args, cwd=cwd)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            caught.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "reading the list blocked"
    assert caught and isinstance(caught[0], UsageError), caught
    return caught[0]


@pytest.mark.parametrize("name", ["queue.txt", "queue.csv", "queue.json", "queue.md", "q.xlsx"])
def test_fifo_as_a_list_is_refused_at_once(tmp_path: Path, name: str) -> None:
    os.mkfifo(tmp_path / name)
    error = _refused([name], tmp_path)
    assert "named pipe (FIFO)" in error.message and name in error.message


def test_fifo_without_extension_fails_as_an_entry_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "queue")
    os.mkfifo(tmp_path / "talk.mp3")
    result: list[object] = []
    thread = threading.Thread(
        target=lambda: result.append(read_inputs(["queue", "talk.mp3"], cwd=tmp_path)),
        daemon=True,
    )
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    batch = result[0]
    errors = [s.error or "" for s in batch.sources]  # type: ignore[attr-defined]
    assert len(errors) == 2
    assert errors[0] == "queue is not a regular file (a pipe, device or socket); copy it first"
    assert "talk.mp3 is not a regular file" in errors[1]


@pytest.mark.parametrize("name", ["zero.txt", "zero.list", "zero.csv", "zero.xlsx", "zero.json"])
def test_link_to_dev_zero_is_refused_without_reading_it(tmp_path: Path, name: str) -> None:
    (tmp_path / name).symlink_to("/dev/zero")
    error = _refused([name], tmp_path)
    assert "character device" in error.message
    assert name in error.message


def test_list_over_the_size_cap_names_the_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(MAX_LIST_BYTES + 1)  # sparse: costs no disk
    error = _refused(["big.txt"], tmp_path)
    assert "larger than 64 MB" in error.message
    assert "split it" in error.hint


def test_stdin_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    class Endless(io.TextIOBase):
        def read(self, size: int | None = -1) -> str:
            return "x" * (size if size is not None and size >= 0 else 10)

    with pytest.raises(UsageError, match="larger than 64 MB"):
        read_inputs(["-"], stdin=Endless(), cwd=tmp_path)


@pytest.mark.parametrize("suffix", [".txt", ".md", ""])
def test_one_overlong_line_fails_alone_and_the_rest_go_on(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"links{suffix}"
    long_line = "https://example.org/" + "a" * (MAX_LINE_CHARS + 10)
    path.write_text(f"{A}\n{long_line}\n{B}\n")
    batch = read_inputs([path.name], cwd=tmp_path)
    assert [s.kind for s in batch.sources] == ["url", "invalid", "url"]
    bad = batch.sources[1]
    assert bad.row == 2
    assert bad.error is not None and "over the 64 KB limit for one line" in bad.error
    assert len(bad.raw) < 100  # the whole line is never kept or shown


def test_a_ten_megabyte_line_is_refused_without_classifying_it(tmp_path: Path) -> None:
    (tmp_path / "huge.txt").write_text("a" * 10_000_000 + "\n" + A + "\n")
    batch = read_inputs(["huge.txt"], cwd=tmp_path)
    assert [s.kind for s in batch.sources] == ["invalid", "url"]
    assert len(batch.sources[0].raw) < 100  # neither kept whole nor shown whole
    assert "9765 KB long" in (batch.sources[0].error or "")


def test_oversize_csv_cell_fails_its_row_not_the_file(tmp_path: Path) -> None:
    notes = "n" * (MAX_CELL_CHARS + 1)
    (tmp_path / "talks.csv").write_text(f'url,title,notes\n{A},one,\n{B},two,"{notes}"\n')
    batch = read_inputs(["talks.csv"], cwd=tmp_path)
    assert [(s.row, s.kind) for s in batch.sources] == [(2, "url"), (3, "invalid")]
    error = batch.sources[1].error or ""
    assert error.startswith("talks.csv row 3: column 3 holds 128 KB")
    assert "over the 128 KB limit" in error
    assert len(batch.sources[1].raw) < 1000


def test_oversize_header_cell_refuses_the_table_with_its_row(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("url," + "t" * (MAX_CELL_CHARS + 5) + f"\n{A},x\n")
    with pytest.raises(UsageError, match="h.csv header row 1: column 2 holds"):
        read_inputs(["h.csv"], cwd=tmp_path)


def test_mixed_utf8_and_windows_1252_lines_are_decoded_one_by_one(tmp_path: Path) -> None:
    utf8 = "https://example.org/café.mp3".encode()
    cp1252 = "https://example.org/naïve–talk.mp3".encode("cp1252")
    (tmp_path / "mixed.txt").write_bytes(utf8 + b"\r\n" + cp1252 + b"\r\n")
    batch = read_inputs(["mixed.txt"], cwd=tmp_path)
    assert [s.raw for s in batch.sources] == [
        "https://example.org/café.mp3",
        "https://example.org/naïve–talk.mp3",
    ]


def test_mixed_encodings_in_a_csv_keep_every_title(tmp_path: Path) -> None:
    data = (
        b"url,title\n"
        + f"{A},Caf\u00e9 society\n".encode()
        + f"{B},R\u00e9sum\u00e9 \u2013 part two\n".encode("cp1252")
    )
    (tmp_path / "t.csv").write_bytes(data)
    titles = [s.title for s in read_inputs(["t.csv"], cwd=tmp_path).sources]
    assert titles == ["Café society", "Résumé – part two"]
    assert not any("\ufffd" in (t or "") for t in titles)


def test_json_entries_over_the_caps_fail_alone(tmp_path: Path) -> None:
    import json

    long_link = "https://example.org/" + "a" * MAX_LINE_CHARS
    big_notes = "n" * (MAX_CELL_CHARS + 1)
    items = [A, long_link, {"url": B, "notes": big_notes}, {"url": B, "title": "ok"}]
    (tmp_path / "l.json").write_text(json.dumps(items))
    batch = read_inputs(["l.json"], cwd=tmp_path)
    assert [(s.row, s.kind) for s in batch.sources] == [
        (1, "url"),
        (2, "invalid"),
        (3, "invalid"),
        (4, "url"),
    ]
    assert "over the 64 KB limit for one line" in (batch.sources[1].error or "")
    assert (batch.sources[2].error or "").startswith("l.json item 3: a field holds 128 KB")
