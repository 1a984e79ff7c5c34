"""The key map in one place: bindings, footer, help screen and docs all read it."""

from __future__ import annotations

from textual.binding import Binding, BindingType

# (keys, action, description, shown in footer)
KEYMAP: tuple[tuple[str, str, str, bool], ...] = (
    ("p", "toggle_parallel", "parallel on/off (off = 1 worker; on = last count, 2 at first)", True),
    ("plus,equals_sign", "workers(1)", "one more worker (up to 64)", True),
    ("minus", "workers(-1)", "one worker fewer (down to 1)", True),
    ("m", "toggle_rate_mode", "rate mode shared/independent", True),
    ("space", "toggle_pause", "pause / resume (running items finish)", True),
    ("r", "retry", "retry the marked items, or the selected failed item", True),
    ("R", "retry_all", "retry every failed item", False),
    ("x", "cancel_item", "cancel the marked items, or the selected one (asks first)", False),
    ("a", "add_inputs", "add inputs (paste URLs or a path)", False),
    ("o", "open_output", "open the selected item's output (or show its path)", False),
    ("enter", "focus_detail", "focus the item detail", False),
    ("slash", "filter", "filter rows by text", False),
    ("1", "view('all')", "view: all items", False),
    ("2", "view('active')", "view: running and waiting", False),
    ("3", "view('failed')", "view: failed and cancelled", False),
    ("4", "view('done')", "view: done", False),
    ("5", "view('queued')", "view: queued", False),
    ("w", "show_tab('workers')", "show the workers pane", False),
    ("l", "toggle_log", "show / hide the event log", False),
    ("i", "toggle_side", "show / hide the side pane (detail, workers, log)", False),
    ("question_mark", "help", "help: all keys", True),
    ("q", "quit_app", "quit (asks when work is running; the session is kept)", True),
)

# The help screen's sections, in order; an action not named here goes under "Items".
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Run", ("toggle_pause", "toggle_parallel", "workers(1)", "workers(-1)", "toggle_rate_mode")),
    ("Items", ("retry", "retry_all", "cancel_item", "add_inputs", "open_output")),
    (
        "Look around",
        ("focus_detail", "filter", "view('all')", "view('active')", "view('failed')",
         "view('done')", "view('queued')", "show_tab('workers')", "toggle_log", "toggle_side"),
    ),
    ("App", ("help", "quit_app")),
)  # fmt: skip

# Keys that belong to the table (tui/widgets/status_table.py) rather than the app, for the help.
TABLE_KEYS: tuple[tuple[str, str, str], ...] = (
    ("Items", "v / V", "mark or unmark a row and step down / clear every mark"),
    ("Look around", "s / S", "sort by the next column on screen / reverse the sort"),
    ("Look around", "escape", "from the detail pane or the filter: back to the table"),
    ("App", "ctrl+p", "command palette: every action, plus workers, rate limit, order, theme"),
)


def group_of(action: str) -> str:
    return next((name for name, actions in GROUPS if action in actions), "Items")


_FOOTER_NAMES = {
    "toggle_parallel": "Parallel",
    "workers(1)": "+Worker",
    "workers(-1)": "-Worker",
    "toggle_rate_mode": "Rate mode",
    "toggle_pause": "Pause",
    "retry": "Retry",
    "add_inputs": "Add",
    "help": "Help",
    "quit_app": "Quit",
}


# + and - share one footer entry ("+ - Workers") so the footer fits 80 columns.
_WORKERS = Binding.Group("Workers", compact=False)


# Keys that also work on every other screen; all belong to the main screen, so a modal (help,
# summary, a question) never passes the others through to the batch underneath.
_APP_WIDE = frozenset({"help"})
# Bound on the main screen, carried out by the app (help over any screen, quitting the app);
# every other action is the main screen's own (tui/screens/*_actions.py).
_APP_ACTIONS = frozenset({"help", "quit_app"})


def bindings(*, screen: bool = False) -> list[BindingType]:
    """The app-wide bindings, or (``screen``) the main screen's."""
    result: list[BindingType] = []
    for keys, action, description, show in KEYMAP:
        if not screen and action not in _APP_WIDE:
            continue
        name = _FOOTER_NAMES.get(action, description.split(" (")[0].capitalize())
        key_id = action.split("(")[0] + (
            "." + action.split("(")[1].strip(")'") if "(" in action else ""
        )
        result.append(
            Binding(
                keys,
                f"app.{action}" if screen and action in _APP_ACTIONS else action,
                name,
                show=show,
                tooltip=description,
                id=f"bulkscribe.{key_id}",
                group=_WORKERS if action.startswith("workers(") else None,
            )
        )
    if not screen:
        return result
    # While paused the footer offers "space Resume": a second binding of the same key, only one of
    # the two enabled at a time (RunActions.check_action).
    result.append(
        Binding(
            "space",
            "toggle_pause('resume')",
            "Resume",
            tooltip="resume: start queued items again",
            id="bulkscribe.resume",
        )
    )
    return result
