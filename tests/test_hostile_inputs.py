"""Hostile and broken inputs through the real command line: each item ends as a person expects."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.inputs.classify import strip_credentials
from tests.hostile_cases import (
    CASES,
    INJECTIONS,
    SECRET,
    USAGE_CASES,
    Case,
    Expect,
    Kit,
    UsageCase,
)
from tests.servers.media_host import MediaHost
from tests.servers.openai_api import OpenAIServer
from tui.cli import main

pytestmark = pytest.mark.timeout(60)
API_KEY = "sk-test"
FORMULA_START = ("=", "+", "-", "@")


@dataclass(frozen=True)
class Outcome:
    """What one command-line run left behind, read back the way a person would look at it."""

    base: Path
    code: int
    stderr: str
    items: list[dict[str, Any]]
    csv_rows: list[dict[str, str]]
    before: frozenset[str]
    after: frozenset[str]

    @property
    def out(self) -> Path:
        return self.base / "out"


def listing(base: Path) -> frozenset[str]:
    """Every path under base (links not followed), except the output and private data folders."""
    found: set[str] = set()
    for root, dirs, files in os.walk(base):
        rel = Path(root).relative_to(base)
        if rel == Path("."):
            dirs[:] = [d for d in dirs if d not in ("out", "xdg")]
        found.update(str(rel / name) for name in (*dirs, *files))
    return frozenset(found)


def run_cli(base: Path, argv: list[str], stdin: str = "") -> tuple[int, str]:
    """``bulkscribe ARGV`` in-process, from base/ws, with private config, data and temp folders."""
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stderr(err):
        patch.setattr("sys.stdin", io.StringIO(stdin))
        patch.chdir(base / "ws")
        patch.setenv("XDG_DATA_HOME", str(base / "xdg" / "data"))
        patch.setenv("XDG_CONFIG_HOME", str(base / "xdg" / "config"))
        patch.setenv("COLUMNS", "500")  # rich must not wrap the messages we look for
        patch.setenv("NO_COLOR", "1")
        patch.delenv("OPENAI_API_KEY", raising=False)
        patch.setattr(tempfile, "tempdir", str(base / "tmp"))
        code = main(argv)
    return code, err.getvalue()


def outcome(base: Path, argv: list[str], before: frozenset[str], stdin: str = "") -> Outcome:
    code, stderr = run_cli(base, argv, stdin)
    manifest = json.loads((base / "out" / "manifest.json").read_text(encoding="utf-8"))
    text = (base / "out" / "items.csv").read_bytes().decode("utf-8-sig")  # keep CRs in cells
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return Outcome(base, code, stderr, manifest["items"], rows, before, listing(base))


def new_kit(base: Path, host_url: str = "") -> Kit:
    for name in ("ws", "host", "cache", "tmp"):
        (base / name).mkdir(exist_ok=True)
    return Kit(base / "ws", base / "cache", base / "host", host_url)


def api_argv(api: OpenAIServer, base: Path) -> list[str]:
    connection = ["--asr", "openai", "--api-base", api.base_url, "--api-key", API_KEY]
    run = ["--output", str(base / "out"), "--parallel", "--workers", "4", "--formats", "md,json"]
    return ["--headless", *connection, *run]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Outcome, dict[str, str]]]:
    """One batched run of every case in the table; case name -> the argument it was given as."""
    base = tmp_path_factory.mktemp("hostile")
    with OpenAIServer() as api, MediaHost(base / "host") as host:
        kit = new_kit(base, host.base_url)
        args = {case.name: case.build(kit) for case in CASES}
        before = listing(base)
        yield outcome(base, [*args.values(), *api_argv(api, base)], before), args


def items_of(result: Outcome, case: Case, arg: str) -> list[dict[str, Any]]:
    """The items that came from one case's argument, in input order."""
    target = result.base / "ws" / arg
    source = strip_credentials(arg)

    def came_from(item: dict[str, Any]) -> bool:
        if item["origin"] == str(target):  # a list file
            return True
        # A typed argument, or a file found in a folder given as the argument.
        by_hand = item["source"] == source or item["source"].startswith(f"{target}/")
        return item["origin"] == "args" and by_hand

    return [item for item in result.items if came_from(item)]


