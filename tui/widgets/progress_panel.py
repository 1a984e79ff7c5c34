"""Global progress: the bar, counts by state, throughput, ETA, and each service's requests against its limit."""

from __future__ import annotations

import math
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Sparkline, Static

from engine.board import Stats
from engine.items import GLYPH, State
from engine.limits.stats import LimiterStats
from tui.format import hms, shared_quota_text
from tui.widgets.status_line import KEEP, Part, fit_parts

_ORDER = (
    State.DONE,
    State.FAILED,
    State.RUNNING,
    State.WAITING,
    State.QUEUED,
    State.SKIPPED,
    State.CANCELLED,
)
_FINISHED = (State.DONE, State.FAILED, State.SKIPPED, State.CANCELLED)
_STYLE = {
    State.DONE: "$success",
    State.FAILED: "$error",
    State.RUNNING: "bold",
    State.WAITING: "$warning",
}


class ProgressPanel(Vertical):
    """Top of the screen: how far along, how fast, and how close to each rate limit."""

    DEFAULT_CSS = """
    ProgressPanel { height: auto; padding: 0 1; background: $boost; }
    ProgressPanel Horizontal { height: 1; }
    ProgressPanel ProgressBar { width: 1fr; }
    ProgressPanel ProgressBar Bar { width: 1fr; }
    ProgressPanel #progress-counts { width: 1fr; height: 1; }
    ProgressPanel #progress-rates { width: 1fr; height: 1; }
    ProgressPanel Sparkline { width: 24; height: 1; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield ProgressBar(total=None, show_eta=False, id="progress-bar")
        with Horizontal():
            yield Static(id="progress-counts")
        with Horizontal():
            yield Static(id="progress-rates")
            yield Sparkline([0], id="throughput")

    _shown: tuple[Text, Text, tuple[int, ...]] | None = None
    _stats: Stats | None = None
    _frozen_eta: float | None = None
    _was_paused = False

    def on_resize(self) -> None:
        if self._stats is not None:
            self.show(self._stats)

    def _line_width(self, widget_id: str) -> int:
        width = self.query_one(widget_id, Static).content_region.width
        return width if width > 0 else max(1, self.app.size.width - 2)

    def show(self, stats: Stats) -> None:
        self._stats = stats
        bar = self.query_one("#progress-bar", ProgressBar)
        bar.update(total=max(1, stats.total), progress=stats.finished)
        if not stats.engine.paused or not self._was_paused:
            # While paused nothing finishes and the estimate would climb each second: it is
            # frozen at the pause and says so.
            self._frozen_eta = stats.eta
        self._was_paused = stats.engine.paused
        counts = fit_parts(
            counts_parts(stats, self._frozen_eta, self._state_style),
            self._line_width("#progress-counts"),
        )
        rates = fit_parts(engine_parts(stats), self._line_width("#progress-rates"))
        shown = self._shown or (Text(), Text(), ())
        self._shown = (counts, rates, stats.throughput)
        # One line each at a fixed height: a new text needs a repaint, never a new layout of the
        # screen (which ten times a second would hold up keys).
        if counts != shown[0]:
            self.query_one("#progress-counts", Static).update(counts, layout=False)
        if rates != shown[1]:
            self.query_one("#progress-rates", Static).update(rates, layout=False)
        if stats.throughput and stats.throughput != shown[2]:
            self.query_one("#throughput", Sparkline).data = list(stats.throughput)

    def _state_style(self, state: State) -> str:
        return _rich(state, self)


def counts_parts(
    stats: Stats, eta: float | None, style: Callable[[State], str] = lambda s: ""
) -> list[Part]:
    """The counts line, most telling first. Every count that is not zero stays (short if need be),
    so done + failed + cancelled + skipped always add up to the finished figure."""
    paused = stats.engine.paused
    parts = [Part(KEEP, f"{stats.finished}/{stats.total}", "bold")]
    parts.append(Part(3, f"{stats.items_per_min:.1f}/min"))
    if eta is not None and stats.total:
        parts.append(
            Part(
                2,
                f"ETA {hms(eta)} (paused)" if paused else f"ETA {hms(eta)}",
                short=f"ETA {hms(eta)}",
            )  # fmt: skip
        )
    else:
        parts.append(Part(1, "ETA --"))
    for state in _ORDER:
        n = stats.count(state)
        if state in _FINISHED:
            if not n and state not in (State.DONE, State.FAILED):
                continue
            priority = KEEP  # the finished counts add up to the figure at the start: all stay
        else:
            priority = 2 if n else 4
            if not n and state is State.WAITING:
                continue
        word = f"{GLYPH[state]} {n} {state.value}"
        parts.append(Part(priority, word, style(state), short=f"{GLYPH[state]}{n}"))
    parts.append(Part(5, f"elapsed {hms(stats.elapsed)}", "dim"))
    return parts


def engine_parts(stats: Stats) -> list[Part]:
    """The engine line: state first (paused, 429 pauses, slowed, waiting) and never cut, then
    workers and each service's requests against its limit."""
    engine = stats.engine
    parts: list[Part] = []
    if engine.paused:
        parts.append(Part(KEEP, "PAUSED", "bold reverse"))
    # The transcription API's rate state (paced, 429 pause 7s, learnt 50/10s, offline, quota
    # offline) explains a slow batch: it is never cut.
    asr = next((s for s in stats.services if s.service != "media"), None)
    if asr is not None:
        parts.append(Part(KEEP, asr.rate_state, "" if asr.rate_state == "paced" else "yellow"))
        if asr.quota_note:
            parts.append(Part(2, asr.quota_note, "bold yellow"))
    mode = "on" if engine.parallel else "off"
    parts.append(
        Part(
            2,
            f"workers {engine.workers} (parallel {mode})",
            short=f"{engine.workers} worker{'s' if engine.workers != 1 else ''}",
        )  # fmt: skip
    )
    # The transcription API first: it is the limit people watch; idle media hosts last and short.
    services = [
        s
        for s in sorted(stats.services, key=lambda s: (s.service == "media", s.service))
        if not (s.service == "media" and s.granted == 0)
    ]
    for n, service in enumerate(services):
        media = service.service == "media"
        usage, short = _usage(service)
        if n == 0:
            # The transcription API's mode (it sorts first); a media host's limit is always shared.
            usage = f"{service.mode} · {usage}"
        parts.append(Part(3 if media else 1, usage, short=short))
        if service.factor < 1:
            parts.append(Part(KEEP, f"slowed→{_effective(service)}", "yellow", gap=" "))
        if service.paused_for > 0 and not service.rate_state.startswith("429 pause"):
            pause = math.ceil(service.paused_for)  # never "pause 0s" while it still holds
            parts.append(Part(KEEP, f"429 pause {pause}s", "yellow", gap=" "))
        if service.waiting:
            parts.append(Part(KEEP, f"⏳{service.waiting}", gap=" "))
        if service.shared_with is not None:
            parts.append(Part(4, shared_quota_text(service), gap=" · "))
    return parts


