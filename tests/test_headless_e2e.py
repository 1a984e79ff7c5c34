"""Headless runs end to end: real media, the real command line, a local API and a local media host."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from tests.mediagen import write_tone
from tests.servers.media_host import MediaHost
from tests.servers.openai_api import OpenAIServer
from tui.cli import main

pytestmark = pytest.mark.timeout(60)
API_KEY = "sk-local"
CONTAINERS = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".mp4")


@dataclass(frozen=True)
class Run:
    """What one ``bulkscribe`` command left behind, read the way a person would check it."""

    code: int
    stdout: str
    stderr: str
    out: Path

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.out / "manifest.json").read_text(encoding="utf-8"))

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.manifest["items"]

    @property
    def csv_rows(self) -> list[dict[str, str]]:
        text = (self.out / "items.csv").read_bytes().decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text, newline="")))

    def item(self, source: str) -> dict[str, Any]:
        found = [item for item in self.items if item["source"] == source]
        assert len(found) == 1, (source, [item["source"] for item in self.items])
        return found[0]

    def note(self, item: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The item's Markdown file split into its frontmatter (parsed) and its body."""
        text = (self.out / item["outputs"]["md"]).read_text(encoding="utf-8")
        assert text.startswith("---\n"), text[:80]
        head, separator, body = text[4:].partition("\n---\n")
        assert separator, text[:200]
        fields = yaml.safe_load(head)
        assert isinstance(fields, dict)
        return fields, body

    def segments(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        doc = json.loads((self.out / item["outputs"]["json"]).read_text(encoding="utf-8"))
        return doc["segments"]


def run_cli(
    argv: Sequence[str], cwd: Path, monkeypatch: pytest.MonkeyPatch, stdin: str = ""
) -> Run:
    """``bulkscribe ARGV`` in-process from ``cwd``; the output folder is ``cwd/out`` unless given."""
    out = cwd / "out"
    argv = list(argv)
    if "--output" not in argv and "-o" not in argv:
        argv += ["--output", str(out)]
    else:
        out = Path(argv[argv.index("--output" if "--output" in argv else "-o") + 1])
    stdout, stderr = io.StringIO(), io.StringIO()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    monkeypatch.setenv("COLUMNS", "300")  # rich must not wrap the lines the tests look for
    monkeypatch.setenv("NO_COLOR", "1")
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(argv)
    return Run(code, stdout.getvalue(), stderr.getvalue(), out)


def api_flags(api: OpenAIServer, workers: int = 8) -> list[str]:
    return ["--headless", "--asr", "openai", "--api-base", api.base_url, "--api-key", API_KEY,
            "--workers", str(workers)]  # fmt: skip


def tone_text(freq: int) -> str:
    return f"tone {freq} hertz"


def assert_no_traceback(run: Run) -> None:
    assert "Traceback" not in run.stderr, run.stderr
    assert "Traceback" not in run.stdout, run.stdout


# -- the done criterion: a hundred real files ------------------------------------------------


def test_a_hundred_local_files_each_get_their_own_transcript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    expected: dict[str, int] = {}
    for index in range(100):
        path = media / f"clip-{index:03d}{CONTAINERS[index % len(CONTAINERS)]}"
        freq = 200 + 10 * index  # the server reports frequencies to the nearest 10 Hz
        write_tone(path, seconds=1.0 + (index % 3) * 0.5, freq=freq, video=path.suffix == ".mp4")
        expected[str(path)] = freq

    with OpenAIServer() as api:
        run = run_cli([str(media), *api_flags(api), "--formats", "md,json"], tmp_path, monkeypatch)
        arrivals = api.arrivals

    assert run.code == 0, run.stderr
    assert_no_traceback(run)
    assert run.manifest["counts"] == {"done": 100}
    assert len(run.items) == 100
    assert sorted(a.freq for a in arrivals if a.status == 200 and a.freq is not None) == sorted(
        expected.values()
    )
    for item in run.items:
        freq = expected[item["source"]]
        assert (item["status"], item["kind"], item["method"]) == ("done", "file", "asr"), item
        assert item["attempts"] == 1 and item["error"] is None, item
        assert set(item["outputs"]) == {"md", "json"}
        for rel in item["outputs"].values():
            assert (run.out / rel).is_file(), rel
        fields, body = run.note(item)
        assert fields["source"] == item["source"]
        assert fields["method"] == "asr"
        assert tone_text(freq) in body, (item["source"], body)
        assert {s["text"] for s in run.segments(item)} == {tone_text(freq)}
    rows = run.csv_rows
    assert len(rows) == 100 and {row["status"] for row in rows} == {"done"}
    assert all((run.out / row["md"]).is_file() for row in rows)


# -- a mixed list with bad rows ----------------------------------------------------------------


def write_sheet(path: Path, rows: Sequence[Sequence[str]]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    book.save(path)


def test_mixed_inputs_run_to_the_end_and_bad_rows_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, site = tmp_path / "ws", tmp_path / "site"
    ws.mkdir()
    site.mkdir()
    write_tone(ws / "a.wav", 1.0, 300)
    write_tone(ws / "b.mp3", 1.0, 350)
    write_tone(ws / "c.flac", 1.0, 400)
    write_tone(ws / "d.m4a", 1.0, 450)
    write_tone(site / "remote.mp3", 1.0, 500)
    (ws / "broken.mp3").write_bytes(b"\xff\xfb\x90" + b"not audio at all" * 64)
    with (ws / "talks.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(
            [
                ["url", "title", "speaker", "description"],
                ["c.flac", "Chat with C", "Ada Lovelace", "A talk about tones"],
                ["missing.mp3", "Gone", "Bob", ""],
                ["javascript:alert(1)", "Evil", "Eve", ""],
                ["", "No link at all", "Zed", ""],
                ["broken.mp3", "Damaged", "Cy", ""],
            ]
        )
    write_sheet(ws / "sheet.xlsx", [["Link", "Name", "Notes"], ["d.m4a", "From the sheet", "n1"]])

    with OpenAIServer() as api, MediaHost(site) as host:
        url = host.media_url("remote.mp3")
        argv = ["a.wav", "b.mp3", url, "talks.csv", "sheet.xlsx", *api_flags(api, 4)]
        run = run_cli([*argv, "--formats", "md,json"], ws, monkeypatch)
        freqs = sorted(a.freq or 0 for a in api.arrivals)

    assert run.code == 1
    assert_no_traceback(run)
    assert run.manifest["counts"] == {"done": 5, "failed": 4}
    assert freqs == [300, 350, 400, 450, 500]

    done = {
        "a.wav": 300,
        "b.mp3": 350,
        url: 500,
        "c.flac": 400,
        "d.m4a": 450,
    }
    for source, freq in done.items():
        item = run.item(source)
        assert item["status"] == "done", item
        assert [s["text"] for s in run.segments(item)] == [tone_text(freq)]
    remote = run.item(url)
    assert remote["kind"] == "url" and remote["method"] == "asr"

    fields, body = run.note(run.item("c.flac"))
    assert fields["title"] == "Chat with C"
    assert fields["speaker"] == "Ada Lovelace"  # the extra column travels into the frontmatter
    assert fields["description"] == "A talk about tones"
    assert "extra_description" not in fields
    assert body.lstrip().startswith("# Chat with C")
    sheet_fields, _ = run.note(run.item("d.m4a"))
    assert (sheet_fields["title"], sheet_fields["Notes"]) == ("From the sheet", "n1")

    csv_path = str(ws / "talks.csv")
    failures = {
        "missing.mp3": (3, "file not found"),
        "javascript:alert(1)": (4, "unsupported URL scheme 'javascript:'"),
        "": (5, "no URL or path"),
    }
    failed = [item for item in run.items if item["status"] == "failed"]
    assert len(failed) == 4
    rows = {row["row"]: row for row in run.csv_rows if row["status"] == "failed"}
    for raw, (row, reason) in failures.items():
        item = next(i for i in failed if i["row"] == row)
        assert item["origin"] == csv_path, item
        assert item["error"].startswith(f"talks.csv row {row}: "), item
        assert reason in item["error"], item
        assert not item["outputs"]
        assert raw in item["source"]  # the empty cell's row is shown by its other cells
        assert rows[str(row)]["error"] == item["error"]
        assert f": talks.csv row {row}: " in run.stderr, run.stderr
        assert f"(talks.csv row {row})" not in run.stderr  # the place is said once, not twice
    # A file that fails only when opened: its error does not say where it came from, so the
    # summary and the manifest do.
    damaged = run.item("broken.mp3")
    assert (damaged["status"], damaged["origin"], damaged["row"]) == ("failed", csv_path, 6)
    assert "not a media file or corrupt: broken.mp3" in damaged["error"]
    assert rows["6"]["error"] == damaged["error"]
    assert "✗ Damaged (talks.csv row 6): not a media file or corrupt: broken.mp3" in run.stderr
