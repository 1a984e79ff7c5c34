"""What chunking did to a transcript: words added, lost and repeated near seams, timeline faults.

A chunked run is compared with an unchunked run of the same engine on the same audio, so the
engine's own mistakes cancel out and what remains is what cutting and stitching did.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from engine.providers.base import Chunk
from engine.segments import Segment

_PUNCT = re.compile(r"[^\w']+")
NEAR = 3.0  # seconds either side of a seam that count as "at the seam"
PHRASE = 3  # words in a phrase that must not appear twice at a seam
PHRASE_WINDOW = 6.0  # seconds either side of a seam searched for a repeated phrase


@dataclass(frozen=True, slots=True)
class SeamReport:
    seams: int
    added: int  # words near a seam in the chunked transcript only
    lost: int  # words near a seam in the unchunked transcript only
    substituted: int  # words near a seam heard differently by the two runs
    added_elsewhere: int
    lost_elsewhere: int
    words: int  # words in the unchunked transcript
    repeated: tuple[str, ...] = field(default=())  # phrases said once but written twice at a seam
    max_shift: float = 0.0  # largest time difference of a word both runs agree on, seconds
    timeline_faults: tuple[str, ...] = field(default=())

    @property
    def added_per_seam(self) -> float:
        return self.added / self.seams if self.seams else 0.0

    @property
    def lost_per_seam(self) -> float:
        return self.lost / self.seams if self.seams else 0.0


def seam_times(chunks: Sequence[Chunk]) -> list[float]:
    """Where one chunk hands over to the next: the middle of their shared audio."""
    return [(prev.end + cur.start) / 2 for prev, cur in zip(chunks, chunks[1:], strict=False)]


def timed_words(segments: Sequence[Segment]) -> list[tuple[str, float]]:
    """(normalised word, midpoint) for every written word; untimed words spread over their segment."""
    result: list[tuple[str, float]] = []
    for seg in segments:
        parts = [p for p in (_PUNCT.sub("", t.lower()) for t in seg.text.split()) if p]
        if seg.words and len(seg.words) == len(parts):
            result += [(p, (w.start + w.end) / 2) for p, w in zip(parts, seg.words, strict=True)]
            continue
        for n, part in enumerate(parts):
            result.append((part, seg.start + (seg.end - seg.start) * (n + 0.5) / len(parts)))
    return result


def timeline_faults(segments: Sequence[Segment], duration: float) -> list[str]:
    """Broken timeline rules: starts not strictly increasing, empty or inverted, past the end."""
    faults = []
    for n, seg in enumerate(segments):
        if not 0.0 <= seg.start < seg.end <= duration + 1e-6:
            faults.append(f"segment {n} [{seg.start}, {seg.end}] outside (0, {duration}]")
        if n and seg.start <= segments[n - 1].start:
            faults.append(f"segment {n} starts at {seg.start}, not after {segments[n - 1].start}")
        if n and seg.start < segments[n - 1].end - 1e-6:
            faults.append(f"segment {n} starts before segment {n - 1} ends")
    return faults


def _near(t: float, seams: Sequence[float], reach: float) -> float | None:
    close = [s for s in seams if abs(t - s) <= reach]
    return close[0] if close else None


def _repeats(
    ref: list[tuple[str, float]], out: list[tuple[str, float]], seams: Sequence[float]
) -> list[str]:
    found = []
    for seam in seams:
        counts = []
        for words in (ref, out):
            near = [w for w, t in words if abs(t - seam) <= PHRASE_WINDOW]
            grams = zip(*(near[k:] for k in range(PHRASE)), strict=False)
            counts.append(Counter(" ".join(g) for g in grams))
        found += [g for g, n in counts[1].items() if n >= 2 and n > counts[0][g]]
    return found


def compare(
    reference: Sequence[Segment],
    chunked: Sequence[Segment],
    chunks: Sequence[Chunk],
    duration: float,
) -> SeamReport:
    """How the chunked transcript differs from the unchunked one, seam by seam."""
    seams = seam_times(chunks)
    ref, out = timed_words(reference), timed_words(chunked)
    near = Counter[str]()
    far = Counter[str]()
    shift = 0.0
    matcher = SequenceMatcher(None, [w for w, _ in ref], [w for w, _ in out], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            shift = max([shift, *(abs(ref[i1 + k][1] - out[j1 + k][1]) for k in range(i2 - i1))])
            continue
        common = min(i2 - i1, j2 - j1)
        events = [("substituted", out[j1 + k][1]) for k in range(common)]
        events += [("added", out[j][1]) for j in range(j1 + common, j2)]
        events += [("lost", ref[i][1]) for i in range(i1 + common, i2)]
        for kind, t in events:
            (near if _near(t, seams, NEAR) is not None else far)[kind] += 1
    return SeamReport(
        seams=len(seams),
        added=near["added"],
        lost=near["lost"],
        substituted=near["substituted"],
        added_elsewhere=far["added"],
        lost_elsewhere=far["lost"],
        words=len(ref),
        repeated=tuple(_repeats(ref, out, seams)),
        max_shift=round(shift, 3),
        timeline_faults=tuple(timeline_faults(chunked, duration)),
    )
