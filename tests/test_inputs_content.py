"""Spreadsheets and lists as people keep them: broken quotes, hidden sheets, columns chosen by content."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from engine.errors import UsageError
from engine.inputs import read_inputs

CDN = "https://cdn.example.org/talks"


def workbook(path: Path, sheets: list[tuple[str, list[list[object]], str]]) -> Path:
    """An .xlsx written by openpyxl: (title, rows, state) per sheet, in order."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows, state in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        sheet.sheet_state = state
    book.save(path)
    return path


# --- class 6: broken spreadsheets say so -----------------------------------------------------


def test_unclosed_quote_is_detected_and_the_row_named(tmp_path: Path) -> None:
    # Six rows; row 3's title opens a quote that never closes, so a CSV reader folds rows 3-7
    # into one cell. The row must fail with its number instead of becoming a long title.
    lines = ["url,title"] + [f"{CDN}/{n}.mp3,Talk {n}" for n in range(1, 7)]
    lines[2] = f'{CDN}/2.mp3,"Talk 2, the keynote'
    (tmp_path / "talks.csv").write_text("\n".join(lines) + "\n")
    batch = read_inputs(["talks.csv"], cwd=tmp_path)
    assert [(s.row, s.kind) for s in batch.sources] == [(2, "url"), (3, "invalid")]
    error = batch.sources[1].error or ""
    assert error.startswith("talks.csv row 3: a quote opened in this row is not closed")
    assert "lines 3-7 of the file" in error and "4 row(s) after it were lost" in error


def test_unclosed_quote_closing_later_still_names_the_row(tmp_path: Path) -> None:
    text = (
        "url;title;notes\n"
        f"{CDN}/1.mp3;One;ok\n"
        f'{CDN}/2.mp3;"Two;x\n'
        f"{CDN}/3.mp3;Three;y\n"
        f'{CDN}/4.mp3;Four;z"\n'
        f"{CDN}/5.mp3;Five;fine\n"
    )
    (tmp_path / "semi.csv").write_text(text)
    batch = read_inputs(["semi.csv"], cwd=tmp_path)
    assert [(s.row, s.kind) for s in batch.sources] == [(2, "url"), (3, "invalid"), (4, "url")]
    assert "semi.csv row 3: a quote opened" in (batch.sources[1].error or "")


def test_real_multiline_cells_are_not_mistaken_for_a_broken_quote(tmp_path: Path) -> None:
    text = f'url,description\n{CDN}/1.mp3,"First line,\nsecond line, with commas"\n{CDN}/2.mp3,x\n'
    (tmp_path / "ok.csv").write_text(text)
    batch = read_inputs(["ok.csv"], cwd=tmp_path)
    assert [s.kind for s in batch.sources] == ["url", "url"]
    assert batch.sources[0].extras["description"] == "First line,\nsecond line, with commas"


def test_workbook_with_a_hidden_first_sheet_reads_the_first_visible_one(tmp_path: Path) -> None:
    workbook(
        tmp_path / "book.xlsx",
        [
            ("lookup", [["code", "value"], ["a", "1"]], "hidden"),
            ("old", [["url"], [f"{CDN}/old.mp3"]], "veryHidden"),
            ("Talks", [["url", "title"], [f"{CDN}/1.mp3", "One"]], "visible"),
            ("Later", [["url", "title"], [f"{CDN}/2.mp3", "Two"]], "visible"),
        ],
    )
    batch = read_inputs(["book.xlsx"], cwd=tmp_path)
    assert [(s.location, s.title) for s in batch.sources] == [(f"{CDN}/1.mp3", "One")]
    chosen = read_inputs(["book.xlsx"], cwd=tmp_path, sheet="later")
    assert [s.title for s in chosen.sources] == ["Two"]
    hidden = read_inputs(["book.xlsx"], cwd=tmp_path, sheet="old")
    assert [s.location for s in hidden.sources] == [f"{CDN}/old.mp3"]


def test_unknown_sheet_says_which_sheets_exist(tmp_path: Path) -> None:
    workbook(
        tmp_path / "b.xlsx",
        [("Secret", [["url"], [f"{CDN}/1.mp3"]], "hidden"), ("Main", [["url"]], "visible")],
    )
    pattern = r"b.xlsx has no sheet named 'Talks' \(sheets: 'Secret', 'Main'\)"
    with pytest.raises(UsageError, match=pattern):
        read_inputs(["b.xlsx"], cwd=tmp_path, sheet="Talks")


# --- issue 14: columns chosen by content ----------------------------------------------------


