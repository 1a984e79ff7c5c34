"""Every start-up problem is one message and exit 2, never a traceback, and leaves no empty session."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import output_folder
from sessions.store import Store
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer
from tests.test_headless_e2e import API_KEY, Run, assert_no_traceback, run_cli

pytestmark = pytest.mark.timeout(60)


def config_file(text: str | bytes) -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "bulkscribe" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def saved_sessions() -> int:
    with Store.open() as store:
        return len(store.sessions())


def refused(run: Run, *words: str) -> None:
    assert run.code == 2, (run.code, run.stderr)
    assert_no_traceback(run)
    text = " ".join(run.stderr.split())
    assert text.startswith("error:"), text
    for word in words:
        assert word in text, (word, text)


# -- the output folder --------------------------------------------------------------------------


def test_an_output_folder_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    media = write_tone(tmp_path / "a.wav", seconds=0.5)
    target = tmp_path / "out.txt"
    target.write_text("not a folder")
    run = run_cli([str(media), "--headless", "--asr", "sphinx", "-o", str(target)], tmp_path,
                  monkeypatch)  # fmt: skip
    refused(run, str(target), "is a file")
    assert target.read_text() == "not a folder"
    assert saved_sessions() == 0


@pytest.mark.parametrize("depth", ["child", "child/grandchild/deeper"])
def test_an_output_folder_under_a_file(
    depth: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = write_tone(tmp_path / "a.wav", seconds=0.5)
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    target = blocker / depth
    run = run_cli([str(media), "--headless", "--asr", "sphinx", "-o", str(target)], tmp_path,
                  monkeypatch)  # fmt: skip
    refused(run, str(blocker), "is a file")
    assert saved_sessions() == 0


@contextlib.contextmanager
def mounted_tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A real small or read-only file system, where the machine lets tests mount one."""
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_read_only_output_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    media = write_tone(tmp_path / "a.wav", seconds=0.5)
    if os.geteuid() != 0:
        target = tmp_path / "locked"
        target.mkdir()
        target.chmod(0o555)
        context: contextlib.AbstractContextManager[Path] = contextlib.nullcontext(target)
    else:  # permissions do not stop root; a read-only file system does
        context = mounted_tmpfs(tmp_path / "ro", "ro,size=1m")
    with context as target:
        run = run_cli([str(media), "--headless", "--asr", "sphinx", "-o", str(target / "t")],
                      tmp_path, monkeypatch)  # fmt: skip
    refused(run, "not writable")
    assert saved_sessions() == 0


