"""``--dry-run`` for feeds and playlists: which episodes the run would take, read but not fetched."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.errors import BulkscribeError
from engine.items import Item
from engine.settings import Settings
from engine.sources.expand import choose_entries, chosen_episodes
from engine.sources.feed_fetch import fetch_feed, may_be_feed
from engine.sources.feeds import feed_number
from tui.format import hms

SHOWN_PER_FEED = 50


def list_chosen(batch: Any, settings: Settings, out: Console) -> list[str]:
    """Print, for each feed or playlist, the entries the choice takes; return problems found."""
    problems: list[str] = []
    for source in batch.sources:
        if source.kind == "url" and may_be_feed(source.location):
            try:
                feed = fetch_feed(source.location, timeout=15)
            except BulkscribeError as exc:
                problems.append(f"{source.raw}: {exc.user_text}")
                continue
            if feed is None:
                continue  # a web page or media file: nothing to list
            item = Item(-1, source=source.raw, location=source.location)
            taken = chosen_episodes(None, item, settings, feed)
            number = feed_number(feed.episodes)
            rows = [
                (e.date or "", str(number(e)), e.title, hms(e.duration) if e.duration else "")
                for e in taken
            ]
            _print(out, f"{feed.title or source.raw}: {len(taken)} of {len(feed.episodes)}", rows)
        elif source.kind == "playlist":
            from engine.sources.remote import expand_playlist

            try:
                listed = expand_playlist(source.location)
            except BulkscribeError as exc:
                problems.append(f"{source.raw}: {exc.user_text}")
                continue
            item = Item(-1, source=source.raw, location=source.location)
            chosen = choose_entries(None, item, settings, listed, when=lambda e: None, number=None)
            positions = {id(entry): n for n, entry in enumerate(listed, 1)}
            rows = [("", str(positions[id(e)]), e[1] or e[0], "") for e in chosen]
            _print(out, f"{source.raw}: {len(chosen)} of {len(listed)}", rows)
    return problems


def _print(out: Console, title: str, rows: list[tuple[str, str, str, str]]) -> None:
    table = Table(title=Text(f"Would take from {title}"), show_header=True, header_style="bold")
    for name, justify in (("date", "left"), ("#", "right"), ("title", "left"), ("length", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows[:SHOWN_PER_FEED]:
        table.add_row(*(Text(cell) for cell in row))
    if len(rows) > SHOWN_PER_FEED:
        table.add_row("", "", Text(f"… and {len(rows) - SHOWN_PER_FEED} more"), "")
    out.print(table)
