"""The full-screen app driven with Pilot: every key and palette command, checked on the engine and on screen."""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandList, CommandPalette
from textual.widgets import Input, Static, TabbedContent, TextArea

from engine.items import State
from engine.limits.pools import INDEPENDENT, SHARED
from tests.tui_support import GateBatch, make_app, state_of, until, wait_started
from tui.keys import KEYMAP
from tui.screens.add_inputs import AddInputsScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.prompt import PromptScreen
from tui.screens.summary import SummaryScreen
from tui.widgets.item_detail import ItemDetail
from tui.widgets.status_table import StatusTable

SIZE = (100, 30)


def panel_text(app) -> str:  # noqa: ANN001
    return str(app.main.query_one("#progress-rates", Static).render())


def row_text(app, item_id: int) -> str:  # noqa: ANN001
    """The row the table draws for an item, as a person reads it."""
    table = app.main.query_one(StatusTable)
    row = table.visible_ids.index(item_id)
    table.scroll_to(y=max(0, row - 2), animate=False)
    y = row - int(table.scroll_y) + 1
    return table.render_line(y).text


def screen_text(widget) -> str:  # noqa: ANN001
    return str(widget.render())


def detail_text(app) -> str:  # noqa: ANN001
    from rich.console import Console

    body = app.main.query_one(ItemDetail).query_one("#detail-body", Static)
    console = Console(width=200, record=True, color_system=None)
    console.print(body.content)
    return console.export_text()


async def palette(pilot, command: str) -> None:  # noqa: ANN001
    """Run a command-palette command by typing its name, as a person would."""
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette), "palette")
    # Typing into the search field key by key is slow under test; the palette reacts the same way.
    pilot.app.screen.query_one(Input).value = command
    results = pilot.app.screen.query_one(CommandList)

    def first_match() -> bool:
        if results.option_count == 0:
            return False
        return command.lower() in _plain(results.get_option_at_index(0).prompt).lower()

    await until(pilot, first_match, f"palette match for {command}")
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(pilot.app.screen, CommandPalette), "palette closed")


def _plain(renderable) -> str:  # noqa: ANN001
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


async def type_into_prompt(pilot, text: str) -> None:  # noqa: ANN001
    field = pilot.app.screen.query_one("#prompt-input", Input)
    field.value = ""
    await pilot.press(*text, "enter")
    await pilot.pause()


def prompt_error(app) -> str:  # noqa: ANN001
    return str(app.screen.query_one("#prompt-error", Static).render())


# -- parallelism and rate -------------------------------------------------------------------------


async def test_p_toggles_parallel_and_remembers_the_last_count(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 0)
    app = make_app(batch)
    async with app.run_test(size=SIZE) as pilot:
        assert "workers 1 (parallel off)" in panel_text(app)
        await pilot.press("p")
        await until(pilot, lambda: "workers 2 (parallel on)" in panel_text(app))
        assert (batch.engine.workers, batch.engine.parallel) == (2, True)
        await pilot.press("plus", "plus")
        await until(pilot, lambda: "workers 4 (parallel on)" in panel_text(app))
        await pilot.press("p")
        await until(pilot, lambda: "workers 1 (parallel off)" in panel_text(app))
        assert (batch.engine.workers, batch.engine.parallel) == (1, False)
        await pilot.press("p")
        await until(pilot, lambda: "workers 4 (parallel on)" in panel_text(app))
        assert batch.engine.workers == 4


async def test_plus_and_minus_stay_within_1_and_64(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 0)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("minus")
        await pilot.pause()
        assert batch.engine.workers == 1
        await pilot.press("plus", "equals_sign")
        await until(pilot, lambda: "workers 3 (parallel on)" in panel_text(app))
        batch.engine.set_workers(63)
        await pilot.press("plus", "plus", "plus")
        await until(pilot, lambda: "workers 64 (parallel on)" in panel_text(app))
        assert batch.engine.workers == 64
        batch.engine.set_workers(2)
        await pilot.press("minus", "minus", "minus")
        await until(pilot, lambda: "workers 1 (parallel off)" in panel_text(app))
        assert batch.engine.workers == 1


