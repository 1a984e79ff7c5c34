"""Resolve stage: inputs into items, a retried bad input looked at afresh, feeds found by URL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.item_caps import cap_title, cap_value
from engine.items import Item, State
from engine.lifecycle import applied, finish
from engine.redact import has_masked_secret
from engine.run.job import Job
from engine.sources.episodes import EpisodeChoice
from engine.sources.expand import MEDIA_SERVICE
from engine.sources.feed_fetch import fetch_feed, may_be_feed
from engine.sources.feeds import Feed
from engine.storable import shown


def refuse_lost_secret(item: Item) -> None:
    """Secrets are never stored, so a signed link read back from the session has lost its token;
    fetching it would only earn a 403 from the host."""
    if item.kind != "file" and has_masked_secret(item.location):
        raise InputError(
            "this link's secret (a token in it) is not kept between runs",
            hint="add the link again to this session: bulkscribe --resume ID 'LINK'",
        )


def feed_at(job: Job, item: Item) -> Feed | None:
    """The podcast feed a plain URL item points at, or None when it is media (or a page)."""
    if item.kind != "url" or "episode" in item.meta or not may_be_feed(item.location):
        return None
    job.acquire(MEDIA_SERVICE)
    return fetch_feed(item.location)


def reclassify(job: Job, item: Item) -> Item:
    """A retried bad input is looked at afresh: the missing file may exist now, the row fixed."""
    from engine.inputs import classify

    origin = item.origin
    bases = [Path(origin).parent] if origin not in ("", "args", "stdin") else []
    kind, location, error = classify(item.source, bases=bases)
    if kind == "invalid":
        reason = error or item.meta.get("input_error") or "unusable input"
        unit = "line" if origin.endswith((".txt", ".list")) else "row"
        where = f"{Path(origin).name} {unit} {item.row}: " if item.row and origin else ""
        raise InputError(reason if reason.startswith(where) else f"{where}{reason}")
    job.update(kind=kind, location=location)
    return job.item


def items_from_sources(
    sources: Sequence[Any], *, choice: EpisodeChoice | None = None
) -> list[Item]:
    """Turn parsed input sources into engine items; invalid ones start out failed with their reason.

    ``choice`` (episodes to take) travels with each feed or playlist item that may expand.
    """
    items = []
    for source in sources:
        meta: dict[str, Any] = {}
        if source.extras:
            meta["extras"] = cap_value(dict(source.extras))
        if getattr(source, "notes", ()):
            meta["input_notes"] = list(source.notes)
        if choice is not None and source.kind in ("url", "playlist"):
            meta["choose"] = choice.to_meta()
        if not source.valid:
            items.append(
                applied(  # an invalid input is born failed
                    Item(
                        -1,
                        source=shown(source.raw),
                        kind="invalid",
                        row=source.row,
                        origin=source.origin,
                        error_class="input",
                        error=source.error,
                        meta={**meta, "input_error": source.error},
                    ),
                    finish(State.FAILED, stamp=False),
                )
            )
            continue
        items.append(
            Item(
                -1,
                source=shown(source.raw),  # what people see; ``location`` opens the file
                kind=source.kind,
                location=source.location,
                row=source.row,
                origin=source.origin,
                title=cap_title(source.title),
                meta=meta,
            )
        )
    return items
