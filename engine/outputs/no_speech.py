"""Recordings with nothing said in them: how to tell, and the note written instead of empty files."""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.outputs.document import TranscriptDoc
from engine.outputs.markdown import dump_frontmatter, frontmatter, heading
from engine.segments import Segment

NO_SPEECH = "no speech found"
# Sound tags that engines and captions print in place of speech: "[Music]", "(silence)",
# whisper.cpp's "[BLANK_AUDIO]", "♪♪". A transcript made of these and punctuation has no words.
_SOUND_TAG = re.compile(r"\[[^\]]{0,40}\]|\([^)]{0,40}\)|[♪♫]+")
_WORD = re.compile(r"\w")


def has_speech(segments: Sequence[Segment]) -> bool:
    """True when at least one segment holds a word once sound tags are taken out."""
    return any(_WORD.search(_SOUND_TAG.sub(" ", segment.text or "")) for segment in segments)


def render_no_speech(doc: TranscriptDoc) -> str:
    """A Markdown note with the item's properties that says plainly nothing was heard."""
    fields = {**frontmatter(doc), "outcome": NO_SPEECH}
    title = heading(doc.title) or heading(doc.source) or "Untitled"
    how = f" by {doc.engine}" if doc.engine else ""
    body = (
        f"# {title}\n\nNo speech was found in this recording{how}: it may be silent, music only, "
        "or in a language the engine does not recognise. No transcript files were written."
    )
    return f"---\n{dump_frontmatter(fields)}---\n\n{body}\n"
