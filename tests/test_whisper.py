"""faster-whisper is optional and its models are downloads: when either is missing, the user is told
what to do in one message, and ``--asr auto`` says which engine it picked and why."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.asr_choice import pick_engine
from engine.errors import ProviderError
from engine.providers import whisper, whisper_models
from engine.providers.whisper import WhisperTranscriber, language_code, whisper_available
from engine.settings import Settings
from tests.test_hostile_inputs import run_cli

INSTALLED = importlib.util.find_spec("faster_whisper") is not None
missing = pytest.mark.skipif(INSTALLED, reason="faster-whisper is installed")
installed = pytest.mark.skipif(
    not INSTALLED, reason="faster-whisper is not installed (uv sync --extra whisper)"
)


@missing
def test_missing_package_says_how_to_install_it() -> None:
    with pytest.raises(ProviderError) as caught:
        WhisperTranscriber(model="small")
    error = caught.value
    assert "faster-whisper is not installed" in error.message
    assert "uv sync --extra whisper" in error.user_text
    assert "bulkscribe[whisper]" in error.user_text
    assert error.transient is False


@missing
def test_auto_choice_sees_whisper_as_unavailable(tmp_path: Path) -> None:
    assert whisper_available("small") is False
    assert whisper_available(str(tmp_path)) is False


def test_folder_without_a_model_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="not a CTranslate2 Whisper model folder") as caught:
        whisper_models.locate(str(tmp_path), download=False)
    assert "--whisper-model" in caught.value.hint
    with pytest.raises(ProviderError, match="does not exist"):
        whisper_models.locate(str(tmp_path / "nowhere"), download=True)


def test_offline_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BULKSCRIBE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    assert whisper.offline_requested() is False
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert whisper.offline_requested() is True


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """faster-whisper's cache (huggingface_hub's) pointed at an empty folder."""
    pytest.importorskip("faster_whisper")
    import huggingface_hub.constants

    cache = tmp_path / "hub"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    for name in ("BULKSCRIBE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    return cache


@pytest.fixture
def silent_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Hub address that accepts connections and never answers: a firewall that drops replies."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr(whisper_models, "PROBE_TIMEOUT", 1.0)
    yield url
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


@installed
def test_an_unreachable_hub_is_one_clear_message_not_a_hang(
    empty_cache: Path, silent_hub: str
) -> None:
    engine = WhisperTranscriber("base", offline=False)
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        engine.check()
    assert time.monotonic() - started < 30  # bounded by the probe, not huggingface's retries
    error = caught.value
    assert error.transient is False
    assert "Whisper model 'base' is not available" in error.message
    assert "cannot be reached" in error.message
    # What to download, from where, and where to put it.
    assert f"{silent_hub}/Systran/faster-whisper-base" in error.hint
    assert "model.bin" in error.hint and "--whisper-model FOLDER" in error.hint


@installed
def test_offline_without_a_folder_stops_the_run_with_one_message(
    empty_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("ws", "tmp"):
        (tmp_path / name).mkdir()
    media = Path(__file__).resolve().parent.parent / "examples" / "hello.wav"
    argv = ["--headless", "--asr", "whisper", "--whisper-model", "base", str(media), "-o", "out"]
    code, stderr = run_cli(tmp_path, argv)
    assert code == 1
    assert "error: Whisper model 'base' is not available" in stderr
    assert "downloads are off" in stderr and "--whisper-model FOLDER" in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "ws" / "out").exists()  # nothing started, no empty folder left


@installed
def test_auto_without_a_key_or_a_model_picks_the_offline_engine_and_says_why(
    empty_cache: Path,
) -> None:
    choice = pick_engine(Settings(whisper_model="base"))
    assert choice.engine == "sphinx"
    assert "no API key" in choice.reason and "'base' is not downloaded" in choice.reason
    assert "--whisper-model FOLDER" in choice.reason


def test_auto_with_a_key_picks_the_api() -> None:
    choice = pick_engine(Settings(api_keys=("sk-test",), api_key_source="env:OPENAI_API_KEY"))
    assert (choice.engine, choice.reason) == ("openai", "an API key is set (env:OPENAI_API_KEY)")


def test_auto_without_the_extra_says_how_to_get_whisper(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "faster_whisper" else real(name, *a),
    )
    choice = pick_engine(Settings())
    assert choice.engine == "sphinx"
    assert "faster-whisper is not installed" in choice.reason
    assert "uv sync --extra whisper" in choice.reason


@installed
def test_language_tags_become_whisper_codes() -> None:
    assert [language_code(t) for t in ("en-US", "de_AT", "FR", None, "")] == [
        "en", "de", "fr", None, None,
    ]  # fmt: skip
    with pytest.raises(ProviderError, match="does not know the language 'klingon'"):
        language_code("klingon")
