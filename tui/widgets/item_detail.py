"""Everything known about one item: metadata, stage timings, chunk progress, latest lines, outputs, error."""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from engine.items import Item, State
from tui.format import hms, state_text
from tui.retries import RetryNotes

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

    BINDINGS = [
        Binding(
            "escape", "back", "Back to the table", id="detail.back", tooltip="Back to the table"
        )
    ]

    class Back(Message):
        """The user asked to go back to the table."""

    _item: Item | None = None
    _retries: RetryNotes | None = None

    def compose(self):  # noqa: ANN201
        yield Static("No item selected.", id="detail-body")

    def action_back(self) -> None:
        self.post_message(self.Back())

    def on_resize(self) -> None:
        # Hanging indents are laid out for the pane's width.
        self.show(self._item, self._retries)

    def show(self, item: Item | None, retries: RetryNotes | None = None) -> None:
        if item is None or self._item is None or item.id != self._item.id:
            # Another item: its name and error are at the top, so start there.
            self.scroll_home(animate=False)
        self._item, self._retries = item, retries
        body = self.query_one("#detail-body", Static)
        width = self.scrollable_content_region.width
        body.update(render_detail(item, width if width > 0 else 80, retries), layout=False)
        # Laying out the screen again costs tens of milliseconds while the workers run, and moving
        # the cursor shows a new item each key: only a text of a different height needs it.
        width, height = body.content_size
        if not width or body.get_content_height(self.size, self.size, width) != height:
            body.refresh(layout=True)


def render_detail(item: Item | None, width: int = 80, retries: RetryNotes | None = None) -> Text:
    """One Text, not a rich Table: it is redrawn as the item changes, and Text is far cheaper.

    Long values wrap under themselves (a hanging indent), so the names down the left stay readable.
    """
    if item is None:
        return Text("No item selected.", style="dim")
    text = Text()
    text.append(f"#{item.id + 1} ", style="bold")
    text.append(item.label, style="bold")
    sleeping = retries.label(item) if retries is not None else None
    if sleeping:
        # Between two tries of a request nothing is in flight: say so rather than "running".
        text.append(f"\n⏳ {sleeping}", style="yellow")
    else:
        text.append(f"\n{state_text(item)}")
    if item.stage:
        text.append(f" · {item.stage}")
    if item.chunks_total:
        text.append(f" · chunks {item.chunks_done}/{item.chunks_total}")
    # The error and what to do about it come before the facts: they are why a failed row is opened,
    # and the pane is only a few lines high on a small terminal.
    if item.state in (State.FAILED, State.CANCELLED) and item.error:
        label = f"{item.error_class or 'error'}: "
        text.append(f"\n{label}", style="bold red")
        text.append(_hang(item.error, len(label), width))
        hint = _HINTS.get(item.error_class or "")
        if hint and item.state is State.FAILED:
            text.append("\nWhat to do: ", style="italic")
            text.append(_hang(hint, len("What to do: "), width), style="italic")
    facts = _facts(item, retries.count.get(item.id, 0) if retries is not None else 0)
    key_width = max(len(key) for key, _ in facts)
    for key, value in facts:
        text.append(f"\n{key:<{key_width}} ", style="dim")
        text.append(_hang(value, key_width + 1, width))
    if item.preview:
        text.append("\n\nLatest transcript lines", style="bold")
        for line in item.preview:
            text.append(f"\n  {line}")
    return text


def _hang(value: str, indent: int, width: int) -> str:
    """``value`` wrapped to ``width`` with every line after the first indented by ``indent``."""
    room = max(10, width - indent)
    lines: list[str] = []
    for paragraph in value.splitlines() or [""]:
        # Long words (URLs, paths) are cut rather than pushed past the edge.
        lines += textwrap.wrap(paragraph, room, break_long_words=True, break_on_hyphens=False) or [
            ""
        ]
    return ("\n" + " " * indent).join(lines)


def _facts(item: Item, request_retries: int = 0) -> list[tuple[str, str]]:
    facts = [("source", item.source)]
    if item.origin and item.origin not in ("args", item.source):
        facts.append(("from", item.origin + (f" row {item.row}" if item.row else "")))
    facts += [("kind", item.kind), ("length", hms(item.duration))]
    if item.method:
        facts.append(("method", f"{item.method} · {item.engine or ''}"))
    if item.language:
        facts.append(("language", item.language))
    attempts = str(item.attempts)
    if request_retries:
        # Requests retried inside an attempt (a 500, a 429, a dropped connection) count too.
        attempts += f" ({request_retries} request retr{'y' if request_retries == 1 else 'ies'})"
    facts.append(("attempts", attempts))
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
