"""The command line itself: usage errors, dry runs, version, stdin, flag order, and the guide's flag list."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mediagen import write_tone
from tests.servers.media_host import MediaHost
from tests.servers.openai_api import OpenAIServer
from tests.test_headless_e2e import api_flags, assert_no_traceback, run_cli, tone_text
from tui.cli import build_parser

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parent.parent
USAGE_GUIDE = ROOT / "docs" / "usage.md"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    write_tone(tmp_path / "talk.wav", 1.0, 440)
    (tmp_path / "broken.json").write_text('["talk.wav",', encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rate-limit", "banana"], "cannot read rate limit 'banana'"),
        (["--rate-limit", "0/min"], "rate limit"),
        (["--workers", "0"], "workers must be between 1 and 64, not 0"),
        (["--workers", "many"], "argument --workers: invalid int value: 'many'"),
        (["--formats", "md,pdf"], "unknown output format pdf (choose from md,txt,srt,vtt,json)"),
        (["--chunk-seconds", "5"], "--chunk-seconds must be between 10 and 3600"),
        (["--columns", "link"], "--columns: 'link' is not FIELD=HEADER"),
        (["missing-list.txt"], "list file not found: missing-list.txt"),
        (["broken.json"], "broken.json is not valid JSON"),
        (["--asr", "magic"], "argument --asr: invalid choice: 'magic'"),
    ],
)
def test_usage_errors_exit_2_with_a_readable_message(
    ws: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str], message: str
) -> None:
    with OpenAIServer() as api:
        run = run_cli(["talk.wav", *api_flags(api), *flags], ws, monkeypatch)
        arrivals = api.arrivals
    assert run.code == 2
    assert run.stderr.startswith("error: "), run.stderr
    assert message in " ".join(run.stderr.split()), run.stderr
    assert_no_traceback(run)
    assert arrivals == []
    assert not run.out.exists()


def test_headless_with_nothing_to_do_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_cli(["--headless"], tmp_path, monkeypatch)
    assert run.code == 2
    assert "nothing to transcribe" in run.stderr


def test_dry_run_counts_and_estimates_without_touching_any_server(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tone(ws / "long.mp3", 25.0, 300)
    with OpenAIServer() as api, MediaHost(ws) as host:
        url = host.media_url("talk.wav")
        argv = ["talk.wav", "long.mp3", url, *api_flags(api), "--chunk-seconds", "10", "--dry-run"]
        run = run_cli(argv, ws, monkeypatch)
        assert api.arrivals == [] and host.requests == []

    assert run.code == 0, run.stdout + run.stderr
    assert_no_traceback(run)
    counts = dict(re.findall(r"^\W*(file|url|youtube|invalid)\W+(\d+)\W*$", run.stdout, re.M))
    assert counts == {"file": "2", "url": "1"}
    # talk.wav is one chunk, long.mp3 three of 10 s, the URL an assumed 20 minutes: 120 chunks.
    assert "about 124 (chunks of 10 s)" in run.stdout
    assert "no API was contacted" in run.stdout
    assert not run.out.exists()


def test_dry_run_lists_inputs_that_will_fail(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_cli(["talk.wav", "gone.mp3", "--dry-run"], ws, monkeypatch)
    assert run.code == 1
    assert "1 input(s) will fail" in run.stdout
    assert "file not found: gone.mp3" in run.stdout
    assert not run.out.exists()


def test_version_and_help_from_a_real_process(tmp_path: Path) -> None:
    def bulkscribe(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tui.cli", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )

    version = bulkscribe("--version")
    assert version.returncode == 0
    assert re.fullmatch(r"bulkscribe (\d+\.\d+\.\d+\S*|dev)\n", version.stdout)
    bad = bulkscribe("--workers", "0", "--dry-run", str(tmp_path))
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: workers must be between 1 and 64")


def test_inputs_may_come_before_and_after_flags(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tone(ws / "second.mp3", 1.0, 550)
    with OpenAIServer() as api:
        run = run_cli(["talk.wav", *api_flags(api, 2), "second.mp3"], ws, monkeypatch)
    assert run.code == 0, run.stderr
    assert sorted(item["source"] for item in run.items) == ["second.mp3", "talk.wav"]


def test_links_and_paths_pasted_on_stdin(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tone(ws / "second.mp3", 1.0, 550)
    pasted = "# pasted from a browser\n  talk.wav  \r\n\n'second.mp3'\n"
    with OpenAIServer() as api:
        run = run_cli(["-", *api_flags(api, 2), "--formats", "md,json"], ws, monkeypatch, pasted)
    assert run.code == 0, run.stderr
    assert [item["origin"] for item in run.items] == ["stdin", "stdin"]
    assert [item["row"] for item in run.items] == [2, 4]
    texts = [[s["text"] for s in run.segments(item)] for item in run.items]
    assert texts == [[tone_text(440)], [tone_text(550)]]


def guide_section(title: str) -> str:
    text = USAGE_GUIDE.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_user_guide_documents_every_flag() -> None:
    section = guide_section("Command-line flags")
    flags = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", build_parser().format_help()))
    missing = sorted(flag for flag in flags if f"`{flag}" not in section)
    assert not missing, f"flags missing from docs/usage.md: {missing}"


def test_every_option_sets_a_setting_by_its_own_name() -> None:
    from dataclasses import fields

    from engine.settings import Settings
    from tui.options import OPTIONS, settings_flags

    known = {f.name for f in fields(Settings)}
    assert {o.setting for o in OPTIONS if o.setting} <= known
    flags = settings_flags(
        build_parser().parse_intermixed_args(["--lang", "fr,en", "--workers", "3"])
    )
    assert flags["languages"] == "fr,en" and flags["asr_language"] == "fr"
    assert flags["workers"] == 3 and flags["parallel"] is None and flags["api_keys"] is None
    assert not {o.dest for o in OPTIONS if o.dest} & set(flags)  # run-only options are not settings


def test_a_misspelt_key_in_the_options_file_is_refused() -> None:
    from tui.options import load_options

    text = '[[group]]\n[[group.option]]\nflags = ["--x"]\nhelp = "x"\nmetvar = "N"\n'
    with pytest.raises(ValueError, match="metvar"):
        load_options(text)
