"""The status table's rows, kept item by item: every view, filter and sort shows what a fresh sort would."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.items
from engine.items import Item, State
from tui.widgets.columns import COLUMNS, column_named
from tui.widgets.row_index import VIEW_STATES, RowIndex

TITLES = ("alpha", "Bravo", "charlie", "alpha", None)


def make(item_id: int, version: int = 0, **changes: object) -> Item:
    item = Item(item_id, f"https://media.test/episode-{item_id + 1}.mp3", kind="url")
    return item.evolve(version=version, **changes)


def expected(index: RowIndex) -> list[int]:
    """The rows a person should see: the view's items with the filter text, stably sorted."""
    states = VIEW_STATES[index.view]
    items = [item for item in index.items if item is not None]
    shown = [
        item
        for item in items
        if (states is None or item.state in states)
        and index.needle
        in f"{item.label} {item.source} {item.state.value} {item.error or ''} {item.kind}".lower()
    ]
    shown.sort(key=index.column.sort, reverse=index.reverse)  # type: ignore[arg-type]
    return [item.id for item in shown]


def loaded(count: int) -> RowIndex:
    index = RowIndex()
    index.apply([make(i) for i in range(count)])
    return index


def test_views_follow_items_through_running_done_failed_and_retry() -> None:
    index = loaded(6)
    index.arrange("active", "", "id", False)
    assert index.ids() == []
    index.apply([make(1, 1, state=State.RUNNING), make(4, 2, state=State.WAITING)])
    assert index.ids() == [1, 4]
    index.apply([make(1, 3, state=State.DONE), make(2, 4, state=State.RUNNING)])
    assert index.ids() == [2, 4]
    index.arrange("failed", "", "id", False)
    index.apply([make(2, 5, state=State.FAILED, error="the API failed (500)")])
    assert index.ids() == [2]
    index.apply([make(2, 6, state=State.QUEUED, attempts=1)])  # a retry puts it back in the queue
    assert index.ids() == []
    index.arrange("queued", "", "id", False)
    assert index.ids() == [0, 2, 3, 5]
    index.arrange("done", "", "id", False)
    assert index.ids() == [1]
    index.arrange("all", "", "id", False)
    assert index.ids() == [0, 1, 2, 3, 4, 5]


def test_new_items_join_the_view_they_belong_to_in_order() -> None:
    index = loaded(3)
    index.arrange("queued", "", "title", False)
    index.apply([make(3, title="aardvark"), make(4, title="zulu")])
    assert index.ids() == [3, 0, 1, 2, 4]  # untitled rows sort by their source
    index.arrange("all", "", "id", True)
    assert index.ids() == [4, 3, 2, 1, 0]


def test_a_sorted_view_moves_a_row_when_its_value_changes_and_keeps_ties_in_input_order() -> None:
    index = loaded(5)
    index.arrange("all", "", "state", False)
    index.apply([make(3, 1, state=State.DONE), make(1, 2, state=State.DONE)])
    assert index.ids() == [1, 3, 0, 2, 4]  # "done" before "queued"; equal states in input order
    index.arrange("all", "", "state", True)
    assert index.ids() == [0, 2, 4, 1, 3]  # reversed values, ties still in input order
    index.apply([make(0, 3, state=State.DONE)])
    assert index.ids() == [2, 4, 0, 1, 3]
    assert [index.row_of(i) for i in (2, 0, 3)] == [0, 2, 4]


def test_more_filter_text_narrows_and_less_widens_while_items_change() -> None:
    index = loaded(12)
    index.arrange("all", "episode-1", "id", False)
    assert index.ids() == [0, 9, 10, 11]
    index.arrange("all", "episode-11", "id", False)
    assert index.ids() == [10]
    index.apply([make(10, 1, state=State.FAILED, error="Gone")])
    index.apply([make(2, 2, title="Episode-11 again")])  # a title arrives that matches
    assert index.ids() == [2, 10]
    index.arrange("failed", "episode-11", "id", False)
    assert index.ids() == [10]
    index.arrange("all", "gone", "id", False)
    assert index.ids() == [10]
    index.arrange("all", "", "id", False)
    assert index.ids() == list(range(12))


def test_changes_that_move_no_row_are_reported_as_staying_put() -> None:
    index = loaded(4)
    index.arrange("all", "", "title", False)
    moved, stayed = index.apply([make(2, 1, stage="transcribe")])
    assert (moved, stayed) == (False, [2])
    moved, stayed = index.apply([make(2, 2, title="0 first")])
    assert moved and index.ids()[0] == 2


def test_sorted_by_elapsed_time_running_rows_move_as_the_clock_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = SimpleNamespace(now=110.0)
    monkeypatch.setattr(engine.items, "time", SimpleNamespace(time=lambda: clock.now))
    index = RowIndex()
    index.apply(
        [
            make(0, started_at=0.0, finished_at=30.0, state=State.DONE),
            make(1, started_at=100.0, state=State.RUNNING),
            make(2, started_at=90.0, state=State.RUNNING),
            make(3),
            make(4, started_at=0.0, finished_at=5.0, state=State.DONE),
        ]
    )
    index.arrange("all", "", "elapsed", False)
    assert index.ids() == [4, 1, 2, 0, 3]  # 5 s, 10 s, 20 s, 30 s, not started
    clock.now = 130.0
    index.apply([make(3, 1, stage="resolve")])  # any change: the running rows take their places
    assert index.ids() == expected(index) == [4, 0, 1, 2, 3]  # 0 and 1 both at 30 s: input order
    index.arrange("active", "", "elapsed", True)
    clock.now = 200.0
    index.apply([make(1, 2, finished_at=205.0, started_at=100.0, state=State.DONE)])
    assert index.ids() == expected(index) == [2]


Change = tuple[int, State, str | None, float | None, str | None]
Arrangement = tuple[str, str, str, bool]
_changes = st.lists(
    st.tuples(
        st.integers(0, 11),  # item id (up to 11: some are new)
        st.sampled_from(list(State)),
        st.sampled_from(TITLES),
        st.one_of(st.none(), st.floats(0, 100)),
        st.one_of(st.none(), st.sampled_from(["Gone", "episode-3 failed"])),
    ),
    max_size=12,
)
_arrangements = st.tuples(
    st.sampled_from(list(VIEW_STATES)),
    st.sampled_from(["", "e", "ep", "episode-1", "alpha", "gone", "done"]),
    st.sampled_from([c.key for c in COLUMNS]),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_changes, _arrangements), min_size=1, max_size=8))
def test_any_sequence_of_changes_and_arrangements_shows_what_a_fresh_sort_shows(
    steps: list[tuple[list[Change], Arrangement]],
) -> None:
    index = loaded(6)
    version = 0
    for changes, (view, needle, sort_key, reverse) in steps:
        batch = []
        for item_id, state, title, duration, error in changes:
            version += 1
            # Elapsed time must not tick during the test: every started item has finished.
            started = 100.0 if state is not State.QUEUED else None
            batch.append(
                make(
                    item_id,
                    version,
                    state=state,
                    title=title,
                    duration=duration,
                    error=error,
                    started_at=started,
                    finished_at=started and started + item_id,
                )
            )
        # The Board hands each item once per pull, the latest version, in id order.
        latest = {item.id: item for item in batch}
        index.apply([latest[i] for i in sorted(latest)])
        assert index.ids() == expected(index)
        index.arrange(view, needle, sort_key, reverse)
        assert index.ids() == expected(index)
        assert all(index.row_of(i) == row for row, i in enumerate(index.ids()))
        assert column_named(sort_key) is index.column
