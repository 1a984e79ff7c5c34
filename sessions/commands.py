"""The ``bulkscribe sessions`` subcommands: list, show, export, delete, prune and import."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.errors import UsageError
from engine.items import GLYPH, State
from sessions import lock
from sessions.store import SessionInfo, Store
from sessions.transfer import export_session, import_session, read_export, write_export

_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", re.IGNORECASE)
_UNITS = {
    "s": "seconds", "sec": "seconds", "m": "minutes", "min": "minutes", "h": "hours",
    "hr": "hours", "d": "days", "day": "days", "days": "days", "w": "weeks", "wk": "weeks",
    "week": "weeks", "weeks": "weeks",
}  # fmt: skip
# Status reads without colour: a glyph and a word, colour only as an extra.
_STATUS = {
    "running": ("▶", "cyan"),
    "paused": ("⏸", "yellow"),
    "interrupted": ("!", "red"),
    "finished": ("✓", "green"),
    "cancelled": ("⊘", "dim"),
}
Command = Callable[[Store, argparse.Namespace, Console], int]


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``2w``, ``90m`` -> timedelta; anything else is a UsageError."""
    match = _AGE.fullmatch(text or "")
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise UsageError(
            f"cannot read the age {text!r}", hint="use a number and a unit, like 30d, 12h or 2w"
        )
    return timedelta(**{unit: float(match.group(1))})


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``sessions`` and its subcommands to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "sessions",
        help="list, inspect, export, import and delete saved sessions",
        description="Saved sessions: every run is kept so it can be resumed or inspected.",
    )
    sub = parser.add_subparsers(dest="sessions_command", metavar="COMMAND", required=True)
    p = sub.add_parser("list", help="saved sessions, newest first")
    p.set_defaults(handler=list_sessions)
    p = sub.add_parser("show", help="details, counts and failures of one session")
    p.add_argument("id", help="session id (a unique prefix is enough)")
    p.set_defaults(handler=show_session)
    p = sub.add_parser("export", help="one session as JSON, to stdout or a file")
    p.add_argument("id", help="session id (a unique prefix is enough)")
    p.add_argument("--json", dest="json_file", metavar="FILE", type=Path, help="write to FILE")
    p.set_defaults(handler=export_to_json)
    p = sub.add_parser("delete", help="forget a session (its transcripts stay on disk)")
    p.add_argument("id", help="session id (a unique prefix is enough)")
    p.set_defaults(handler=delete_session)
    p = sub.add_parser("prune", help="forget finished sessions older than an age")
    p.add_argument(
        "--older-than", required=True, type=parse_age, metavar="AGE", help="30d, 12h, 2w"
    )
    p.set_defaults(handler=prune_sessions)
    p = sub.add_parser("import", help="add a session from an export file")
    p.add_argument("file", type=Path, help="a file made by 'bulkscribe sessions export --json'")
    p.set_defaults(handler=import_from_json)
    return parser


def run(args: argparse.Namespace, console: Console, store: Store | None = None) -> int:
    """Run the parsed subcommand; UsageErrors propagate for the caller to print."""
    handler: Command = args.handler
    own = store is None
    store = Store.open() if store is None else store
    try:
        if store.recovered_from is not None:
            console.print(
                Text(
                    "Your session database was unreadable; it was moved to "
                    f"{store.recovered_from} and a new one started.",
                    style="yellow",
                )
            )
        return handler(store, args, console)
    finally:
        if own:
            store.close()


def shown_status(store: Store, info: SessionInfo) -> str:
    """A 'running' session that nobody holds was stopped without finishing: say so."""
    if info.status == "running" and lock.holder(info.id, store.path.parent) is None:
        return "interrupted"
    return info.status


def _status_text(status: str) -> Text:
    glyph, style = _STATUS.get(status, ("?", ""))
    return Text(f"{glyph} {status}", style=style)


def _when(stamp: datetime) -> str:
    return f"{stamp:%Y-%m-%d %H:%M}"