async def test_set_workers_prompt_rejects_bad_counts_inline(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 0)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await palette(pilot, "Set number of workers")
        assert isinstance(app.screen, PromptScreen)
        for bad in ("0", "abc", "65"):
            await type_into_prompt(pilot, bad)
            assert isinstance(app.screen, PromptScreen), f"{bad!r} closed the prompt"
            assert "whole number from 1 to 64" in prompt_error(app)
            assert batch.engine.workers == 1
        await type_into_prompt(pilot, "8")
        await until(pilot, lambda: not isinstance(app.screen, PromptScreen))
        assert (batch.engine.workers, batch.engine.parallel) == (8, True)
        await until(pilot, lambda: "workers 8 (parallel on)" in panel_text(app))


async def test_m_switches_rate_mode_both_ways(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 0)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        assert "shared · asr" in panel_text(app)
        await pilot.press("m")
        await until(pilot, lambda: "independent · asr" in panel_text(app))
        assert batch.limiter.mode == INDEPENDENT
        assert batch.media_limiter.mode == SHARED  # one host, one address: its limit stays shared
        await pilot.press("m")
        await until(pilot, lambda: "shared · asr" in panel_text(app))
        assert batch.limiter.mode == SHARED


async def test_set_rate_prompt_rejects_nonsense_and_accepts_two_rules(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 0)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await palette(pilot, "Set rate limit")
        assert isinstance(app.screen, PromptScreen)
        await type_into_prompt(pilot, "fast")
        assert isinstance(app.screen, PromptScreen)
        assert "fast" in prompt_error(app)
        assert str(batch.limiter.spec) == "300/min"
        await type_into_prompt(pilot, "5/s,300/min")
        await until(pilot, lambda: not isinstance(app.screen, PromptScreen))
        assert str(batch.limiter.spec) == "5/s,300/min"
        assert batch.limiter.stats().limit_per_min == 300


# -- flow ---------------------------------------------------------------------------------------


async def test_space_pauses_so_nothing_new_starts_and_resumes(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 3)
    app = make_app(batch)
    async with app.run_test(size=SIZE) as pilot:
        wait_started(batch.gate, 0)
        await pilot.press("space")
        await until(pilot, lambda: "PAUSED" in panel_text(app))
        assert batch.engine.paused
        batch.gate.release(0)
        await until(pilot, lambda: state_of(batch, 0) is State.DONE)
        for _ in range(10):  # several ticks and worker wake-ups: item 2 must stay queued
            await pilot.pause(0.02)
        assert state_of(batch, 1) is State.QUEUED
        assert batch.gate.started == [0]
        await pilot.press("space")
        await until(pilot, lambda: "PAUSED" not in panel_text(app))
        await until(pilot, lambda: state_of(batch, 1) is State.RUNNING, "item 2 starts")
        await until(pilot, lambda: "▶ running" in row_text(app, 1))
        batch.gate.open_all = True


async def test_r_retries_the_selected_failed_item_then_all_failed(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 3)
    app = make_app(batch)
    async with app.run_test(size=SIZE) as pilot:
        for item_id in (0, 1):
            wait_started(batch.gate, item_id)
            batch.gate.fail(item_id)
            await until(pilot, lambda i=item_id: state_of(batch, i) is State.FAILED)  # type: ignore[misc]
        wait_started(batch.gate, 2)
        batch.gate.release(2)
        # The batch has finished: its summary comes up; Escape goes back to the table.
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen), "the summary")
        await pilot.press("escape")
        await until(pilot, lambda: "✗ failed" in row_text(app, 1))
        assert "✗ failed" in row_text(app, 0)
        assert "the API failed" in row_text(app, 0)  # the reason, not just the state
        await pilot.press("down", "up")  # select item 1 (the first row) by hand
        await until(pilot, lambda: "What to do" in detail_text(app))
        detail = detail_text(app)
        assert "provider: the API failed (500): internal error" in detail
        assert "press r to retry" in detail
        await pilot.press("r")
        await until(pilot, lambda: batch.gate.started.count(0) == 2, "item 1 runs again")
        assert state_of(batch, 1) is State.FAILED
        batch.gate.release(0)
        await until(pilot, lambda: state_of(batch, 0) is State.DONE)
        await until(pilot, lambda: "✓ done" in row_text(app, 0))
        # On a row that is not failed, r retries nothing and says how to retry them all...
        await pilot.press("r")
        await pilot.pause()
        assert batch.gate.started.count(1) == 1
        # ...which is R, wherever the cursor is.
        await pilot.press("R")
        await until(pilot, lambda: batch.gate.started.count(1) == 2, "item 2 runs again")
        batch.gate.release(1)
        await until(pilot, lambda: batch.engine.finished)
        assert batch.board.count(State.FAILED) == 0