def frontmatter(note: str) -> dict[str, Any]:
    assert note.startswith("---\n")
    head, separator, _ = note[4:].partition("\n---\n")
    assert separator
    fields = yaml.safe_load(head)
    assert isinstance(fields, dict)
    return fields


def check_item(result: Outcome, item: dict[str, Any], expect: Expect) -> None:
    assert item["status"] == expect.state, item
    if expect.state == "failed":
        assert expect.message in (item["error"] or ""), item
        assert item["error_class"] not in ("internal", None)
        assert not item["outputs"]
        return
    assert item["error"] is None
    if expect.title is not None:
        assert item["title"] == expect.title
    note_path = (result.out / item["outputs"]["md"]).resolve()
    assert note_path.parent == result.out.resolve() and note_path.is_file()
    note = note_path.read_bytes().decode()
    assert frontmatter(note)["title"] == item["title"]
    assert expect.message in note


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_hostile_input_ends_as_expected(
    hostile: tuple[Outcome, dict[str, str]], case: Case
) -> None:
    result, args = hostile
    items = items_of(result, case, args[case.name])
    assert [item["status"] for item in items] == [e.state for e in case.expect], items
    for item, expect in zip(items, case.expect, strict=True):
        check_item(result, item, expect)


def test_the_batched_run_fails_cleanly(hostile: tuple[Outcome, dict[str, str]]) -> None:
    result, args = hostile
    assert result.code == 1  # some items failed, none crashed the run
    assert "Traceback" not in result.stderr
    assert {item["status"] for item in result.items} == {"done", "failed"}
    assert all(item["error_class"] != "internal" for item in result.items)
    # Every item belongs to a case: nothing was invented, nothing counted twice.
    claimed = [i["id"] for case in CASES for i in items_of(result, case, args[case.name])]
    assert sorted(claimed) == sorted(item["id"] for item in result.items)
    assert sum(len(case.expect) for case in CASES) == len(result.items)
    # The summary names the first failures and points to the manifest for the rest.
    failures = [item for item in result.items if item["status"] == "failed"]
    assert len(failures) > 20
    for item in failures[:20]:
        assert f"✗ {item['source']}" in result.stderr and item["error"] in result.stderr
    assert (
        f"… and {len(failures) - 20} more failures: see {result.out / 'manifest.json'}"
        in result.stderr
    )


def test_list_rows_say_where_they_came_from(hostile: tuple[Outcome, dict[str, str]]) -> None:
    result, _ = hostile
    for item in result.items:
        if item["status"] == "failed" and item["origin"] not in ("args", "stdin"):
            unit = {".txt": "line", ".json": "item"}.get(Path(item["origin"]).suffix, "row")
            assert f"{Path(item['origin']).name} {unit} {item['row']}: " in item["error"]


def test_nothing_is_written_outside_the_output_folder(
    hostile: tuple[Outcome, dict[str, str]],
) -> None:
    result, _ = hostile
    assert result.after == result.before
    assert not any((result.base / "tmp").iterdir())  # working folders are cleaned up
    written = [p for p in result.out.rglob("*") if p.is_file()]
    assert written and all(p.resolve().parent == result.out.resolve() for p in written)
    assert not [p.name for p in written if p.name.startswith(".")]  # no temp file left behind


def test_output_names_are_unique_and_safe(hostile: tuple[Outcome, dict[str, str]]) -> None:
    result, _ = hostile
    notes = [item["outputs"]["md"] for item in result.items if item["status"] == "done"]
    assert len({n.casefold() for n in notes}) == len(notes)
    for note in notes:
        stem = note.removesuffix(".md")
        assert not set('/\\:*?"<>|') & set(stem) and stem.strip(" .") == stem
        assert len(stem.encode()) <= 120
        assert stem.split(".")[0].upper() not in ("CON", "NUL", "COM1", "PRN", "AUX")
        assert stem.isprintable()
    assert (result.out / "manifest.json").is_file() and (result.out / "items.csv").is_file()
    by_title = {item["title"]: item["outputs"]["md"] for item in result.items if item["title"]}
    assert by_title["manifest"] != "manifest.md" and by_title["items"] != "items.md"
    assert not any(note.startswith(".") for note in notes)