def list_sessions(store: Store, args: argparse.Namespace, console: Console) -> int:
    infos = store.sessions()
    if not infos:
        console.print("No saved sessions yet.")
        return 0
    # Light borders, combined counts, and the output folder only when there is room: the ids
    # must never be cut, since people copy them into the next command.
    wide = console.width >= 110
    table = Table(
        title="Sessions",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("ID", no_wrap=True, min_width=20)
    table.add_column("Name", overflow="fold", min_width=8)
    table.add_column("Status", no_wrap=True, min_width=13)
    table.add_column("Done", justify="right", no_wrap=True)
    table.add_column("Failed", justify="right", no_wrap=True)
    table.add_column("Updated", no_wrap=True, min_width=16)
    if wide:
        table.add_column("Output", overflow="fold")
    for info in infos:
        # Names and folders come from the user's inputs: Text, so Rich reads them as data.
        cells: list[str | Text] = [
            info.id,
            Text(info.name),
            _status_text(shown_status(store, info)),
            f"{info.count(State.DONE)}/{info.total}",
            str(info.count(State.FAILED)),
            _when(info.updated),
        ]
        table.add_row(*cells, *([Text(info.output_dir)] if wide else []))
    console.print(table)
    return 0


def show_session(store: Store, args: argparse.Namespace, console: Console) -> int:
    info = store.session(args.id)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    status = shown_status(store, info)
    grid.add_row("Session", info.id)
    grid.add_row("Name", Text(info.name))
    grid.add_row("Status", _status_text(status))
    grid.add_row("Created", _when(info.created))
    grid.add_row("Updated", _when(info.updated))
    grid.add_row("Output", Text(info.output_dir))
    more = f" … and {len(info.inputs) - 5} more" if len(info.inputs) > 5 else ""
    grid.add_row("Inputs", Text("\n".join(info.inputs[:5]) + more))
    counts = "  ".join(f"{GLYPH[s]} {s.value} {info.count(s)}" for s in State if info.count(s))
    grid.add_row("Items", f"{info.total} total" + (f": {counts}" if counts else ""))
    settings = ", ".join(f"{k}={_short(v)}" for k, v in sorted(info.settings.items()))
    grid.add_row("Settings", Text(settings or "(none)"))
    if info.resumable:
        left = info.total - info.finished_items
        grid.add_row("Resume", f"{left} item(s) left; bulkscribe offers to resume it on start")
    console.print(grid)
    failed = [i for i in store.load_items(info.id) if i.state is State.FAILED]
    if failed:
        table = Table(title=f"Failed items ({len(failed)})", title_justify="left")
        table.add_column("#", justify="right")
        table.add_column("Item", overflow="fold")
        table.add_column("Error", overflow="fold")
        for item in failed[:20]:
            error = f"{item.error_class or 'error'}: {item.error}"
            table.add_row(str(item.id + 1), Text(item.label), Text(error))
        console.print(table)
        if len(failed) > 20:
            console.print(f"… and {len(failed) - 20} more failed items (see the export)")
    events = store.load_events(info.id, limit=10)
    if events:
        console.print("[bold]Recent events[/]")
        for event in events:
            when = f"{datetime.fromtimestamp(event.t):%H:%M:%S}"
            console.print(Text(f"{when}  {event.kind}: {event.text}"))
    return 0


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:39] + "…"


def export_to_json(store: Store, args: argparse.Namespace, console: Console) -> int:
    data = export_session(store, args.id)
    if args.json_file is None:
        # Raw output: no wrapping, markup or highlighting, so the JSON survives a pipe.
        console.out(json.dumps(data, ensure_ascii=False, indent=2), highlight=False)
        return 0
    write_export(data, args.json_file)
    count = len(data["items"])
    console.print(
        Text(f"Exported session {data['session']['id']} ({count} items) to {args.json_file}")
    )
    return 0


def delete_session(store: Store, args: argparse.Namespace, console: Console) -> int:
    info = store.session(args.id)
    # Holding the lock keeps us from deleting a session another bulkscribe is working on.
    with store.lock(info.id):
        store.delete(info.id)
    console.print(
        Text(f"Deleted session {info.id} ({info.name}); transcripts in {info.output_dir} are kept.")
    )
    return 0


def prune_sessions(store: Store, args: argparse.Namespace, console: Console) -> int:
    deleted = store.prune(args.older_than)
    if not deleted:
        console.print("No finished sessions older than that; nothing deleted.")
        return 0
    console.print(f"Deleted {len(deleted)} finished session(s): {', '.join(deleted)}")
    return 0


def import_from_json(store: Store, args: argparse.Namespace, console: Console) -> int:
    data = read_export(args.file)
    new_id = import_session(store, data)
    old_id = data.get("session", {}).get("id")
    note = f" (id {old_id} was taken)" if old_id and old_id != new_id else ""
    console.print(Text(f"Imported session {new_id}{note}."))
    return 0