def _usage(service: LimiterStats) -> tuple[str, str]:
    """Requests in the last minute against the limit, the limit as written (60/10s stays 60/10s)."""
    name, used, spec = service.service, service.last_minute, service.spec
    if service.mode == "independent":
        # Each worker's (or key's) pool has the whole limit; the count is everyone's together.
        return f"{name} {used}/min ({spec} each)", f"{name} {used}/min ({spec} each)"
    if _per_minute(spec) is not None:
        return f"{name} {used}/{spec}", f"{name} {used}/{spec}"
    return f"{name} {used}/min, limit {spec}", f"{name} {used}/min ≤{spec}"


def _per_minute(spec: str) -> str | None:
    """The count of a single per-minute rule ("300/min" -> "300"), else None."""
    count, _, period = spec.partition("/")
    return count if "," not in spec and period in ("min", "m", "1min", "1m") else None


def _effective(service: LimiterStats) -> str:
    if _per_minute(service.spec) is not None:
        return f"{service.effective_per_min:.0f}"
    return service.effective or f"{service.effective_per_min:.0f}/min"


def _rich(state: State, widget: ProgressPanel) -> str:
    variable = _STYLE.get(state)
    if variable is None:
        return "dim"
    if variable.startswith("$"):
        colors = widget.app.theme_variables
        return colors.get(variable[1:], "")
    return variable
