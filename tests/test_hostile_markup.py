"""Outside text is data, never Rich markup: titles, paths, errors and names print as they are."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from engine.errors import BulkscribeError
from engine.providers.whisper import INSTALL_HINT
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer
from tests.test_headless_e2e import API_KEY, assert_no_traceback, run_cli
from tui.cli import _error_line, main

pytestmark = pytest.mark.timeout(90)

# Each is something Rich would read as markup: a closing tag with nothing open (MarkupError),
# a style, a link, a bare tag that Rich drops, and an escaped bracket that Rich would unescape.
HOSTILE = [
    "bad [/] title",
    "Broken [abc123]",
    "[bold red]x[/]",
    "[link=file:///etc]click[/link]",
    "[/bold]",
    "back\\[slash]",
    "[on red]  [/on red]",
    "nested [b][i]x[/b][/i]",
]


def _safe_name(text: str) -> str:
    return text.replace("/", "_")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_titles_and_paths_print_literally_and_the_batch_finishes(
    hostile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    good = write_tone(media / "good.wav", seconds=1.0, freq=440)
    broken = media / f"{_safe_name(hostile)}.mp3"
    broken.write_bytes(b"\x00not audio at all" * 64)
    missing = media / f"gone {_safe_name(hostile)}.wav"
    listing = tmp_path / "list.json"
    listing.write_text(
        json.dumps(
            [
                {"url": str(good), "title": hostile},
                {"url": str(broken), "title": f"failing {hostile}"},
                {"url": str(missing)},
            ]
        ),
        encoding="utf-8",
    )
    with OpenAIServer() as api:
        flags = ["--headless", "--asr", "openai", "--api-base", api.base_url,
                 "--api-key", API_KEY]  # fmt: skip
        run = run_cli([str(listing), *flags], tmp_path, monkeypatch)
        assert_no_traceback(run)
        assert run.code == 1, run.stderr
        assert run.manifest["counts"] == {"done": 1, "failed": 2}, run.stderr
        assert f"failing {hostile}" in run.stderr
        assert str(missing) in run.stderr
        session = run.manifest["session"]["id"]

        resumed = run_cli(["--resume", session, *flags], tmp_path, monkeypatch)
    assert_no_traceback(resumed)
    assert resumed.code == 1, resumed.stderr
    assert f"failing {hostile}" in resumed.stderr
    assert resumed.manifest["counts"] == {"done": 1, "failed": 2}

    code, shown = _sessions("show", session)
    assert code == 0, shown
    assert f"failing {hostile}" in shown
    code, listed = _sessions("list")
    assert code == 0 and session in listed


def _sessions(*argv: str) -> tuple[int, str]:
    """``bulkscribe sessions ARGV``, its stdout joined into one line (tables wrap long cells)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["sessions", *argv])
    return code, "".join(line.strip() for line in out.getvalue().splitlines())


@pytest.mark.parametrize("hostile", HOSTILE[:4])
def test_a_dry_run_prints_hostile_problems_literally(
    hostile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = f"missing {_safe_name(hostile)}.mp3"
    run = run_cli(["--dry-run", missing], tmp_path, monkeypatch)
    assert_no_traceback(run)
    assert run.code == 1
    assert missing in run.stdout


@pytest.mark.parametrize("hostile", HOSTILE[:4])
def test_usage_errors_quote_hostile_values_literally(
    hostile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_cli(["--headless", "--formats", hostile, "x.mp3"], tmp_path, monkeypatch)
    assert run.code == 2
    assert_no_traceback(run)
    assert hostile in run.stderr


def test_the_whisper_install_hint_keeps_its_brackets() -> None:
    console = Console(record=True, width=300, color_system=None)
    console.print(_error_line(BulkscribeError("faster-whisper is missing", hint=INSTALL_HINT)))
    assert "pip install 'bulkscribe[whisper]'" in console.export_text()
