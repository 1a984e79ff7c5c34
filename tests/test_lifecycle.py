"""The lifecycle table: every legal transition works, every other one is refused and changes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import lifecycle
from engine.board import Board
from engine.items import TERMINAL, Item, State
from engine.lifecycle import ALLOWED, IllegalTransition, Transition, Verb

ROOT = Path(__file__).resolve().parents[1]


def one(verb: Verb) -> Transition:
    """A transition of each verb (finish as a failure)."""
    return {
        Verb.QUEUE: lifecycle.queue(),
        Verb.START: lifecycle.start(0),
        Verb.STAGE: lifecycle.stage("decode"),
        Verb.WAIT: lifecycle.wait(),
        Verb.RESUME: lifecycle.resume(),
        Verb.RETRY_WAIT: lifecycle.retry_wait(),
        Verb.FINISH: lifecycle.finish(State.FAILED),
        Verb.REQUEUE: lifecycle.requeue(),
    }[verb]


def board_at(state: State) -> Board:
    board = Board()
    board.add([Item(-1, source="a.wav")])
    board.update(0, state=state)  # the Board's raw storage: set up any state at all
    return board


@pytest.mark.parametrize("verb", list(Verb))
@pytest.mark.parametrize("state", list(State))
def test_every_verb_from_every_state_is_applied_or_refused(verb: Verb, state: State) -> None:
    board = board_at(state)
    before = board.get(0)
    cursor = board.cursor()
    cursor.pull()
    transition = one(verb)
    if state in ALLOWED[verb]:
        after = board.apply(0, transition)
        assert after.state is transition.to
        assert after.attempts == before.attempts + transition.attempt
    else:
        with pytest.raises(IllegalTransition, match=f"cannot {verb.value} from {state.value}"):
            board.apply(0, transition)
        assert board.get(0) == before
        assert cursor.pull().items == ()  # refused: no reader hears of it


def test_the_table_allows_what_the_engine_does() -> None:
    assert ALLOWED[Verb.START] == {State.QUEUED}
    assert ALLOWED[Verb.QUEUE] == {State.FAILED, State.CANCELLED, State.SKIPPED}
    assert ALLOWED[Verb.FINISH] == {State.QUEUED, State.RUNNING, State.WAITING}
    assert all(not (states & {State.DONE}) for states in ALLOWED.values())  # done stays done
    assert set(ALLOWED) == set(Verb)


def test_finish_takes_only_an_outcome() -> None:
    for state in TERMINAL:
        assert lifecycle.finish(state).to is state
    for state in set(State) - TERMINAL:
        with pytest.raises(ValueError):
            lifecycle.finish(state)


def test_facts_never_carry_a_state() -> None:
    board = board_at(State.RUNNING)
    with pytest.raises(TypeError):
        board.record(0, state=State.DONE)
    with pytest.raises(TypeError):
        board.apply(0, lifecycle.stage("write"), state=State.DONE)
    assert board.get(0).state is State.RUNNING


def test_a_run_in_steps_counts_attempts_and_clears_what_ended() -> None:
    board = board_at(State.QUEUED)
    board.apply(0, lifecycle.start(3))
    board.apply(0, lifecycle.wait())
    board.apply(0, lifecycle.resume())
    board.apply(0, lifecycle.retry_wait())
    item = board.apply(0, lifecycle.finish(State.FAILED), error="boom", error_class="x")
    assert (item.state, item.attempts, item.worker, item.stage) == (State.FAILED, 2, None, None)
    item = board.apply(0, lifecycle.queue())
    assert (item.state, item.error, item.finished_at) == (State.QUEUED, None, None)


@pytest.mark.parametrize("current", [State.QUEUED, State.RUNNING, State.WAITING])
@pytest.mark.parametrize("target", list(State))
def test_following_another_process_reaches_its_state(current: State, target: State) -> None:
    board = board_at(current)
    assert board.apply(0, *lifecycle.follow(current, target)).state is target


def test_one_module_writes_an_item_state() -> None:
    writers = []
    for package in ("engine", "sessions"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "lifecycle.py" and path.parent.name == "engine":
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"\bstate=", line):
                    writers.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert writers == []


def test_the_architecture_doc_shows_the_table_as_it_is() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert lifecycle.markdown_table() in doc


def test_the_table_says_where_each_verb_leads() -> None:
    rows = {row.split(" | ")[0].strip("| "): row for row in lifecycle.markdown_table().splitlines()}
    for verb in Verb:
        assert one(verb).to.value in rows[verb.value].rsplit("|", 2)[1]
