"""Which ASR engine a run uses, and why: ``--asr auto`` turned into one engine and a sentence."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from engine.errors import ProviderError, UsageError
from engine.providers.base import Transcriber
from engine.settings import Settings


@dataclass(frozen=True, slots=True)
class AsrChoice:
    """The engine picked for a run and the reason, as told to the user at start."""

    engine: str
    reason: str


def pick_engine(settings: Settings) -> AsrChoice:
    """``auto``: the API when a key is set, else Whisper when installed with a model on disk,
    else the offline engine (pocketsphinx), which needs no download."""
    if settings.asr != "auto":
        return AsrChoice(settings.asr, "chosen with --asr")
    if settings.api_keys:
        return AsrChoice("openai", f"an API key is set ({settings.api_key_source or 'given'})")
    if importlib.util.find_spec("faster_whisper") is None:
        return AsrChoice(
            "sphinx",
            "no API key, and faster-whisper is not installed "
            "(uv sync --extra whisper for better transcripts)",
        )
    from engine.providers.whisper_models import locate_local

    model = settings.whisper_model
    try:
        found = locate_local(model)
    except ProviderError as exc:
        return AsrChoice("sphinx", f"no API key, and the Whisper model is unusable: {exc.message}")
    if found is None:
        return AsrChoice(
            "sphinx",
            f"no API key, and Whisper model {model!r} is not downloaded yet "
            f"(--asr whisper fetches it once, or --whisper-model FOLDER)",
        )
    where = "folder" if found.how == "folder" else "faster-whisper's cache"
    return AsrChoice("whisper", f"no API key; Whisper model {model!r} found in {where}")


def build_transcriber(settings: Settings, engine: str) -> Transcriber:
    if engine == "openai":
        from engine.providers.openai import OpenAITranscriber

        return OpenAITranscriber(
            settings.api_base,
            settings.api_keys,
            model=settings.model,
            response_format=settings.response_format,
        )
    if engine == "whisper":
        from engine.providers.whisper import WhisperTranscriber

        whisper = WhisperTranscriber(settings.whisper_model)
        whisper.check()  # a missing model is one message now, not a failure on every item
        return whisper
    if engine == "deapi":
        from engine.providers.deapi_plan import deapi_transcriber

        return deapi_transcriber(settings)
    if engine == "sphinx":
        from engine.providers.sphinx import SphinxTranscriber

        return SphinxTranscriber()
    raise UsageError(f"unknown ASR engine {engine!r}")
