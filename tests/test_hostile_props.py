"""Properties across the whole path: random titles, list lines and CSV cells never break a batch."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.batch import Batch
from engine.inputs import read_inputs
from engine.items import State
from engine.providers.openai import OpenAITranscriber
from engine.settings import Settings
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer

PROPS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

text = st.characters(exclude_categories=["Cs"])
# What people paste into a title cell, weighted towards what breaks paths, YAML and spreadsheets.
nasty_title = st.lists(
    st.one_of(
        text,
        st.sampled_from(
            list("/\\:*?\"<>|.\x00\x07\x1b\n\r\t \u202e\u200b\u200d\ufeff\u2028#-=+@'")
        ),
        st.sampled_from(["..", "../", "CON", "nul.txt", "COM1", "manifest", "🎙️", "播客"]),
    ),
    max_size=20,
).map("".join)
entry_line = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=40),
    st.sampled_from(
        [
            "tone.wav",
            "./tone.wav",
            "missing.mp3",
            "javascript:alert(1)",
            "data:,x",
            "mailto:a@b",
            "ftp://u:p@h/x.mp3",
            "file:///nonexistent.wav",
            "list.txt",
            "# note",
            "=1+1",
            "  ",
            ".",
        ]
    ),
)


@pytest.fixture(scope="module")
def api() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def client(api: OpenAIServer) -> Iterator[OpenAITranscriber]:
    """One client for every example: building its TLS context costs a tenth of a second."""
    transcriber = OpenAITranscriber(api.base_url, ("sk-test",))
    yield transcriber
    transcriber.close()


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tone(tmp_path_factory.mktemp("tone") / "tone.wav", 1.0, 440)


def offline_batch(out: Path, client: OpenAITranscriber) -> Batch:
    """A batch that is never started: inputs become items and reports, and nothing is fetched."""
    return Batch(Settings(asr="openai", api_keys=("sk-test",)), out, transcriber=client)


def read_report(out: Path) -> tuple[list[dict[str, str]], list[dict[str, object]]]:
    # Bytes, not read_text: universal newlines would turn a CR inside a cell into LF.
    text = (out / "items.csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return rows, json.loads((out / "manifest.json").read_text(encoding="utf-8"))["items"]


def assert_defused(rows: list[dict[str, str]], items: list[dict[str, object]]) -> None:
    """items.csv shows every value as the manifest holds it, formulas behind an apostrophe."""
    assert len(rows) == len(items)
    for row, item in zip(rows, items, strict=True):
        for column in ("source", "title", "error"):
            value = str(item[column] or "")
            expected = f"'{value}" if value.startswith(FORMULA_START) else value
            assert row[column] == expected


@settings(PROPS, max_examples=15)
@given(titles=st.lists(nasty_title, min_size=1, max_size=4))
def test_random_titles_become_notes_inside_the_folder_with_the_same_title(
    api: OpenAIServer, client: OpenAITranscriber, tone: Path, titles: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = [["url", "title"]]
        for n, title in enumerate(titles):
            shutil.copyfile(tone, root / f"clip-{n}.wav")
            rows.append([f"clip-{n}.wav", title])
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        (root / "titles.csv").write_text(buffer.getvalue(), encoding="utf-8", newline="")
        out = root / "out"
        parallel = Settings(asr="openai", api_base=api.base_url, parallel=True, workers=4)
        batch = Batch(parallel, out, transcriber=client, temp_root=root)
        try:
            batch.add_sources(read_inputs(["titles.csv"], cwd=root).sources)
            batch.engine.start()
            assert batch.engine.wait_finished(30)
            batch.write_reports()
        finally:
            batch.engine.stop()  # the shared client stays open for the next example
        items = batch.board.items()
        assert [item.state for item in items] == [State.DONE] * len(titles)
        notes = [Path(item.outputs["md"]) for item in items]
        assert len({n.name.casefold() for n in notes}) == len(notes)
        for n, (item, note, title) in enumerate(zip(items, notes, titles, strict=True)):
            assert note.resolve().parent == out.resolve()
            assert item.title == (title.strip() or f"clip-{n}")
            head, separator, _ = note.read_bytes().decode()[4:].partition("\n---\n")
            assert separator and yaml.safe_load(head)["title"] == item.title
        assert sorted(p.name for p in root.iterdir()) == sorted(
            ["out", "titles.csv", *(f"clip-{n}.wav" for n in range(len(titles)))]
        )
        assert_defused(*read_report(out))


@PROPS
@given(lines=st.lists(entry_line, max_size=20), encoding=st.sampled_from(["utf-8", "utf-16"]))
def test_random_list_lines_each_become_one_item_or_one_duplicate(
    client: OpenAITranscriber, tone: Path, lines: list[str], encoding: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copyfile(tone, root / "tone.wav")
        (root / "list.txt").write_bytes(("# queue\n" + "\n".join(lines)).encode(encoding))
        found = read_inputs(["list.txt"], cwd=root)
        wanted = [n for n, line in enumerate(lines, 2) if line.strip() and line.strip()[0] != "#"]
        rows = sorted(s.row or 0 for s in (*found.sources, *found.duplicates))
        assert rows == wanted
        batch = offline_batch(root / "out", client)
        items = batch.add_sources(found.sources)
        batch.write_reports()
        assert [item.row for item in items] == [s.row for s in found.sources]
        for item in items:
            if item.kind == "invalid":
                assert item.state is State.FAILED
                assert (item.error or "").startswith(f"list.txt line {item.row}: ")
            else:
                assert item.state is State.QUEUED and item.error is None
        assert_defused(*read_report(root / "out"))


@PROPS
@given(
    header=st.lists(st.text(text, max_size=12), max_size=4),
    cells=st.lists(st.lists(st.text(text, max_size=25), max_size=5), max_size=12),
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
)
def test_random_csv_cells_never_crash_and_every_row_is_accounted_for(
    client: OpenAITranscriber,
    header: list[str],
    cells: list[list[str]],
    delimiter: str,
    encoding: str,
) -> None:
    from engine.errors import UsageError

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter)
        writer.writerow(["url", "title", *header])
        writer.writerows(cells)
        (root / "table.csv").write_bytes(buffer.getvalue().encode(encoding))
        try:
            found = read_inputs(["table.csv"], cwd=root)
        except UsageError as exc:
            # Only the file as a whole may be refused, and then with the file named.
            assert "table.csv" in exc.user_text
            return
        batch = offline_batch(root / "out", client)
        items = batch.add_sources(found.sources)
        batch.write_reports()
        wanted = [n for n, row in enumerate(cells, 2) if any(c.strip() for c in row)]
        everything = sorted((*found.sources, *found.duplicates), key=lambda s: s.row or 0)
        assert [s.row for s in everything] == wanted
        for source in everything:
            row = cells[(source.row or 0) - 2]
            assert source.title == ((row[1] if len(row) > 1 else "").strip() or None)
        for item in items:
            assert item.row is not None and 2 <= item.row <= len(cells) + 1
            if item.kind == "invalid":
                assert (item.error or "").startswith(f"table.csv row {item.row}: ")
        assert_defused(*read_report(root / "out"))
