"""faster-whisper is an optional extra: without it the user is told exactly how to install it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from engine.errors import ProviderError
from engine.providers import whisper
from engine.providers.whisper import WhisperTranscriber, whisper_available

missing = pytest.mark.skipif(
    importlib.util.find_spec("faster_whisper") is not None, reason="faster-whisper is installed"
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
        whisper._locate(str(tmp_path), download=False)
    assert "--whisper-model" in caught.value.hint


def test_offline_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BULKSCRIBE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    assert whisper.offline_requested() is False
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert whisper.offline_requested() is True
