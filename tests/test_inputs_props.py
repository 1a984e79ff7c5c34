"""Properties: any text list or CSV parses without crashing and accounts for every entry."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.inputs import classify, read_inputs
from engine.inputs.source import KINDS

# No example database: the suite stays deterministic and writes nothing into the tree.
FAST = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# Line breaks end a line by definition, so a single line never contains them.
line_text = st.text(st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]))
cell_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
entry_like = st.one_of(
    line_text,
    st.sampled_from(
        [
            "https://youtu.be/dQw4w9WgXcQ",
            "https://example.org/a.mp3",
            "# comment",
            "javascript:alert(1)",
            "ftp://u:p@h/x",
            ".",
            "~",
            "list.txt",
            "   ",
        ]
    ),
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("props")


def is_entry(line: str) -> bool:
    return bool(line.strip()) and not line.strip().startswith("#")


@FAST
@given(lines=st.lists(entry_like, max_size=25))
def test_every_text_line_becomes_one_source_or_one_duplicate(
    workdir: Path, lines: list[str]
) -> None:
    (workdir / "list.txt").write_text("# queue\n" + "\n".join(lines), encoding="utf-8")
    batch = read_inputs(["list.txt"], cwd=workdir)
    expected_rows = [n for n, line in enumerate(lines, 2) if is_entry(line)]
    seen = sorted(s.row for s in (*batch.sources, *batch.duplicates) if s.row is not None)
    assert seen == expected_rows
    for source in batch.sources:
        assert source.kind in KINDS
        if source.kind == "invalid":
            assert (source.error or "").startswith(f"list.txt line {source.row}: ")
    for duplicate in batch.duplicates:
        first = batch.sources[duplicate.duplicate_of or 0]
        assert (first.kind, first.location) == (duplicate.kind, duplicate.location)


@FAST
@given(rows=st.lists(st.tuples(cell_text, cell_text, cell_text), max_size=20))
# Found by this test: "WWW.0" and "YOUTU.BE" passed for bare web addresses, and "HTTP://" (no host)
# for a link, so an empty url column lost to the column holding them.
@example(rows=[("", "WWW.0", "")])
@example(rows=[("", "YOUTU.BE", "")])
@example(rows=[("", "", "www.txt")])
# And a web address with no host: "HTTP://" in the title or notes column.
@example(rows=[("", "HTTP://", "")])
@example(rows=[("", "", "HTTP://")])
@example(rows=[("", "file://", "")])
def test_every_csv_row_with_data_becomes_one_source_or_one_duplicate(
    workdir: Path, rows: list[tuple[str, str, str]]
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["url", "title", "notes"])
    writer.writerows(rows)
    (workdir / "table.csv").write_bytes(buffer.getvalue().encode("utf-8"))
    batch = read_inputs(["table.csv"], cwd=workdir)
    expected_rows = [n for n, cells in enumerate(rows, 2) if any(c.strip() for c in cells)]
    everything = sorted((*batch.sources, *batch.duplicates), key=lambda s: s.row or 0)
    assert [s.row for s in everything] == expected_rows
    for source, cells in zip(everything, (rows[r - 2] for r in expected_rows), strict=True):
        assert source.title == (cells[1].strip() or None)
        assert source.extras["notes"] == cells[2]


@settings(max_examples=400, deadline=None, database=None)
@given(text=st.one_of(st.text(), st.builds(lambda s: "https://" + s, st.text()), entry_like))
def test_classify_never_raises_and_is_consistent(text: str) -> None:
    kind, location, error = classify(text)
    assert kind in KINDS
    if kind == "invalid":
        assert location == "" and error
    else:
        assert location and error is None


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){1,2}", fullmatch=True)
url_paths = st.from_regex(r"(/[A-Za-z0-9._~%-]{0,8}){0,3}(\?[A-Za-z0-9=&]{0,10})?", fullmatch=True)
secrets = st.from_regex(r"[A-Za-z0-9]{3,10}", fullmatch=True)


@settings(max_examples=200, deadline=None, database=None)
@given(host=hosts, path=url_paths, user=secrets, password=secrets)
def test_urls_lose_credentials_and_normalising_twice_changes_nothing(
    host: str, path: str, user: str, password: str
) -> None:
    kind, location, error = classify(f"https://{user}:{password}@{host}{path}")
    assert (kind, error) == ("url", None)
    assert f"{user}:{password}@" not in location
    assert location.startswith(f"https://{host}/")
    assert classify(location) == (kind, location, None)
