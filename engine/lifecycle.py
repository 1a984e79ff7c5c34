"""The only writer of an item's state: the table of legal transitions and the changes each one makes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from engine.items import TERMINAL, Item, State

ACTIVE = frozenset({State.RUNNING, State.WAITING})
UNFINISHED = frozenset({State.QUEUED, *ACTIVE})


class Verb(StrEnum):
    """What happens to an item. Each verb lists the states it may leave (``ALLOWED``)."""

    QUEUE = "queue"  # queued again after it finished: a retry asked for by the person
    START = "start"  # a worker takes it: one more attempt
    STAGE = "stage"  # it enters a new stage of its work
    WAIT = "wait"  # it waits for a rate-limit permit or a day quota
    RESUME = "resume"  # the wait is over
    RETRY_WAIT = "retry-wait"  # its attempt failed transiently; another one follows a back-off
    FINISH = "finish"  # done, failed, skipped or cancelled
    REQUEUE = "requeue"  # interrupted (a stop, a block, a crash): back to the queue, not its fault


ALLOWED: Mapping[Verb, frozenset[State]] = MappingProxyType(
    {
        Verb.QUEUE: frozenset({State.FAILED, State.CANCELLED, State.SKIPPED}),
        Verb.START: frozenset({State.QUEUED}),
        Verb.STAGE: ACTIVE,
        Verb.WAIT: ACTIVE,
        Verb.RESUME: ACTIVE,
        Verb.RETRY_WAIT: ACTIVE,
        Verb.FINISH: UNFINISHED,
        Verb.REQUEUE: ACTIVE,
    }
)


class IllegalTransition(ValueError):
    """A verb asked of an item in a state it may not leave that way: a bug, refused loudly."""

    def __init__(self, verb: Verb, state: State, item_id: int) -> None:
        super().__init__(f"item {item_id}: cannot {verb.value} from {state.value}")
        self.verb, self.state, self.item_id = verb, state, item_id


@dataclass(frozen=True, slots=True)
class Transition:
    """One verb with the state it leads to and the facts written with it, in one step."""

    verb: Verb
    to: State
    changes: Mapping[str, Any] = field(default_factory=dict)
    attempt: bool = False  # counts one more attempt


def queue() -> Transition:
    return Transition(
        Verb.QUEUE,
        State.QUEUED,
        {"stage": None, "error": None, "error_class": None, "finished_at": None, "worker": None},
    )


def start(worker: int, stage: str = "starting") -> Transition:
    # Each run times itself: a retry or a resume days later must not count the gap.
    changes = {"stage": stage, "worker": worker, "started_at": time.time(), "finished_at": None}
    return Transition(Verb.START, State.RUNNING, changes, attempt=True)


def stage(name: str) -> Transition:
    return Transition(Verb.STAGE, State.RUNNING, {"stage": name})


def wait() -> Transition:
    return Transition(Verb.WAIT, State.WAITING)


def resume() -> Transition:
    return Transition(Verb.RESUME, State.RUNNING)


def retry_wait() -> Transition:
    return Transition(Verb.RETRY_WAIT, State.RUNNING, attempt=True)


def finish(outcome: State, *, stamp: bool = True) -> Transition:
    """End the item with ``outcome`` (a terminal state); ``stamp`` records the finishing time."""
    if outcome not in TERMINAL:
        raise ValueError(f"{outcome.value} is not an outcome")
    changes: dict[str, Any] = {"stage": None, "worker": None}
    if outcome is State.DONE:
        changes |= {"error": None, "error_class": None}
    if stamp:
        changes["finished_at"] = time.time()
    return Transition(Verb.FINISH, outcome, changes)


def requeue() -> Transition:
    return Transition(Verb.REQUEUE, State.QUEUED, {"stage": None, "worker": None})


def follow(current: State, target: State) -> tuple[Transition, ...]:
    """The transitions that bring an item from ``current`` to ``target`` as another process saw it
    (a distributed worker's reports may skip a step); none when it is there already."""
    if target in TERMINAL:
        return (finish(target),)
    if target is State.QUEUED:
        return (requeue(),) if current in ACTIVE else ()
    steps: list[Transition] = []
    if current is State.QUEUED:
        steps.append(Transition(Verb.START, State.RUNNING))
    if target is State.WAITING and current is not State.WAITING:
        steps.append(wait())
    elif target is State.RUNNING and current is State.WAITING:
        steps.append(resume())
    return tuple(steps)


def applied(item: Item, *transitions: Transition, **facts: Any) -> Item:
    """The item after ``transitions`` in order, then ``facts``; IllegalTransition if one is refused.

    Pure: code that builds items (an invalid input born failed, a crashed session's running items
    requeued on load) calls it directly; the Board uses ``changes`` under its lock.
    """
    found = changes(item, *transitions, **facts)
    return item.evolve(**found) if found else item


def changes(item: Item, *transitions: Transition, **facts: Any) -> dict[str, Any]:
    """The fields ``transitions`` then ``facts`` change on ``item``; IllegalTransition if refused."""
    if "state" in facts:
        refuse_state(facts)
    found: dict[str, Any] = {}
    state, attempts = item.state, item.attempts
    for transition in transitions:
        if state not in ALLOWED[transition.verb]:
            raise IllegalTransition(transition.verb, state, item.id)
        state = transition.to
        attempts += transition.attempt
        found |= transition.changes
    found |= facts
    if transitions:
        found["state"] = state
    if attempts != item.attempts:
        found["attempts"] = attempts
    return found


def refuse_state(facts: Mapping[str, Any]) -> None:
    """Facts never carry a state: that goes through a transition."""
    if "state" in facts:
        raise TypeError("an item's state changes only through engine.lifecycle transitions")


def markdown_table() -> str:
    """The table as docs/architecture.md shows it (a test keeps the two the same)."""
    to = {
        Verb.QUEUE: "queued",
        Verb.START: "running",
        Verb.STAGE: "running",
        Verb.WAIT: "waiting",
        Verb.RESUME: "running",
        Verb.RETRY_WAIT: "running",
        Verb.FINISH: "done, failed, skipped or cancelled",
        Verb.REQUEUE: "queued",
    }
    lines = ["| verb | from | to |", "| --- | --- | --- |"]
    for verb, states in ALLOWED.items():
        froms = ", ".join(state.value for state in State if state in states)
        lines.append(f"| {verb.value} | {froms} | {to[verb]} |")
    return "\n".join(lines)