def test_an_output_folder_on_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    media = write_tone(tmp_path / "a.wav", seconds=0.5)
    with mounted_tmpfs(tmp_path / "small", "size=128k") as disk:
        with contextlib.suppress(OSError):
            (disk / "filler").write_bytes(b"\0" * 256 * 1024)
        run = run_cli([str(media), "--headless", "--asr", "sphinx", "-o", str(disk / "t")],
                      tmp_path, monkeypatch)  # fmt: skip
    refused(run, "is full")
    assert saved_sessions() == 0


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO])
def test_a_failing_probe_write_is_a_message(
    code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no small disk can be mounted: the error the disk would give, injected at fsync."""

    def fail(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(output_folder.os, "fsync", fail)
    media = write_tone(tmp_path / "a.wav", seconds=0.5)
    run = run_cli([str(media), "--headless", "--asr", "sphinx"], tmp_path, monkeypatch)
    refused(run, str(tmp_path / "out"))
    assert list((tmp_path / "out").iterdir()) == []  # the probe file is gone too
    assert saved_sessions() == 0


# -- config.toml --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "setting"),
    [
        ("formats = 5", "formats"),
        ("languages = 7", "languages"),
        ('output = ["a", "b"]', "output"),
        ("workers = [8]", "workers"),
        ("parallel = 3", "parallel"),
        ("model = 5", "model"),
        ("rate_limit = { per = 1 }", "rate_limit"),
        ("cookies = true", "cookies"),
        ("formats = [1, 2]", "formats"),
        ("chunk_seconds = 2026-01-01", "chunk_seconds"),
    ],
)
def test_config_values_of_the_wrong_type(
    line: str, setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file(line + "\n")
    run = run_cli(["--dry-run", "x.mp3"], tmp_path, monkeypatch)
    refused(run, f"config.toml: {setting} must be")


@pytest.mark.parametrize(
    "line",
    ["api_key = 5", "api_key = 987654321", "api_key = [987654321]", "api_keys = { k = 987654321 }"],
)
def test_an_api_key_of_the_wrong_type_is_refused_without_echo(
    line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file(line + "\n")
    run = run_cli(["--dry-run", "x.mp3"], tmp_path, monkeypatch)
    refused(run, "api_key")
    assert "987654321" not in run.stderr


@pytest.mark.parametrize(
    "data", [b'workers = 4\nmodel = "caf\xe9"\n', b"\xff\xfe\x00w\x00", b'model = "\xc3"\n']
)
def test_a_config_that_is_not_utf8(
    data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config_file(data)
    run = run_cli(["--dry-run", "x.mp3"], tmp_path, monkeypatch)
    refused(run, str(path), "not UTF-8")


def test_an_unknown_binding_id_in_the_keymap_stops_the_app_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file('[keymap]\n"bulkscribe.retry_al" = "ctrl+r"\n')
    media = write_tone(tmp_path / "a.wav", seconds=0.5)
    run = run_cli([str(media), "--asr", "sphinx"], tmp_path, monkeypatch)
    refused(
        run, "[keymap] names no binding 'bulkscribe.retry_al'", "did you mean bulkscribe.retry_all?"
    )
    assert saved_sessions() == 0


@pytest.mark.parametrize(
    ("key", "guess"),
    [("wrokers", "workers"), ("formts", "formats"), ("rate-limt", "rate_limit"),
     ("apikey", "api_key"), ("colour_scheme", None)],
)  # fmt: skip
def test_unknown_config_keys_are_warned_with_the_nearest_known_key(
    key: str, guess: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file(f"{key} = 1\nworkers = 3\n")
    media = write_tone(tmp_path / "a.wav", seconds=0.5)
    run = run_cli(["--dry-run", str(media)], tmp_path, monkeypatch)
    assert run.code == 0, run.stderr
    text = " ".join(run.stderr.split())
    name = key.replace("-", "_")
    assert f"warning: config.toml: unknown setting '{name}' is ignored" in text
    if guess:
        assert f"did you mean {guess}?" in text
    else:
        assert "did you mean" not in text


# -- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["sk-abc\ndef", "sk-\u00e9l\u00e8ve", "sk-\x00null", "sk-tab\tkey", "sk-\u200bzw"]
)
@pytest.mark.parametrize("where", ["flag", "env", "config"])
def test_an_api_key_no_service_could_accept_is_refused_once_without_echo(
    key: str, where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["--headless", "--asr", "openai", str(write_tone(tmp_path / "a.wav", seconds=0.5))]
    if where == "flag":
        argv += ["--api-key", key]
    elif where == "env":
        if "\x00" in key:
            pytest.skip("an environment variable cannot hold NUL")
        monkeypatch.setenv("OPENAI_API_KEY", key)
    else:
        config_file(f"api_key = {json.dumps(key)}\n")
    run = run_cli(argv, tmp_path, monkeypatch)
    refused(run, "API key", "holds a character no API key has")
    secret_part = key[3:]
    assert secret_part not in run.stderr and secret_part not in run.stdout
    assert saved_sessions() == 0


# -- a JSON list with a lone surrogate ------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    ['{"url": "%s", "title": "bad \\ud800 title"}', '{"url": "%s", "note": "\\udfff"}',
     '"%s\\udc80"', '{"url": "%s", "tags": ["\\ud83d"]}'],
)  # fmt: skip
def test_a_json_entry_with_a_lone_surrogate_fails_alone(
    entry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = write_tone(tmp_path / "good.wav", seconds=1.0, freq=440)
    other = write_tone(tmp_path / "other.wav", seconds=1.0, freq=660)
    listing = tmp_path / "talks.json"
    listing.write_text(f'["{good}", {entry % other}]', encoding="ascii")

    dry = run_cli(["--dry-run", str(listing)], tmp_path, monkeypatch)
    assert dry.code == 1, dry.stdout
    assert_no_traceback(dry)
    assert "talks.json item 2:" in dry.stdout and "unpaired surrogate" in dry.stdout

    with OpenAIServer() as api:
        run = run_cli([str(listing), "--headless", "--asr", "openai", "--api-base", api.base_url,
                       "--api-key", API_KEY], tmp_path, monkeypatch)  # fmt: skip
    assert_no_traceback(run)
    assert run.code == 1
    assert run.manifest["counts"] == {"done": 1, "failed": 1}
    assert "unpaired surrogate" in " ".join(run.stderr.split())
    with Store.open() as store:
        (info,) = store.sessions()
        assert info.total == 2


# -- file names that are not UTF-8 ----------------------------------------------------------------


@pytest.mark.parametrize("name", [b"caf\xe9.wav", b"\xff\xfe.wav", b"mixed \xc3\xa9 and \xe9.wav"])
def test_a_file_name_that_is_not_utf8_is_transcribed_and_reported(
    name: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Such names reach Python as lone surrogates; SQLite and the reports refused them."""
    folder = tmp_path / "media"
    folder.mkdir()
    odd = write_tone(Path(os.fsdecode(os.fsencode(folder) + b"/" + name)), seconds=1.0, freq=440)
    write_tone(folder / "plain.wav", seconds=1.0, freq=660)
    with OpenAIServer() as api:
        run = run_cli([str(odd), str(folder), "--headless", "--asr", "openai", "--api-base",
                       api.base_url, "--api-key", API_KEY], tmp_path, monkeypatch)  # fmt: skip
    assert_no_traceback(run)
    assert run.code == 0, run.stderr
    assert run.manifest["counts"] == {"done": 2}  # the folder's copy is the same file
    shown_names = [item["source"] for item in run.items]
    assert any("\ufffd" in source for source in shown_names), shown_names


def test_the_store_keeps_the_exact_bytes_of_such_a_path(tmp_path: Path) -> None:
    from engine.items import Item

    location = os.fsdecode(b"/tmp/caf\xe9.wav")
    with Store.open() as store:
        session = store.create_session(name="odd", inputs=[location], settings={},
                                       output_dir=str(tmp_path))  # fmt: skip
        store.save_items(session, [Item(0, source=location, location=location)])
        (again,) = store.load_items(session)
        (info,) = store.sessions()
    assert again.location == location  # opens the same file on resume
    assert again.source == "/tmp/caf\ufffd.wav"  # and people see where the bad byte was
    assert list(info.inputs) == [location]