async def test_x_cancels_a_queued_item(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 3)
    app = make_app(batch)
    async with app.run_test(size=SIZE) as pilot:
        wait_started(batch.gate, 0)
        await pilot.press("down", "down")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: state_of(batch, 2) is State.CANCELLED)
        await until(pilot, lambda: "⊘ cancelled" in row_text(app, 2))
        batch.gate.release(0)
        wait_started(batch.gate, 1)
        batch.gate.release(1)
        await until(pilot, lambda: batch.engine.finished)
        assert 2 not in batch.gate.started


async def test_x_cancels_a_running_item(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 2)
    app = make_app(batch)
    async with app.run_test(size=SIZE) as pilot:
        wait_started(batch.gate, 0)
        await pilot.press("up")  # select the first row by hand
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: state_of(batch, 0) is State.CANCELLED)
        wait_started(batch.gate, 1)
        batch.gate.release(1)


async def test_a_adds_the_inputs_listed_in_a_file(tmp_path: Path) -> None:
    listing = tmp_path / "more.txt"
    listing.write_text("https://media.test/extra-1.mp3\nhttps://media.test/extra-2.mp3\n")
    batch = GateBatch(tmp_path, 1)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        assert isinstance(app.screen, AddInputsScreen)
        await pilot.press("ctrl+s")  # nothing typed yet: the modal explains and stays
        assert isinstance(app.screen, AddInputsScreen)
        assert "Nothing to add" in screen_text(app.screen.query_one("#add-error"))
        app.screen.query_one("#add-text", TextArea).insert(str(listing))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: len(batch.board) == 3)
        assert not isinstance(app.screen, AddInputsScreen)
        await until(pilot, lambda: app.main.query_one(StatusTable).row_count == 3)
        assert "media.test/extra-2.mp3" in row_text(app, 2)
        assert "· queued" in row_text(app, 2)
        assert batch.board.get(2).source == "https://media.test/extra-2.mp3"


async def test_add_modal_escape_adds_nothing(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 1)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await pilot.press(*"https://media.test/x.mp3")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AddInputsScreen)
        assert len(batch.board) == 1


# -- views, filter, sort ------------------------------------------------------------------------


async def test_slash_filters_rows_and_escape_clears(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 12)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        table = app.main.query_one(StatusTable)
        await pilot.press("slash")
        assert app.main.query_one("#filter", Input).has_focus
        await pilot.press(*"episode-1")
        await until(pilot, lambda: table.visible_ids == [0, 9, 10, 11])
        await pilot.press("escape")
        await until(pilot, lambda: table.row_count == 12)
        assert not app.main.query_one("#filter", Input).display
        assert table.has_focus


async def test_number_keys_switch_quick_views(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 5, workers=2)
    app = make_app(batch)
    async with app.run_test(size=SIZE) as pilot:
        wait_started(batch.gate, 0)
        wait_started(batch.gate, 1)
        batch.gate.fail(0)
        await until(pilot, lambda: state_of(batch, 0) is State.FAILED)
        wait_started(batch.gate, 2)
        batch.gate.release(1)
        await until(pilot, lambda: state_of(batch, 1) is State.DONE)
        wait_started(batch.gate, 3)
        table = app.main.query_one(StatusTable)
        expected = {"1": [0, 1, 2, 3, 4], "2": [2, 3], "3": [0], "4": [1], "5": [4]}
        for key, ids in expected.items():
            await pilot.press(key)
            await until(pilot, lambda ids=ids: table.visible_ids == ids, f"view {key}")  # type: ignore[misc]
        batch.gate.open_all = True


