"""Item.evolve: the copy every state change makes is the copy dataclasses.replace would make."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest

from engine.items import Item, State


def test_evolve_makes_what_replace_makes_and_leaves_the_original() -> None:
    item = Item(3, "talk.mp3", title="Talk", meta={"show": "S"}, preview=("a",))
    changes = {"state": State.RUNNING, "stage": "download", "attempts": 2, "version": 9}
    evolved = item.evolve(**changes)
    assert evolved == dataclasses.replace(item, **changes)
    assert (item.state, item.stage, item.version) == (State.QUEUED, None, 0)
    assert evolved.meta is item.meta  # unchanged fields are shared, not copied
    assert item.evolve() == item and item.evolve() is not item


def test_evolve_freezes_mappings_and_refuses_unknown_fields() -> None:
    given = {"md": "out/talk.md"}
    evolved = Item(0, "a").evolve(outputs=given)
    given["txt"] = "out/talk.txt"  # the caller's dict changing later changes nothing
    assert isinstance(evolved.outputs, MappingProxyType)
    assert dict(evolved.outputs) == {"md": "out/talk.md"}
    with pytest.raises(TypeError, match="no field 'stat'"):
        Item(0, "a").evolve(stat=State.DONE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        evolved.state = State.DONE  # type: ignore[misc]
