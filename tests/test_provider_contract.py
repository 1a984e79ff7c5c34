"""Every ASR engine meets the one contract in engine/providers/base.py: what the pipeline and the
batch call on an engine is declared there, and each engine takes the same send options."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable

import pytest

from engine.errors import ProviderError
from engine.providers.base import Chunk, SendOptions, Transcriber, Transcript, takes_url
from engine.providers.deapi import DeapiTranscriber
from engine.providers.openai import OpenAITranscriber
from engine.providers.sphinx import SphinxTranscriber
from engine.providers.whisper import WhisperTranscriber

ENGINES = [OpenAITranscriber, DeapiTranscriber, WhisperTranscriber, SphinxTranscriber]
# What callers reach on an engine: the pipeline, the batch, the service-job hooks.
USED = (
    "name",
    "service",
    "max_upload_bytes",
    "submits_jobs",
    "day_quota",
    "processes",
    "on_reply",
    "on_event",
    "on_balance",
    "transcribe",
    "accepts_url",
    "transcribe_url",
    "resize",
    "abort",
    "close",
)


def _options(method: Callable[..., object]) -> inspect.Parameter:
    (options,) = [
        p for p in inspect.signature(method).parameters.values() if p.kind is p.VAR_KEYWORD
    ]
    return options


@pytest.mark.parametrize("engine", ENGINES, ids=lambda cls: cls.__name__)
def test_each_engine_is_a_transcriber_with_the_whole_contract(engine: type[Transcriber]) -> None:
    assert issubclass(engine, Transcriber)
    assert not inspect.isabstract(engine)
    assert engine.name and engine.name == engine.name.lower()
    for attribute in USED:
        assert hasattr(engine, attribute), attribute
    for method in ("transcribe", "transcribe_url"):
        signature = inspect.signature(getattr(engine, method))
        first = "url" if method == "transcribe_url" else "chunk"
        assert list(signature.parameters)[:3] == ["self", first, "language"]
        assert signature.parameters["language"].default is None
        # The send options, typed once in base.py: an engine takes them all and uses what it needs.
        assert _options(getattr(engine, method)).annotation == "Unpack[SendOptions]"


def test_the_send_options_are_the_ones_the_pipeline_passes() -> None:
    assert set(typing.get_type_hints(SendOptions)) == {
        "key_index",
        "before_send",
        "cancel",
        "on_progress",
        "resume_id",
        "on_submitted",
        "sleep",
    }
    assert SendOptions.__required_keys__ == frozenset()


class Minimal(Transcriber):
    """An engine that states only its name and how it transcribes."""

    name = "minimal"

    def transcribe(
        self, chunk: Chunk, language: str | None = None, **options: object
    ) -> Transcript:
        return Transcript(())


def test_an_engine_that_states_only_transcribe_gets_the_defaults() -> None:
    engine = Minimal()
    assert (engine.service, engine.max_upload_bytes, engine.submits_jobs) == (None, None, False)
    assert (engine.day_quota, engine.processes) == (None, 1)
    assert not engine.accepts_url("https://www.youtube.com/watch?v=x")
    assert not takes_url(engine, "https://www.youtube.com/watch?v=x")
    with pytest.raises(ProviderError, match="minimal cannot fetch"):
        engine.transcribe_url("https://www.youtube.com/watch?v=x")
    engine.resize(4)
    engine.abort()
    engine.close()


def test_the_contract_cannot_be_met_without_transcribe() -> None:
    class Nothing(Transcriber):
        name = "nothing"

    assert inspect.isabstract(Nothing)
    make: Callable[[], object] = Nothing
    with pytest.raises(TypeError, match="abstract"):
        make()
