"""Every test gets its own config and data folders, so nothing reads or writes the user's real ones."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_folders(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("DEAPI_API_KEY", raising=False)


from tests.whisper_model import whisper_model_dir  # noqa: E402, F401 - the real-model fixture
