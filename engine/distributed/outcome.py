"""What a worker sends when an item ends: its transcript, its feed's entries, or why it failed."""

from __future__ import annotations

from typing import Any

from engine.distributed.shipping import ShippingPipeline
from engine.distributed.wire import item_fields
from engine.items import Item, State


def outcome(
    item: Item, pipeline: ShippingPipeline, host: str, consumer: str
) -> tuple[str, dict[str, Any]]:
    """The event kind (done, expanded, failed, cancelled) and its payload for a terminal item."""
    payload: dict[str, Any] = {
        "host": host,
        "worker": consumer,
        "attempts": item.attempts,
        "error": item.error,
        "error_class": item.error_class,
    }
    kind = item.state.value
    children = pipeline.take_children(item.id)
    if item.state is State.DONE and children is not None:
        # A feed or playlist: its entries go back to be published as the session's own items.
        kind = "expanded"
        payload["children"] = [item_fields(child, host)["item"] for child in children]
        payload["meta"] = dict(item.meta)
        payload["title"] = item.title
    elif item.state is State.DONE:
        result = pipeline.take(item.id)
        if result is None:  # ended without a transcript: say so rather than write nothing
            kind, payload["error"] = "failed", "the worker kept no transcript for this item"
        else:
            payload["result"] = result.to_json()
    return kind, payload
