"""Where to cut long audio: the quietest moment near each nominal chunk boundary, from its energy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME = 160  # samples: 10 ms at 16 kHz
# Smoothing over ~200 ms makes a pause win over the short closures inside words ("t", "k").
SMOOTH_FRAMES = 20
# Frames this far below the loud speech nearby count as nobody speaking. Speech runs 40-60 dB over
# a quiet room; the soft ends of words are 10-20 dB under its peaks, so 25 dB leaves them speech.
PAUSE_DB = 25.0
MIN_PAUSE = 0.12  # seconds: a shorter gap is the closure of a stop consonant, not a pause
# Seconds of pause that end an utterance even beside a stretch of speech shorter than
# SHORT_STRETCH seconds (a word or two; see _breaks). A comma read quickly leaves 120-250 ms.
BREAK = 0.25
SHORT_STRETCH = 0.6
SILENT_POWER = 1.0  # mean square of int16 samples under -90 dBFS: digital silence
# Seconds of a long pause both chunks get. Each then holds the quiet a recogniser pads speech
# with (see speech_spans), so a stretch of speech reads the same chunked or not.
MAX_SHARED = 1.0
_BLOCK_FRAMES = 1000  # 10 s of audio converted to floats at a time
TIE_SHARE = 0.25  # envelope values this close to the minimum are equally quiet: take the nearest


@dataclass(frozen=True, slots=True)
class Cut:
    """A seam, in samples from the start of the analysed buffer.

    The earlier chunk ends at ``end``, the later one starts at ``start`` (``start <= end``:
    the shared audio). ``seam`` is where ownership passes; ``pause`` says whether the cut
    fell where nobody speaks (then the shared audio is silence).
    """

    start: int
    end: int
    seam: int
    pause: bool


def _frame_power(pcm: np.ndarray) -> np.ndarray:
    """Mean square of each whole 10 ms frame, in blocks so a long chunk needs no float copy."""
    frames = len(pcm) // FRAME
    power = np.empty(frames)
    for first in range(0, frames, _BLOCK_FRAMES):
        last = min(frames, first + _BLOCK_FRAMES)
        block = pcm[first * FRAME : last * FRAME].astype(np.float64).reshape(last - first, FRAME)
        power[first:last] = (block * block).mean(axis=1)
    return power


def _smooth(power: np.ndarray) -> np.ndarray:
    kernel = np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES
    return np.convolve(power, kernel, mode="same")


def find_cut(pcm: np.ndarray, lo: int, hi: int, nominal: int, lap: int, rate: int) -> Cut:
    """Choose the seam in ``pcm[lo:hi]`` (int16 mono) nearest ``nominal`` among the quietest.

    Where a pause exists there, the seam is its middle and the chunks share only silence.
    Otherwise the seam is the quietest moment and the chunks share ``lap`` samples around it,
    for the stitcher to reconcile. Positions fall on the 10 ms frame grid, so chunks keep the
    frame alignment of the whole recording (a recogniser's frames then line up in both).
    """
    cut = _choose(pcm, lo, hi, nominal, lap, rate)
    return Cut(
        cut.start - cut.start % FRAME,
        cut.end - cut.end % FRAME,
        cut.seam - cut.seam % FRAME,
        cut.pause,
    )


def _choose(pcm: np.ndarray, lo: int, hi: int, nominal: int, lap: int, rate: int) -> Cut:
    power = _frame_power(pcm)
    if len(power) == 0 or hi <= lo:
        return _overlap(nominal, lap, len(pcm))
    smooth = _smooth(power)
    first = max(0, lo // FRAME)
    last = min(len(power), -(-hi // FRAME))
    if last <= first:
        return _overlap(nominal, lap, len(pcm))
    window = smooth[first:last]
    reference = float(np.percentile(power, 95))
    lowest = float(window.min())
    tied = np.flatnonzero(window <= max(lowest * (1 + TIE_SHARE), lowest + reference * 1e-4))
    starts = (first + tied) * FRAME
    distance = np.maximum(0, np.maximum(starts - nominal, nominal - (starts + FRAME - 1)))
    best = int(first + tied[np.argmin(distance)])
    threshold = max(reference * 10 ** (-PAUSE_DB / 10), SILENT_POWER)
    run = _nearest_break(power, threshold, first, last, nominal // FRAME, rate)
    if run is not None:
        return _in_pause(run[0] * FRAME, run[1] * FRAME, lo, hi, rate)
    left, right = best, best + 1
    while left > 0 and power[left - 1] <= threshold:
        left -= 1
    while right < len(power) and power[right] <= threshold:
        right += 1
    if power[best] <= threshold and right - left >= round(MIN_PAUSE * rate / FRAME):
        return _in_pause(left * FRAME, right * FRAME, lo, hi, rate)
    # No pause: the nominal boundary if it is as quiet as anywhere, else the quiet frame's middle.
    span_start, span_end = best * FRAME, (best + 1) * FRAME
    seam = nominal if span_start <= nominal < span_end else span_start + FRAME // 2
    return _overlap(seam, lap, len(pcm))


def _breaks(loud: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Where utterances end, from the indices of loud frames: (first quiet, next loud) frames.

    Every pause of ``MIN_PAUSE`` ends one, except beside a stretch shorter than
    ``SHORT_STRETCH``, which joins its neighbour unless the pause lasts ``BREAK``: decoded
    alone, a word has no language-model context ("five, six, seven" came back "five
    strippers seven"). Decided from the two stretches beside each pause only, so a chunk
    cut in the pause sees the same.
    """
    gaps = np.flatnonzero(np.diff(loud) > round(MIN_PAUSE * rate / FRAME))
    first_loud = np.concatenate((loud[:1], loud[gaps + 1]))
    last_loud = np.concatenate((loud[gaps] + 1, loud[-1:] + 1))
    short = (last_loud - first_loud) < round(SHORT_STRETCH * rate / FRAME)
    long_gap = loud[gaps + 1] - loud[gaps] - 1 >= round(BREAK * rate / FRAME)
    kept = gaps[long_gap | ~(short[:-1] | short[1:])]
    return loud[kept] + 1, loud[kept + 1]


def _nearest_break(
    power: np.ndarray, threshold: float, first: int, last: int, nominal: int, rate: int
) -> tuple[int, int] | None:
    """The utterance break (see ``_breaks``) whose middle, kept inside the window of frames
    ``first:last``, is nearest ``nominal``, as a span of frames; None if the window has none."""
    loud = np.flatnonzero(power > threshold)
    if len(loud) < 2:
        return None
    starts, ends = _breaks(loud, rate)
    keep = (ends > first) & (starts < last)
    if not keep.any():
        return None
    starts, ends = starts[keep], ends[keep]
    middles = np.clip((starts + ends) // 2, first, last - 1)
    pick = int(np.argmin(np.abs(middles - nominal)))
    return int(starts[pick]), int(ends[pick])


def _in_pause(pause_start: int, pause_end: int, lo: int, hi: int, rate: int) -> Cut:
    seam = min(max((pause_start + pause_end) // 2, lo), hi)
    half = round(MAX_SHARED * rate) // 2
    start = max(pause_start, seam - half)
    end = min(pause_end, seam + half)
    return Cut(min(start, seam), max(end, seam), seam, pause=True)


def _overlap(seam: int, lap: int, length: int) -> Cut:
    start = max(0, seam - lap // 2)
    end = min(length, start + lap) if lap else seam
    return Cut(start, max(end, seam), seam, pause=False)


def speech_spans(
    pcm: np.ndarray, rate: int, pad: float = 0.15, longest: float = 30.0
) -> list[tuple[int, int]]:
    """Stretches of speech in ``pcm`` (int16 mono) as sample spans, split at pauses.

    A pause is at least ``MIN_PAUSE`` seconds quieter than ``PAUSE_DB`` under the loud
    speech (see ``_breaks`` for short stretches); each stretch keeps up to ``pad`` seconds, and at most half, of the quiet on
    either side (soft onsets such as "s" sit under the threshold). A stretch longer than
    ``longest`` is split at its quietest moment in its last third. Chunks are cut in such
    pauses and share the pause, so a stretch is the same whether or not it was chunked.
    """
    power = _frame_power(pcm)
    threshold = max(float(np.percentile(power, 95)) * 10 ** (-PAUSE_DB / 10), SILENT_POWER)
    loud = np.flatnonzero(power > threshold) if len(power) else np.array([], dtype=np.int64)
    if not len(loud):
        return []
    quiet_from, loud_again = _breaks(loud, rate)
    starts = [int(loud[0]), *(int(x) for x in loud_again)]
    ends = [*(int(x) for x in quiet_from), int(loud[-1]) + 1]
    padding = round(pad * rate / FRAME)
    spans = []
    for n, (start, end) in enumerate(zip(starts, ends, strict=True)):
        before = (start if n == 0 else start - ends[n - 1]) // 2
        after = (len(power) - end if n + 1 == len(ends) else starts[n + 1] - end) // 2
        first = (start - min(padding, before)) * FRAME
        last = (end + min(padding, after)) * FRAME
        spans += _bounded(pcm, first, last, round(longest * rate), rate)
    return spans


def _bounded(
    pcm: np.ndarray, start: int, end: int, longest: int, rate: int
) -> list[tuple[int, int]]:
    spans = []
    while end - start > longest:
        piece = pcm[start : start + longest]
        cut = find_cut(piece, longest * 2 // 3, longest, longest, 0, rate)
        spans.append((start, start + cut.seam))
        start += cut.seam
    spans.append((start, end))
    return spans