def test_filled_column_beats_an_empty_one_named_like_a_url(tmp_path: Path) -> None:
    rows: list[list[object]] = [["Title", "youtube URL", "desktop_mp4 URL"]]
    rows += [[f"Talk {n}", None, f"{CDN}/desktop/{n}.mp4"] for n in range(1, 14)]
    workbook(tmp_path / "talks.xlsx", [("Sheet1", rows, "visible")])
    batch = read_inputs(["talks.xlsx"], cwd=tmp_path)
    assert len(batch.sources) == 13 and all(s.kind == "url" for s in batch.sources)
    assert batch.sources[0].title == "Talk 1"
    assert batch.notes == ("talks.xlsx: links from column 'desktop_mp4 URL' (13 of 13 rows)",)


def test_podcast_workbook_takes_the_mp3_link_when_the_episode_cell_is_empty(
    tmp_path: Path,
) -> None:
    header = ["Title", "Description", "Episode URL", "MP3 Link"]
    rows: list[list[object]] = [header]
    for n in range(1, 19):
        page = f"https://show.example.org/episodes/{n}" if n <= 5 else None
        rows.append([f"Episode {n}", f"About {n}", page, f"{CDN}/ep{n}.mp3"])
    # Two rows whose cells slid one column left (a missing description).
    rows[7] = ["Episode 7", f"{CDN}/ep7.mp3", None, None]
    workbook(tmp_path / "podcast.xlsx", [("Episodes", rows, "visible")])
    batch = read_inputs(["podcast.xlsx"], cwd=tmp_path)
    assert len(batch.sources) == 18
    assert all(s.valid for s in batch.sources), [s.error for s in batch.sources]
    locations = [s.location for s in batch.sources]
    assert locations[6] == f"{CDN}/ep7.mp3"
    assert "Description" not in batch.sources[6].extras  # the link is not also its description
    # The MP3 column holds the most links, so it is the column; page links are not needed.
    assert batch.notes[0] == "podcast.xlsx: links from column 'MP3 Link' (17 of 18 rows)"
    assert "podcast.xlsx row 8: column 'MP3 Link' is empty; took the media link in column " in (
        " ".join(batch.notes)
    )


def test_empty_cell_prefers_a_direct_media_link_over_an_episode_page(tmp_path: Path) -> None:
    text = (
        "url,Page,Audio\n"
        f"{CDN}/1.mp3,,\n"
        f"{CDN}/2.mp3,,\n"
        f",https://show.example.org/ep/3,{CDN}/3.mp3\n"
        f",https://show.example.org/ep/4,\n"
    )
    (tmp_path / "p.csv").write_text(text)
    batch = read_inputs(["p.csv"], cwd=tmp_path)
    assert [s.location for s in batch.sources] == [
        f"{CDN}/1.mp3",
        f"{CDN}/2.mp3",
        f"{CDN}/3.mp3",
        "https://show.example.org/ep/4",
    ]
    assert "p.csv row 4: column 'url' is empty; took the media link in column 'Audio'" in (
        batch.notes
    )
    assert "p.csv row 5: column 'url' is empty; took the link in column 'Page'" in batch.notes


@pytest.mark.parametrize(
    ("headers", "title"),
    [(["Título", "Enlace"], "Título"), (["Название", "Видео"], "Название")],
)
def test_non_english_headers_need_no_column_flag(
    tmp_path: Path, headers: list[str], title: str
) -> None:
    rows: list[list[object]] = [headers, ["Uno", f"{CDN}/1.mp3"], ["Dos", f"{CDN}/2.mp3"]]
    workbook(tmp_path / "es.xlsx", [("Hoja1", rows, "visible")])
    batch = read_inputs(["es.xlsx"], cwd=tmp_path)
    assert [(s.location, s.title) for s in batch.sources] == [
        (f"{CDN}/1.mp3", "Uno"),
        (f"{CDN}/2.mp3", "Dos"),
    ]
    assert batch.notes == (f"es.xlsx: links from column '{headers[1]}' (2 of 2 rows)",)


