"""A status line made of parts, cut by priority to fit a width: state first and never cut.

Each line (the counts, the engine line) is a list of `Part`s in reading order. When the line is too
wide, the least important parts are first shortened, then dropped; priority 0 parts always stay, so
a narrow terminal still shows PAUSED, a 429 pause or a waiting count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from rich.cells import cell_len
from rich.text import Text

KEEP = 0  # never cut: the state a person must not miss
GAP = "  "


@dataclass(frozen=True)
class Part:
    priority: int  # 0 never cut; higher numbers are cut first
    text: str
    style: str = ""
    short: str | None = None  # a shorter form, tried before the part is dropped
    gap: str = GAP  # what separates it from the part before


def fit_parts(parts: Sequence[Part], width: int) -> Text:
    """The parts that fit ``width`` cells, in their order, as one Text."""
    chosen = list(parts)
    levels = sorted({p.priority for p in chosen if p.priority != KEEP}, reverse=True)
    for level in levels:
        if _width(chosen) <= width:
            break
        # Shorten this level's parts from the end of the line, then drop them from the end.
        for i in reversed(range(len(chosen))):
            part = chosen[i]
            if part.priority == level and part.short is not None and _width(chosen) > width:
                chosen[i] = replace(part, text=part.short, short=None)
        for i in reversed(range(len(chosen))):
            if chosen[i].priority == level and _width(chosen) > width:
                del chosen[i]
    # Still too wide: the parts that are never cut take their short forms.
    for i, part in enumerate(chosen):
        if part.short is not None and _width(chosen) > width:
            chosen[i] = replace(part, text=part.short, short=None)
    text = Text(no_wrap=True, overflow="crop")
    for i, part in enumerate(chosen):
        if i:
            text.append(part.gap)
        text.append(part.text, style=part.style)
    return text


def _width(parts: Sequence[Part]) -> int:
    return sum(cell_len(p.text) for p in parts) + sum(cell_len(p.gap) for p in parts[1:])
