"""The command palette's entries: every key's action by name, plus what has no key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.screen import Screen

from tui.widgets.status_table import StatusTable

if TYPE_CHECKING:
    from tui.app import BulkscribeApp


def palette_commands(app: BulkscribeApp, screen: Screen) -> Iterable[SystemCommand]:
    main = app.main
    # Textual's own Quit, Keys and Screenshot are replaced by ours (which ask, show every key,
    # and save into the output folder): one entry each in the palette.
    for command in App.get_system_commands(app, screen):
        if command.title not in ("Quit", "Keys", "Screenshot"):
            yield command
    yield SystemCommand(
        "Save screenshot", "An SVG of this screen, in the output folder",
        app.action_save_screenshot,
    )  # fmt: skip
    yield SystemCommand("Toggle parallel", "Parallel on/off (key p)", main.action_toggle_parallel)
    yield SystemCommand("Set number of workers…", "Any count from 1 to 64", main.action_set_workers)
    yield SystemCommand("Add a worker", "key +", lambda: main.action_workers(1))
    yield SystemCommand("Remove a worker", "key -", lambda: main.action_workers(-1))
    yield SystemCommand(
        "Switch rate mode",
        "Shared pool or one per worker/key (key m)",
        main.action_toggle_rate_mode,
    )
    yield SystemCommand("Set rate limit…", "e.g. 300/min or 5/s,300/min", main.action_set_rate)
    yield SystemCommand("Pause / resume", "key space", main.action_toggle_pause)
    yield SystemCommand("Retry selected or marked items", "key r", main.action_retry)
    yield SystemCommand("Retry all failed items", "key R", main.action_retry_all)
    yield SystemCommand(
        "Cancel selected or marked items…", "Asks first (key x)", main.action_cancel_item
    )
    yield SystemCommand(
        "Mark / unmark row",
        "key v; r and x act on marked rows",
        lambda: main.query_one(StatusTable).action_toggle_mark(),
    )
    yield SystemCommand("Clear marks", "key V", main.clear_marks)
    yield SystemCommand("Add inputs…", "Paste URLs or a path (key a)", main.action_add_inputs)
    yield SystemCommand("Open output", "key o", main.action_open_output)
    yield SystemCommand(
        "Copy output folder path", "To the clipboard (OSC 52)", main.action_copy_output_path
    )
    yield SystemCommand("Filter rows…", "key /", main.action_filter)
    for view in ("all", "active", "failed", "done", "queued"):
        yield SystemCommand(
            f"View: {view}", f"Show {view} items", lambda v=view: main.action_view(v)
        )
    for order in ("input", "shortest", "longest"):
        yield SystemCommand(
            f"Order: {order} first" if order != "input" else "Order: input order",
            "Order of items still queued",
            lambda o=order: main.action_set_order(o),
        )
    yield SystemCommand("Show workers", "key w", lambda: main.action_show_tab("workers"))
    yield SystemCommand("Toggle event log", "key l", main.action_toggle_log)
    yield SystemCommand(
        "Show / hide side pane", "Detail, workers and log (key i)", main.action_toggle_side
    )
    yield SystemCommand("Help", "All keys (key ?)", app.action_help)
    yield SystemCommand("Quit", "key q", app.action_quit_app)
