"""Everything known about one item: metadata, stage timings, chunk progress, latest lines, outputs, error."""

from __future__ import annotations

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
        body = self.query_one("#detail-body", Static)
        body.update(render_detail(item), layout=False)
        # Laying out the screen again costs tens of milliseconds while the workers run, and moving
        # the cursor shows a new item each key: only a text of a different height needs it.
        width, height = body.content_size
        if not width or body.get_content_height(self.size, self.size, width) != height:
            body.refresh(layout=True)


def render_detail(item: Item | None) -> Text:
    """One Text, not a rich Table: it is redrawn as the item changes, and Text is far cheaper."""
    if item is None:
        return Text("No item selected.", style="dim")
    text = Text()
    text.append(f"#{item.id + 1} ", style="bold")
    text.append(item.label, style="bold")
    text.append(f"\n{state_text(item)}")
    if item.stage:
        text.append(f" · {item.stage}")
    if item.chunks_total:
        text.append(f" · chunks {item.chunks_done}/{item.chunks_total}")
    # The error and what to do about it come before the facts: they are why a failed row is opened,
    # and the pane is only a few lines high on a small terminal.
    if item.state in (State.FAILED, State.CANCELLED) and item.error:
        text.append(f"\n{item.error_class or 'error'}: ", style="bold red")
        text.append(item.error)
        hint = _HINTS.get(item.error_class or "")
        if hint and item.state is State.FAILED:
            text.append(f"\nWhat to do: {hint}", style="italic")
    facts = _facts(item)
    width = max(len(key) for key, _ in facts)
    for key, value in facts:
        text.append(f"\n{key:<{width}} ", style="dim")
        text.append(value)
    if item.preview:
        text.append("\n\nLatest transcript lines", style="bold")
        for line in item.preview:
            text.append(f"\n  {line}")
    return text


def _facts(item: Item) -> list[tuple[str, str]]:
    facts = [("source", item.source)]
    if item.origin and item.origin not in ("args", item.source):
        facts.append(("from", item.origin + (f" row {item.row}" if item.row else "")))
    facts += [("kind", item.kind), ("length", hms(item.duration))]
    if item.method:
        facts.append(("method", f"{item.method} · {item.engine or ''}"))
    if item.language:
        facts.append(("language", item.language))
    facts.append(("attempts", str(item.attempts)))
    if item.elapsed is not None:
        facts.append(("elapsed", hms(item.elapsed)))
    for key in _META_KEYS:
        value = item.meta.get(key)
        if value:
            facts.append((key, str(value)))
    facts += [(str(key), str(value)) for key, value in (item.meta.get("extras") or {}).items()]
    if item.stage_times:
        facts.append(("stages", "  ".join(f"{k} {v:.1f}s" for k, v in item.stage_times.items())))
    facts += list(item.outputs.items())
    return facts
