"""Which response_format each transcription model takes, and its reply read into timed segments.

OpenAI API reference, createTranscription ``response_format``: "For gpt-4o-transcribe and
gpt-4o-mini-transcribe, the only supported format is json." Asked for verbose_json they answer 400
``{"message": "response_format 'verbose_json' is not compatible with model 'gpt-4o-transcribe'. Use
'json' or 'text' instead.", "type": "invalid_request_error", "param": "response_format", "code":
"unsupported_value"}`` (openai/openai-dotnet#401, vercel/ai#8214). ``timestamp_granularities[]``:
"response_format must be set verbose_json to use timestamp granularities. Either or both of these
options are supported: word, or segment"; word timings come back in a top-level ``words`` list.
Groq serves whisper-large-v3, whisper-large-v3-turbo and distil-whisper-large-v3-en with the same
verbose_json (console.groq.com/docs/speech-to-text).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, SupportsFloat, SupportsIndex

from engine.langcodes import language_code
from engine.providers.base import Transcript
from engine.segments import Segment, Word

FORMATS = ("auto", "verbose_json", "json", "text")
# Transcript.extra["timing"] when the service gave text only: one segment spans the whole chunk.
APPROXIMATE = "approximate"


def format_for(model: str) -> str:
    """The response_format to ask ``model`` for: json for the gpt-4o transcribe family, else verbose."""
    name = model.lower().rsplit("/", 1)[-1]
    if name.startswith(("gpt-4o", "gpt-transcribe")) and "transcribe" in name:
        return "json"
    return "verbose_json"


def wants_words(model: str) -> bool:
    """Whisper models give word timings on request (OpenAI's whisper-1 and Groq's whisper models)."""
    name = model.lower().rsplit("/", 1)[-1]
    return name.startswith(("whisper", "distil-whisper"))


def names_response_format(error: Mapping[str, object]) -> bool:
    """Whether an OpenAI-style 400 error object is about response_format."""
    return error.get("param") == "response_format" or "response_format" in str(
        error.get("message", "")
    )


def parse_transcript(body: Mapping[str, Any], chunk_seconds: float) -> Transcript:
    """Segments (with words when sent) and a language code from a json or verbose_json reply.

    With text only, the one segment spans the chunk and the transcript says its timing is
    approximate: never an invented finer timeline.
    """
    language = language_code(body.get("language") if isinstance(body, Mapping) else None)
    words = _words(body.get("words"))
    raw = body.get("segments")
    segments: list[Segment] = []
    if isinstance(raw, list):
        for item in raw:
            if not isinstance(item, Mapping):
                continue
            start, end = _seconds(item.get("start")), _seconds(item.get("end"))
            if start is None or end is None:
                continue
            segments.append(Segment(start, max(start, end), str(item.get("text", "")).strip()))
    if segments:
        return Transcript(tuple(_attach(segments, words)), language)
    text = str(body.get("text", "") or "").strip()
    if not text:
        return Transcript((), language)
    if words:
        # Word timings without segments still place the text truly.
        return Transcript((Segment(words[0].start, words[-1].end, text, tuple(words)),), language)
    segment = Segment(0.0, max(0.0, chunk_seconds), text)
    return Transcript((segment,), language, {"timing": APPROXIMATE})


def _words(raw: object) -> list[Word]:
    if not isinstance(raw, list):
        return []
    words = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        start, end = _seconds(item.get("start")), _seconds(item.get("end"))
        text = str(item.get("word", item.get("text", ""))).strip()
        if start is None or end is None or not text:
            continue
        words.append(Word(start, max(start, end), text))
    words.sort(key=lambda w: w.start)
    return words


def _attach(segments: list[Segment], words: list[Word]) -> list[Segment]:
    """Give each segment the words whose middle falls in it (the last one takes any beyond)."""
    if not words:
        return segments
    out = []
    index = 0
    for n, segment in enumerate(segments):
        last = n == len(segments) - 1
        mine = []
        while index < len(words) and (
            last or (words[index].start + words[index].end) / 2 < segment.end
        ):
            mine.append(words[index])
            index += 1
        out.append(Segment(segment.start, segment.end, segment.text, tuple(mine)))
    return out


def _seconds(value: object) -> float | None:
    if not isinstance(value, str | bytes | SupportsFloat | SupportsIndex):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None