async def test_s_sorts_and_the_cursor_stays_on_its_item(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 0)
    from engine.items import Item

    titles = ["delta", "alpha", "charlie", "bravo"]
    batch.engine.add(Item(-1, f"https://media.test/{t}.mp3", title=t) for t in titles)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        table = app.main.query_one(StatusTable)
        await pilot.press("down", "down")
        assert table.cursor_item_id == 2  # "charlie", third row
        await pilot.press("s")  # sort by status: all queued, order kept
        assert table.sort_key == "state"
        await pilot.press("s")  # sort by title
        await pilot.pause()
        assert table.sort_key == "title"
        assert table.visible_ids == [1, 3, 2, 0]
        assert table.cursor_item_id == 2
        assert "▲" in table.render_line(0).text
        await pilot.press("S")
        await pilot.pause()
        assert table.visible_ids == [0, 2, 3, 1]
        assert table.cursor_item_id == 2
        assert "▼" in table.render_line(0).text
        await pilot.press("down")
        assert table.cursor_item_id == 3  # moved down from its new place, not its old one


async def test_w_and_l_switch_the_side_pane(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 1)
    app = make_app(batch)
    async with app.run_test(size=SIZE) as pilot:
        wait_started(batch.gate, 0)
        tabs = app.main.query_one(TabbedContent)
        await pilot.press("w")
        assert tabs.active == "tab-workers"
        await until(pilot, lambda: "▶ #1 Episode 1" in screen_text(app.main.query_one("#workers")))
        await pilot.press("l")
        assert tabs.active == "tab-log"
        await pilot.press("l")
        assert tabs.active == "tab-detail"
        await pilot.press("enter")
        assert app.focused is app.main.query_one(ItemDetail)
        batch.gate.release(0)


async def test_question_mark_lists_every_key(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 0)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        from rich.console import Console

        console = Console(width=120, record=True, color_system=None)
        for static in app.screen.query(Static):
            console.print(static.content)
        text = console.export_text()
        for _keys, _action, description, _show in KEYMAP:
            assert description in text
        assert "s / S" in text and "ctrl+p" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_o_shows_the_output_path_without_a_display(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    batch = GateBatch(tmp_path, 1)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        await pilot.pause()
        assert any(str(batch.output_dir) in n.message for n in app._notifications)


# -- quitting -----------------------------------------------------------------------------------


async def test_q_quits_at_once_when_idle(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 0)
    app = make_app(batch)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
    assert app.return_code == 0


async def test_q_asks_while_running_n_keeps_running_y_stops_and_requeues(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 2)
    app = make_app(batch)
    async with app.run_test(size=SIZE) as pilot:
        wait_started(batch.gate, 0)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "1 item(s) are running" in screen_text(app.screen.query("Static").last())
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert state_of(batch, 0) is State.RUNNING
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, "app exits")
    assert app.return_code == 0
    assert state_of(batch, 0) is State.QUEUED
    assert batch.engine.join(0)


# -- the command palette --------------------------------------------------------------------------


async def test_palette_lists_a_command_for_every_key_action(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 0)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=SIZE):
        titles = {command.title for command in app.get_system_commands(app.screen)}
    wanted = {
        "Toggle parallel",
        "Set number of workers…",
        "Add a worker",
        "Remove a worker",
        "Switch rate mode",
        "Set rate limit…",
        "Pause / resume",
        "Retry selected or marked items",
        "Retry all failed items",
        "Cancel selected or marked items…",
        "Mark / unmark row",
        "Clear marks",
        "Show / hide side pane",
        "Add inputs…",
        "Open output",
        "Filter rows…",
        "Show workers",
        "Toggle event log",
        "Help",
        "Quit",
        *(f"View: {view}" for view in ("all", "active", "failed", "done", "queued")),
        "Order: input order",
        "Order: shortest first",
        "Order: longest first",
    }
    assert wanted <= titles


