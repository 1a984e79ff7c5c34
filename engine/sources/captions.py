"""Caption file parsers (YouTube json3, WebVTT, SRT) and removal of rolling auto-caption repeats."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence

from engine.errors import MediaError
from engine.segments import Segment

_TIMING = re.compile(
    r"(?P<start>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*(?P<end>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})"
)
_TAG = re.compile(r"<[^>]*>")
_ASS_OVERRIDE = re.compile(r"\{\\[^}]*\}")  # {\an8} positioning codes some SRT files carry
_SPACE = re.compile(r"\s+")
_TRANSITION_SECONDS = 0.05  # YouTube's line-hold cues last 10 ms


def parse_json3(data: str | bytes) -> list[Segment]:
    """Segments from YouTube's json3 captions; window and newline-only events are skipped."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise MediaError(f"caption file is not valid json3: {exc}") from exc
    events = doc.get("events") if isinstance(doc, dict) else None
    if not isinstance(events, list):
        raise MediaError("caption file is not valid json3: no events list")
    out: list[Segment] = []
    for event in events:
        segs = event.get("segs") if isinstance(event, dict) else None
        if not segs or "tStartMs" not in event:
            continue  # window definitions and style events carry no text
        text = _clean("".join(str(s.get("utf8", "")) for s in segs if isinstance(s, dict)))
        if not text:
            continue  # aAppend events that only add a line break
        start = event["tStartMs"] / 1000
        end = start + event.get("dDurationMs", 0) / 1000
        out.append(Segment(start, end, text))
    return out


def parse_vtt(text: str) -> list[Segment]:
    """Segments from WebVTT, including YouTube auto-caption markup (<c>, inline timestamps)."""
    lines = _normalise_newlines(text).split("\n")
    if not lines[0].startswith("WEBVTT"):
        raise MediaError("caption file is not WebVTT (no WEBVTT header)")
    # Lines stay unstripped: YouTube's auto captions start cues with a line holding one space,
    # which is text, not the empty line that ends a cue.
    return _scan(lines)


def parse_srt(text: str) -> list[Segment]:
    """Segments from SubRip; tolerates missing counters, dots for commas and {\\an8} codes."""
    lines = [_ASS_OVERRIDE.sub("", line).strip() for line in _normalise_newlines(text).split("\n")]
    return _scan(lines)


def dedupe_rolling(segments: Sequence[Segment]) -> list[Segment]:
    """Drop text that auto captions repeat while lines roll up, so each spoken word appears once.

    A rolling track shows the previous line again above each new one, plus near-zero
    "transition" cues holding the finished line. Because one shared word at a boundary can
    be real speech ("... said no" / "no way"), repeats are only trimmed when the track rolls
    as a whole; elsewhere only near-zero cues that repeat kept text are dropped. Times come
    out monotonic: each kept segment ends no later than the next one starts.
    """
    words = [seg.text.split() for seg in segments]
    pairs = list(zip(words, words[1:], strict=False))
    rolling = bool(pairs) and 2 * sum(_overlap(a, b) > 0 for a, b in pairs) >= len(pairs)
    kept: list[Segment] = []
    said: list[str] = []
    added: list[str] = []  # the words the last kept segment contributed: the line now rolling up
    for seg, cue in zip(segments, words, strict=True):
        if not cue:
            continue
        if rolling:
            shared = _rolled_over(said, added, cue)
        else:
            is_echo = _overlap(said[-len(cue) :], cue) == len(cue)
            shared = len(cue) if is_echo and seg.end - seg.start < _TRANSITION_SECONDS else 0
        if shared == len(cue):
            continue  # nothing new: a transition cue or a rolled-up line
        added = cue[shared:]
        said.extend(added)
        start = max(seg.start, kept[-1].start if kept else seg.start)
        if kept and kept[-1].end > start:
            kept[-1] = Segment(kept[-1].start, start, kept[-1].text)
        kept.append(Segment(start, max(seg.end, start), " ".join(added)))
    return kept


def _rolled_over(said: list[str], added: list[str], cue: list[str]) -> int:
    """How many leading words of a rolling cue were already said."""
    if added and _folded(cue[: len(added)]) == _folded(added):
        return len(added)  # the usual shape: last line on top, new words below
    shared = _overlap(said[-len(cue) :], cue)
    # A single shared word after an irregular cue is more likely speech than repetition.
    return shared if shared >= 2 or shared == len(cue) else 0


def _folded(words: Sequence[str]) -> list[str]:
    return [w.casefold() for w in words]


def _overlap(before: Sequence[str], after: Sequence[str]) -> int:
    """Length of the longest tail of ``before`` that is also a head of ``after``."""
    folded_before, folded_after = _folded(before), _folded(after)
    for size in range(min(len(before), len(after)), 0, -1):
        if folded_before[-size:] == folded_after[:size]:
            return size
    return 0


def _scan(lines: list[str]) -> list[Segment]:
    """Cues from caption lines: a timing line, then text up to an empty line or the next timing.

    Scanning by timing lines rather than splitting on blank lines also skips headers,
    NOTE/STYLE/REGION blocks and cue identifiers, which never follow a timing line directly.
    """
    out: list[Segment] = []
    for index, line in enumerate(lines):
        match = _TIMING.search(line)
        if not match:
            continue
        body: list[str] = []
        for following in lines[index + 1 :]:
            if following == "" or _TIMING.search(following):
                break
            body.append(following)
        text = _clean(" ".join(body))
        if text:
            start, end = _seconds(match["start"]), _seconds(match["end"])
            out.append(Segment(start, max(start, end), text))
    # Cue order in a file is display order; a stable sort only fixes files written out of order.
    return sorted(out, key=lambda seg: seg.start)


def _seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return round(seconds, 3)


def _clean(text: str) -> str:
    """Caption text without markup, entities or line breaks."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", text))).strip()


def _normalise_newlines(text: str) -> str:
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