def test_items_csv_defuses_formulas(hostile: tuple[Outcome, dict[str, str]]) -> None:
    result, _ = hostile
    assert len(result.csv_rows) == len(result.items)
    titles = {row["title"] for row in result.csv_rows}
    assert {f"'{t}" for t in INJECTIONS} <= titles
    for row, item in zip(result.csv_rows, result.items, strict=True):
        for column in ("source", "title", "error"):
            value = item[column] or ""
            expected = f"'{value}" if value.startswith(FORMULA_START) else value
            assert row[column] == expected


def assert_no_secret(paths: list[Path]) -> None:
    for path in paths:
        data = path.read_bytes()
        assert SECRET.encode() not in data, path
        assert SECRET.encode("utf-16-le") not in data, path
        assert API_KEY.encode() not in data, path


def test_url_passwords_appear_nowhere_in_reports_or_output(
    hostile: tuple[Outcome, dict[str, str]],
) -> None:
    result, _ = hostile
    assert SECRET not in result.stderr and API_KEY not in result.stderr
    assert_no_secret([p for p in result.out.rglob("*") if p.is_file()])


def test_url_passwords_appear_nowhere_in_the_session_store(
    hostile: tuple[Outcome, dict[str, str]],
) -> None:
    result, _ = hostile
    stored = [p for p in (result.base / "xdg").rglob("*") if p.is_file()]
    assert any(p.name.endswith(".db") for p in stored)
    assert_no_secret(stored)


@pytest.mark.parametrize("case", USAGE_CASES, ids=[case.name for case in USAGE_CASES])
def test_unusable_lists_stop_the_run_with_a_usage_error(tmp_path: Path, case: UsageCase) -> None:
    argv = case.build(new_kit(tmp_path))
    before = listing(tmp_path)
    code, stderr = run_cli(tmp_path, [*argv, "--headless", "--asr", "sphinx", "-o", "out"])
    assert code == 2
    assert case.message in " ".join(stderr.split()), stderr
    assert "Traceback" not in stderr
    assert listing(tmp_path) == before
    assert not (tmp_path / "ws" / "out").exists()


def test_columns_flag_picks_renamed_columns_over_a_decoy(tmp_path: Path) -> None:
    kit = new_kit(tmp_path)
    kit.tone("talk.wav", 770)
    rows = [["Episode Link", "Episode Name", "url"], ["talk.wav", "=Renamed: Talk", "decoy.mp3"]]
    arg = kit.table("renamed.csv", rows)
    before = listing(tmp_path)
    with OpenAIServer() as api:
        columns = ["--columns", "url=episode link,title=Episode Name"]
        result = outcome(tmp_path, [arg, *columns, *api_argv(api, tmp_path)], before)
    assert result.code == 0 and "Traceback" not in result.stderr
    (item,) = result.items
    check_item(result, item, Expect("done", "tone 770 hertz", "=Renamed: Talk"))
    assert result.csv_rows[0]["title"] == "'=Renamed: Talk"
    assert result.after == before


def test_hostile_lines_on_stdin_fail_one_by_one(tmp_path: Path) -> None:
    kit = new_kit(tmp_path)
    kit.tone("piped.wav", 880)
    lines = [
        "piped.wav",
        "javascript:alert(1)",
        "bad\x07bell.mp3",
        "\u200b",
        "piped.wav",
        "notes.txt",
    ]
    kit.write("notes.txt", "not media")
    before = listing(tmp_path)
    with OpenAIServer() as api:
        result = outcome(tmp_path, ["-", *api_argv(api, tmp_path)], before, "\n".join(lines))
    assert result.code == 1 and "Traceback" not in result.stderr
    assert "skipped 1 duplicate input(s)" in result.stderr
    assert [(item["row"], item["status"]) for item in result.items] == [
        (1, "done"),
        (2, "failed"),
        (3, "failed"),
        (4, "failed"),
        (6, "failed"),
    ]
    check_item(result, result.items[0], Expect("done", "tone 880 hertz", "piped"))
    assert [item["error"].split(":", 1)[0] for item in result.items[1:]] == [
        "stdin line 2",
        "stdin line 3",
        "stdin line 4",
        "stdin line 6",
    ]
    assert "control character (U+0007)" in result.items[2]["error"]
    assert "invisible character, U+200B" in result.items[3]["error"]
    assert "not an audio or video file: notes.txt" in result.items[4]["error"]
    assert result.after == before