async def test_palette_commands_do_what_they_say(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 4)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        commands = {command.title: command for command in app.get_system_commands(app.screen)}

        async def run(title: str) -> None:
            # The palette's own search and selection are driven in the prompt tests above; here
            # each command's action is run as the palette would run it once chosen.
            commands[title].callback()
            await pilot.pause()

        table = app.main.query_one(StatusTable)
        await palette(pilot, "Toggle parallel")
        assert batch.engine.workers == 2
        await run("Add a worker")
        assert batch.engine.workers == 3
        await run("Remove a worker")
        assert batch.engine.workers == 2
        await run("Switch rate mode")
        assert batch.limiter.mode == INDEPENDENT
        await run("Pause / resume")
        assert batch.engine.paused
        await run("Pause / resume")
        assert not batch.engine.paused
        for order in ("shortest", "longest"):
            await run(f"Order: {order} first")
            assert batch.engine.view.order == order
        await run("Order: input order")
        assert batch.engine.view.order == "input"
        for view in ("queued", "done", "failed", "active", "all"):
            await run(f"View: {view}")
            assert table.view_name == view
        assert table.row_count == 4
        await run("Show workers")
        assert app.main.query_one(TabbedContent).active == "tab-workers"
        await run("Toggle event log")
        assert app.main.query_one(TabbedContent).active == "tab-log"
        await run("Filter rows…")
        assert app.main.query_one("#filter", Input).has_focus
        await pilot.press("escape")
        await run("Help")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await run("Add inputs…")
        assert isinstance(app.screen, AddInputsScreen)
        await pilot.press("escape")
        await pilot.press("down")  # pick item 2 by hand
        await run("Cancel selected or marked items…")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: state_of(batch, 1) is State.CANCELLED)
        await until(pilot, lambda: "⊘ cancelled" in row_text(app, 1))
        await run("Retry selected or marked items")
        assert state_of(batch, 1) is State.QUEUED
        await run("Mark / unmark row")
        assert table.marked == {1}
        await run("Clear marks")
        assert table.marked == set()
        await run("Open output")
        await run("Set number of workers…")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("escape")
        await run("Set rate limit…")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("escape")
        assert batch.engine.workers == 2 and str(batch.limiter.spec) == "300/min"
        await palette(pilot, "Quit")
    assert app.return_code == 0


async def test_the_chosen_theme_is_remembered_for_the_next_run(tmp_path) -> None:
    from tui.preferences import load_preferences

    batch = GateBatch(tmp_path, 2)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app.theme = "nord"
        await pilot.pause()
    assert load_preferences().get("theme") == "nord"
    again = make_app(GateBatch(tmp_path, 2), autostart=False)
    async with again.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert again.theme == "nord"


async def test_a_refused_key_pauses_and_says_so_on_screen(tmp_path) -> None:
    from engine.errors import AuthError

    batch = GateBatch(tmp_path, 3)
    app = make_app(batch)
    async with app.run_test(size=(100, 30)) as pilot:
        wait_started(batch.gate, 0)
        batch.gate.fail(0, AuthError("the API refused the key (401)", hint="check OPENAI_API_KEY"))
        await until(pilot, lambda: batch.engine.paused)
        await until(
            pilot, lambda: any("refused the key" in str(n.message) for n in app._notifications)
        )
        assert state_of(batch, 0) is State.QUEUED
        panel = str(app.screen.query_one("#progress-rates", Static).render())
        assert "PAUSED" in panel


async def test_add_modal_carries_the_episode_choice_and_refuses_a_bad_one(tmp_path: Path) -> None:
    feed = "https://feeds.test/show.xml"
    batch = GateBatch(tmp_path, 1)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        app.screen.query_one("#add-text").insert(feed)
        app.screen.query_one("#add-episodes", Input).value = "9-5"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, AddInputsScreen)  # a bad range keeps the modal open
        assert "--episodes: '9-5' is not a number or a range" in screen_text(
            app.screen.query_one("#add-error")
        )
        app.screen.query_one("#add-episodes", Input).value = "3,5-9"
        app.screen.query_one("#add-latest", Input).value = "2"
        app.screen.query_one("#add-since", Input).value = "2024-01-31"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: len(batch.board) == 2)
        assert batch.board.get(1).meta["choose"] == {
            "since": "2024-01-31",
            "latest": 2,
            "episodes": "3,5-9",
        }
