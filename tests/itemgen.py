"""Items as a session holds them after reading a spreadsheet list, for tests and benchmarks."""

from __future__ import annotations

from typing import Any

from engine.items import Item


def listed_video(n: int, url: str, **fields: Any) -> Item:
    """Item ``n`` as read from row ``n + 2`` of list.csv: a video link, its source and location."""
    return Item(
        id=n, source=url, kind="youtube", location=url, row=n + 2, origin="list.csv", **fields
    )
