"""Global progress: the bar, counts by state, throughput, ETA, and each service's requests against its limit."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Sparkline, Static

from engine.board import Stats
from engine.items import GLYPH, State
from tui.format import hms, shared_quota_text

_ORDER = (
    State.DONE,
    State.FAILED,
    State.RUNNING,
    State.WAITING,
    State.QUEUED,
    State.SKIPPED,
    State.CANCELLED,
)
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

    def show(self, stats: Stats) -> None:
        bar = self.query_one("#progress-bar", ProgressBar)
        bar.update(total=max(1, stats.total), progress=stats.finished)
        counts = Text()
        # Most telling first: a narrow terminal cuts the end of this line.
        counts.append(f"{stats.finished}/{stats.total}  ", style="bold")
        counts.append(f"{stats.items_per_min:.1f}/min  ")
        counts.append(
            f"ETA {hms(stats.eta)}  " if stats.eta is not None and stats.total else "ETA --  "
        )
        for state in _ORDER:
            n = stats.count(state)
            if n or state in (State.DONE, State.FAILED, State.RUNNING, State.QUEUED):
                counts.append(f"{GLYPH[state]} {n} {state.value}  ", style=_rich(state, self))
        counts.append(f"elapsed {hms(stats.elapsed)}", style="dim")
        rates = rates_text(stats)
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


def rates_text(stats: Stats) -> Text:
    text = Text()
    # The transcription API's rate state leads: it explains a slow batch, and the end of the line
    # is what a narrow terminal cuts.
    asr = next((s for s in stats.services if s.service != "media"), None)
    if asr is not None:
        text.append(f"{asr.rate_state}  ", style="" if asr.rate_state == "paced" else "yellow")
    engine = stats.engine
    mode = "on" if engine.parallel else "off"
    paused = "  PAUSED" if engine.paused else ""
    text.append(
        f"workers {engine.workers} (parallel {mode}){paused}  ", style="bold" if paused else ""
    )
    # The transcription API first: it is the limit people watch; idle media hosts last and short.
    services = [
        s
        for s in sorted(stats.services, key=lambda s: (s.service == "media", s.service))
        if not (s.service == "media" and s.granted == 0)
    ]
    if services:
        # The transcription API's mode (it sorts first); a media host's limit is always shared.
        text.append(f"{services[0].mode} · ")
    for service in services:
        if service.quota_note:
            # Why nothing is admitted goes first: the rest of the line may be cut at 80 columns.
            text.append(f"{service.quota_note}  ", style="bold yellow")
        if service.mode == "independent":
            # Each worker's (or key's) pool has the whole limit; the count is everyone's together.
            text.append(
                f"{service.service} {service.last_minute}/min ({service.limit_per_min:g}/min each)"
            )
        else:
            text.append(f"{service.service} {service.last_minute}/{service.limit_per_min:g}/min")
        if service.factor < 1:
            text.append(f" slowed→{service.effective_per_min:.0f}", style="yellow")
        if service.paused_for > 0:
            text.append(f" 429 pause {service.paused_for:.0f}s", style="yellow")
        if service.waiting:
            text.append(f" ⏳{service.waiting}")
        if service.shared_with is not None:
            text.append(f" · {shared_quota_text(service)}")
        text.append("  ")
    return text


def _rich(state: State, widget: ProgressPanel) -> str:
    variable = _STYLE.get(state)
    if variable is None:
        return "dim"
    if variable.startswith("$"):
        colors = widget.app.theme_variables
        return colors.get(variable[1:], "")
    return variable
