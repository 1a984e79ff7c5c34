"""Everything known about one item: metadata, stage timings, chunk progress, latest lines, outputs, error."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.items import Item, State
from tui.format import hms, state_text

_META_KEYS = ("channel", "artist", "upload_date", "url", "view_count", "playlist", "extractor")
_HINTS = {
    "auth": "Check the API key (OPENAI_API_KEY or --api-key), then press r to retry.",
    "rate-limited": "The service kept refusing; lower the rate limit (command palette: Set rate limit), then r.",
    "network": "A network problem; press r to retry when the connection is back.",
    "provider": "The transcription service failed; press r to retry, or switch engine with --asr.",
    "media": "The file could not be decoded: check it plays, or convert it, then r.",
    "input": "Fix the input (path, URL or spreadsheet row) and add it again with a.",
    "source": "The site refused; --cookies FILE may help for private or age-restricted videos.",
    "output": "Free disk space or fix the output folder's permissions, then r.",
    "too-large": "Lower --chunk-seconds so each upload fits the service's size limit.",
    "internal": "An unexpected error; it is recorded in the session. Press r to retry.",
}


class ItemDetail(VerticalScroll, can_focus=True):
    """Detail of the selected item (or the most recently started one)."""

    DEFAULT_CSS = """
    ItemDetail { padding: 0 1; }
    ItemDetail > Static { width: 1fr; }
    """

    def compose(self):  # noqa: ANN201
        yield Static("No item selected.", id="detail-body")

    def show(self, item: Item | None) -> None:
        self.query_one("#detail-body", Static).update(render_detail(item))


def render_detail(item: Item | None) -> Group | Text:
    if item is None:
        return Text("No item selected.", style="dim")
    head = Text()
    head.append(f"#{item.id + 1} ", style="bold")
    head.append(item.label, style="bold")
    head.append(f"\n{state_text(item)}")
    if item.stage:
        head.append(f" · {item.stage}")
    if item.chunks_total:
        head.append(f" · chunks {item.chunks_done}/{item.chunks_total}")
    facts = Table.grid(padding=(0, 1))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    facts.add_row("source", item.source)
    if item.origin and item.origin not in ("args", item.source):
        facts.add_row("from", f"{item.origin}" + (f" row {item.row}" if item.row else ""))
    facts.add_row("kind", item.kind)
    facts.add_row("length", hms(item.duration))
    if item.method:
        facts.add_row("method", f"{item.method} · {item.engine or ''}")
    if item.language:
        facts.add_row("language", item.language)
    facts.add_row("attempts", str(item.attempts))
    if item.elapsed is not None:
        facts.add_row("elapsed", hms(item.elapsed))
    for key in _META_KEYS:
        value = item.meta.get(key)
        if value:
            facts.add_row(key, str(value))
    for key, value in (item.meta.get("extras") or {}).items():
        facts.add_row(str(key), str(value))
    if item.stage_times:
        facts.add_row("stages", "  ".join(f"{k} {v:.1f}s" for k, v in item.stage_times.items()))
    for fmt, path in item.outputs.items():
        facts.add_row(fmt, path)
    parts: list[Text | Table] = [head, facts]
    if item.state in (State.FAILED, State.CANCELLED) and item.error:
        error = Text()
        error.append(f"\n{item.error_class or 'error'}: ", style="bold red")
        error.append(item.error)
        hint = _HINTS.get(item.error_class or "")
        if hint and item.state is State.FAILED:
            error.append(f"\nWhat to do: {hint}", style="italic")
        parts.append(error)
    if item.preview:
        lines = Text("\nLatest transcript lines\n", style="bold")
        for line in item.preview:
            lines.append(f"  {line}\n", style="")
        parts.append(lines)
    return Group(*parts)