def test_columns_flag_is_never_second_guessed(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(f"Link,Other\n,{CDN}/1.mp3\n,{CDN}/2.mp3\n")
    batch = read_inputs(["c.csv"], cwd=tmp_path, columns={"url": "Link"})
    assert [s.location for s in batch.sources] == [f"{CDN}/1.mp3", f"{CDN}/2.mp3"]
    assert all("column 'Link' is empty" in " ".join(s.notes) for s in batch.sources)


@pytest.mark.parametrize("separator", [" ", ", ", "; ", "\n", " ;\n"])
def test_a_cell_with_several_links_becomes_one_item_per_link(
    tmp_path: Path, separator: str
) -> None:
    cell = separator.join([f"{CDN}/a.mp3", "https://youtu.be/dQw4w9WgXcQ", f"{CDN}/b.mp3"])
    workbook(
        tmp_path / "m.xlsx",
        [("S", [["Title", "Links", "Speaker"], ["Panel", cell, "Ana"]], "visible")],
    )
    batch = read_inputs(["m.xlsx"], cwd=tmp_path)
    assert [s.kind for s in batch.sources] == ["url", "youtube", "url"]
    assert {(s.row, s.title, s.extras["Speaker"]) for s in batch.sources} == {(2, "Panel", "Ana")}


def test_commas_inside_one_url_do_not_split_it(tmp_path: Path) -> None:
    link = f"{CDN}/get?ids=1,2,3&f=a.mp3"
    (tmp_path / "q.csv").write_text(f'url\n"{link}"\n')
    assert [s.location for s in read_inputs(["q.csv"], cwd=tmp_path).sources] == [link]


def test_bad_cell_message_names_row_and_column(tmp_path: Path) -> None:
    (tmp_path / "v.csv").write_text(f"Video,Name\n{CDN}/1.mp3,ok\nftp://x.org/a.mp3,bad\n")
    bad = read_inputs(["v.csv"], cwd=tmp_path).sources[1]
    assert bad.error == (
        "v.csv row 3: unsupported URL scheme 'ftp:' (use http or https, or a local path)"
        " (column 'Video')"
    )


# --- text lists in any text file ------------------------------------------------------------


def test_markdown_list_takes_bare_urls_and_titled_links(tmp_path: Path) -> None:
    (tmp_path / "links.md").write_text(
        "# Talks to transcribe\n\n"
        "Some notes about why these matter, with no link.\n\n"
        f"- [Opening keynote](https://youtu.be/dQw4w9WgXcQ)\n"
        f"- {CDN}/panel.mp3\n"
        f"* <{CDN}/closing.mp3>, recorded live.\n"
        "![a slide](https://example.org/slide.png)\n"
        f"{CDN}/plain.mp3\n"
    )
    batch = read_inputs(["links.md"], cwd=tmp_path)
    assert [(s.row, s.location, s.title) for s in batch.sources] == [
        (5, "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "Opening keynote"),
        (6, f"{CDN}/panel.mp3", None),
        (7, f"{CDN}/closing.mp3", None),
        (9, f"{CDN}/plain.mp3", None),
    ]


def test_markdown_without_links_says_what_it_expected(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Notes\n\nNothing here yet.\n")
    with pytest.raises(UsageError) as caught:
        read_inputs(["notes.md"], cwd=tmp_path)
    assert "notes.md has no links: expected Markdown links like [Title](https://...)" in (
        caught.value.message
    )


def test_list_without_extension_is_read_and_prose_is_refused(tmp_path: Path) -> None:
    (tmp_path / "queue").write_text(f"# today\n{CDN}/1.mp3\nhttps://youtu.be/dQw4w9WgXcQ\n")
    assert [s.kind for s in read_inputs(["queue"], cwd=tmp_path).sources] == ["url", "youtube"]
    (tmp_path / "letter").write_text("Dear all,\nplease find the talks below.\n")
    with pytest.raises(UsageError) as caught:
        read_inputs(["letter"], cwd=tmp_path)
    assert caught.value.message == (
        "letter is text but not a list of links: expected one URL or path per line "
        "(line 1 reads 'Dear all,')"
    )


def test_show_notes_with_links_on_several_lines_are_no_broken_quote(tmp_path: Path) -> None:
    notes = "Links:\nOur site, https://show.example.org\nThe paper, https://doi.org/10.1/x"
    (tmp_path / "n.csv").write_text(
        f'url,title,notes\n{CDN}/1.mp3,One,"{notes}"\n{CDN}/2.mp3,Two,\n'
    )
    batch = read_inputs(["n.csv"], cwd=tmp_path)
    assert [s.kind for s in batch.sources] == ["url", "url"]
    assert batch.sources[0].extras["notes"] == notes


def test_a_column_of_thumbnails_never_beats_the_media_column(tmp_path: Path) -> None:
    text = (
        "url,thumbnail,slides\n"
        f"{CDN}/1.mp4,https://img.example.org/1.jpg,https://talks.example.org/1.pdf\n"
        f",https://img.example.org/2.jpg,https://talks.example.org/2.pdf\n"
        f",https://img.example.org/3.png,\n"
    )
    (tmp_path / "t.csv").write_text(text)
    batch = read_inputs(["t.csv"], cwd=tmp_path)
    assert batch.notes[0] == "t.csv: links from column 'url' (1 of 3 rows)"
    assert [s.kind for s in batch.sources] == ["url", "invalid", "invalid"]
    assert batch.sources[1].error == "t.csv row 3: no URL or path"
