"""Spreadsheet inputs: CSV dialects and encodings, Excel workbooks, and column mapping."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest

from engine.errors import UsageError
from engine.inputs import parse_columns, read_inputs
from engine.inputs.tables import choose_delimiter

A = "https://example.org/a.mp3"
B = "https://example.org/b.mp3"


def rows_of(path: Path, **kwargs: object) -> list[tuple[int | None, str, str | None]]:
    batch = read_inputs([path.name], cwd=path.parent, **kwargs)  # type: ignore[arg-type]
    return [(s.row, s.location or s.kind, s.title) for s in batch.sources]


# --- CSV ------------------------------------------------------------------------------------


def test_csv_with_bom_maps_synonym_headers(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_bytes(
        b"\xef\xbb\xbfYouTube URL,Episode Title,Notes\r\n"
        b"https://youtu.be/dQw4w9WgXcQ,First,keep me\r\n" + f"{A},Second,\r\n".encode()
    )
    batch = read_inputs(["links.csv"], cwd=tmp_path)
    first, second = batch.sources
    assert (first.kind, first.row, first.title, dict(first.extras)) == (
        "youtube",
        2,
        "First",
        {"Notes": "keep me"},
    )
    assert (second.location, second.row, second.extras["Notes"]) == (A, 3, "")


def test_semicolon_csv_keeps_commas_inside_cells(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_text(f'link;name\n{A}?a=1,2;"Talk, part 1"\n', encoding="utf-8")
    assert rows_of(path) == [(2, f"{A}?a=1,2", "Talk, part 1")]


def test_tsv_and_pipe_delimited(tmp_path: Path) -> None:
    (tmp_path / "t.tsv").write_text(f"url\ttitle\tnote, long\n{A}\tOne, two\tx;y\n")
    assert rows_of(tmp_path / "t.tsv") == [(2, A, "One, two")]
    (tmp_path / "p.csv").write_text(f"title|media_url\nPiped|{B}\n")
    assert rows_of(tmp_path / "p.csv") == [(2, B, "Piped")]


def test_latin1_and_cp1252_csv(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_bytes(f"url,title\n{A},Caf\u00e9 \u2013 \u00e9pisode\n".encode("cp1252"))
    assert rows_of(path) == [(2, A, "Caf\u00e9 \u2013 \u00e9pisode")]
    # 0x81 is undefined in cp1252, so only the latin-1 fallback can read this file.
    path.write_bytes(f"url,title\n{A},na\u00efve\x81\n".encode("latin-1"))
    assert rows_of(path) == [(2, A, "na\u00efve\x81")]


def test_utf16_csv_as_saved_by_excel(tmp_path: Path) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes(f"url\ttitle\r\n{A}\t\u65e5\u672c\r\n".encode("utf-16"))
    assert rows_of(path) == [(2, A, "\u65e5\u672c")]


def test_single_column_csv_does_not_split_urls_on_commas(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text(f"url\n{A}?tags=a,b;c\n")
    assert rows_of(path) == [(2, f"{A}?tags=a,b;c", None)]


def test_rows_keep_spreadsheet_numbers_and_problems_are_named(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_text(
        "\n"  # a blank line above the header still counts as a spreadsheet row
        "url,title,notes\n"
        f"{A},ok,\n"
        ",,\n"
        ",Orphan title,\n"
        '"javascript:alert(1)",bad,\n'
        f'{B},"multi\nline title",x\n'
        "missing.mp3,gone,\n",
        encoding="utf-8",
    )
    batch = read_inputs(["links.csv"], cwd=tmp_path)
    assert [(s.row, s.kind) for s in batch.sources] == [
        (3, "url"),
        (5, "invalid"),
        (6, "invalid"),
        (7, "url"),
        (8, "invalid"),
    ]
    errors = [s.error for s in batch.sources if s.error]
    assert errors[0] == "links.csv row 5: no URL or path"
    assert errors[1] == (
        "links.csv row 6: unsupported URL scheme 'javascript:' (use http or https, or a local path)"
        " (column 'url')"
    )
    assert (errors[2] or "").startswith("links.csv row 8: file not found: missing.mp3")
    assert batch.sources[1].title == "Orphan title"
    assert batch.sources[3].title == "multi\nline title"


def test_formula_like_text_in_csv_is_never_evaluated(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(f'url,title,note\n{A},=1+1,+SUM(A1)\n"=HYPERLINK(""{B}"")",@x,-2\n')
    first, second = read_inputs(["f.csv"], cwd=tmp_path).sources
    assert (first.title, first.extras["note"]) == ("=1+1", "+SUM(A1)")
    assert second.kind == "invalid" and "spreadsheet formula" in (second.error or "")


def test_duplicate_and_empty_headers(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(f"Title,url,Title,,Notes,notes\nOne,{A},Two,ignored,n1,n2\n")
    (source,) = read_inputs(["d.csv"], cwd=tmp_path).sources
    assert source.title == "One"
    assert dict(source.extras) == {"Title (2)": "Two", "Notes": "n1", "notes (2)": "n2"}


def test_synonyms_prefer_the_most_specific_header(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(f"Source,Name,URL,Title,Summary,Kind\nrss,nm,{A},tt,about,podcast\n")
    (source,) = read_inputs(["s.csv"], cwd=tmp_path).sources
    assert (source.location, source.title) == (A, "tt")
    assert dict(source.extras) == {
        "Source": "rss",
        "Name": "nm",
        "description": "about",
        "type": "podcast",
    }


def test_columns_override_picks_named_headers(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(f"Episode Link,Headline,url\n{A},Hello,{B}\n")
    assert rows_of(path) == [(2, B, None)]
    columns = parse_columns("url=episode link, title=HEADLINE")
    assert rows_of(path, columns=columns) == [(2, A, "Hello")]


def test_table_without_url_column_explains_how_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    # No header names a URL and no column holds links (a column of links would be taken).
    path.write_text("Where,Name\nthe hall,x\n")
    with pytest.raises(UsageError) as caught:
        read_inputs(["n.csv"], cwd=tmp_path)
    assert caught.value.message == "n.csv has no URL column (found: 'Where', 'Name')"
    assert "--columns url=HEADER" in caught.value.hint
    (tmp_path / "h.csv").write_text(f"{A}\n{B}\n")
    with pytest.raises(UsageError) as caught:
        read_inputs(["h.csv"], cwd=tmp_path)
    assert "add a header row" in caught.value.hint


def test_override_naming_a_missing_column_aborts(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(f"url,title\n{A},x\n")
    with pytest.raises(UsageError) as caught:
        read_inputs(["c.csv"], cwd=tmp_path, columns={"url": "Link"})
    assert caught.value.message == "c.csv: no column named 'Link' (found: 'url', 'title')"


def test_empty_table_aborts(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("\n\n")
    with pytest.raises(UsageError, match="e.csv is empty"):
        read_inputs(["e.csv"], cwd=tmp_path)


def test_header_only_table_gives_no_sources(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("url,title\n")
    assert read_inputs(["h.csv"], cwd=tmp_path).sources == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b\n1,2\n", ","),
        ("a;b\n1;2\n", ";"),
        ("a\tb\n1\t2\n", "\t"),
        ("a|b\n1|2\n", "|"),
        ('"x, y";b\n"1, 2";3\n"4, 5";6\n', ";"),
    ],
)
def test_choose_delimiter(text: str, expected: str) -> None:
    assert choose_delimiter(text) == expected


# --- parse_columns --------------------------------------------------------------------------


def test_parse_columns_accepts_spaces_and_case() -> None:
    assert parse_columns(" URL = Link , title=Name ,") == {"url": "Link", "title": "Name"}


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("", "is empty"),
        ("url", "is not FIELD=HEADER"),
        ("url=", "is not FIELD=HEADER"),
        ("author=Who", "unknown field 'author'"),
        ("url=A,url=B", "given twice"),
    ],
)
def test_parse_columns_rejects_bad_specs(spec: str, reason: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_columns(spec)
    assert reason in caught.value.message
    assert "--columns url=" in caught.value.hint


# --- XLSX -----------------------------------------------------------------------------------


def write_workbook(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "Queue"
    first["B3"] = "Video URL"
    first["C3"] = "Name"
    first["D3"] = "Published"
    first["E3"] = "Show"
    first["F3"] = "Count"
    first.append(
        [None, "https://youtu.be/dQw4w9WgXcQ", "Intro", dt.date(2024, 3, 1), "Weekly", 12.0]
    )
    first.append([None, A, "Second", dt.datetime(2024, 3, 8, 9, 30), None, 2.5])
    first.append([])
    first.append([None, None, "Row without link"])
    first.append([None, B, "Has formula", None, None, "=F4*2"])
    first.merge_cells("E4:E5")  # "Weekly" spans two rows; the second reads as empty
    workbook.create_sheet("Ignored").append(["url", "https://example.org/other.mp3"])
    workbook.save(path)
    return path


def test_xlsx_first_sheet_header_row_dates_merged_cells_and_formulas(tmp_path: Path) -> None:
    write_workbook(tmp_path / "queue.xlsx")
    batch = read_inputs(["queue.xlsx"], cwd=tmp_path)
    assert [(s.row, s.kind, s.title) for s in batch.sources] == [
        (4, "youtube", "Intro"),
        (5, "url", "Second"),
        (7, "invalid", "Row without link"),
        (8, "url", "Has formula"),
    ]
    intro, second, orphan, formula = batch.sources
    assert dict(intro.extras) == {"Published": "2024-03-01", "Show": "Weekly", "Count": "12"}
    assert dict(second.extras) == {"Published": "2024-03-08 09:30:00", "Show": "", "Count": "2.5"}
    assert orphan.error == "queue.xlsx row 7: no URL or path"
    # Written by a library, the formula has no cached value yet, so it reads as empty.
    assert formula.extras["Count"] == ""


def test_xlsx_formula_uses_cached_value_and_text_formulas_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "cached.xlsm"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["url", "title"])
    sheet.append(['=CONCAT("https://example.org/","c.mp3")', "Computed"])
    sheet.append([A, None])
    sheet["B3"] = "=1+1 is text here"
    sheet["B3"].data_type = "s"  # stored as a string cell, as when typed with a leading quote
    workbook.save(path)
    # Give the formula the cached result a spreadsheet program would have stored.
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet_xml = parts["xl/worksheets/sheet1.xml"].decode()
    formula = '<c r="A2"><f>CONCAT("https://example.org/","c.mp3")</f><v /></c>'
    assert formula in sheet_xml
    cached = '<c r="A2" t="str"><f>CONCAT("https://example.org/","c.mp3")</f><v>https://example.org/c.mp3</v></c>'
    parts["xl/worksheets/sheet1.xml"] = sheet_xml.replace(formula, cached).encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    assert rows_of(path) == [
        (2, "https://example.org/c.mp3", "Computed"),
        (3, A, "=1+1 is text here"),
    ]


def test_xlsx_without_url_column_and_damaged_xlsx_abort(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["What", "Why"])
    workbook.save(tmp_path / "nourl.xlsx")
    with pytest.raises(UsageError, match=r"nourl.xlsx has no URL column \(found: 'What', 'Why'\)"):
        read_inputs(["nourl.xlsx"], cwd=tmp_path)
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(UsageError, match="broken.xlsx is not a readable Excel workbook"):
        read_inputs(["broken.xlsx"], cwd=tmp_path)
    empty = openpyxl.Workbook()
    empty.save(tmp_path / "empty.xlsx")
    with pytest.raises(UsageError, match="empty.xlsx is empty"):
        read_inputs(["empty.xlsx"], cwd=tmp_path)
