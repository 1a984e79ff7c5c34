"""``--dry-run``: parse and classify inputs, count them, estimate requests and time; touch no API."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.errors import BulkscribeError
from engine.limits.ratespec import parse_rate
from engine.settings import Settings
from tui.format import hms

ASSUMED_REMOTE_MINUTES = (
    20.0  # a typical talk or episode, used when a URL's length is unknown offline
)


def dry_run(batch: Any, settings: Settings, out: Console) -> int:
    from engine.audio.decode import probe

    counts = batch.counts()
    table = Table(title="Inputs", show_header=True, header_style="bold")
    table.add_column("kind")
    table.add_column("count", justify="right")
    for kind, n in counts.items():
        if n:
            table.add_row(kind, str(n))
    if batch.duplicates:
        table.add_row("duplicates (skipped)", str(len(batch.duplicates)))
    out.print(table)

    known_seconds = 0.0
    requests = 0
    unknown = 0
    problems: list[str] = []
    for source in batch.sources:
        if not source.valid:
            problems.append(source.error or source.raw)
            continue
        if source.kind == "file":
            try:
                info = probe(Path(source.location))
            except BulkscribeError as exc:
                problems.append(f"{source.raw}: {exc.user_text}")
                continue
            seconds = info.duration or 0.0
            known_seconds += seconds
            requests += max(1, math.ceil(seconds / settings.chunk_seconds))
        elif source.kind in ("youtube", "url"):
            unknown += 1
            requests += max(1, math.ceil(ASSUMED_REMOTE_MINUTES * 60 / settings.chunk_seconds))
        else:
            unknown += 1
    from tui.dryrun_feeds import list_chosen

    problems.extend(list_chosen(batch, settings, out))
    spec = parse_rate(settings.rate_limit)
    minutes_at_limit = requests / spec.per_minute if spec.per_minute else 0.0
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="dim")
    summary.add_column()
    summary.add_row("local media", f"{hms(known_seconds)} in files whose length is known")
    if unknown:
        summary.add_row(
            "remote items",
            f"{unknown} (length unknown offline; assumed {ASSUMED_REMOTE_MINUTES:.0f} min each; "
            "YouTube captions, when present, need no ASR request; playlists expand when run)",
        )
    summary.add_row("ASR requests", f"about {requests} (chunks of {settings.chunk_seconds:.0f} s)")
    summary.add_row("rate limit", f"{spec} ({settings.rate_mode})")
    summary.add_row(
        "time at the limit", f"at least {hms(minutes_at_limit * 60)} if the limit binds"
    )
    workers = settings.workers if settings.parallel else 1
    summary.add_row("workers", f"{workers} ({'parallel' if workers > 1 else 'sequential'})")
    out.print(summary)
    if problems:
        out.print(f"[red]{len(problems)} input(s) will fail:[/]")
        for text in problems[:30]:
            out.print(Text.assemble("  ", ("✗", "red"), " ", text), highlight=False)
        if len(problems) > 30:
            out.print(f"  … and {len(problems) - 30} more")
    out.print("[dim]Dry run: no API was contacted and nothing was written.[/]")
    return 1 if problems else 0


def dry_run_resume(store: Any, info: Any, out: Console) -> int:
    """``--resume --dry-run``: what is left in the session and where it would go; nothing runs."""
    from engine.items import State

    items = store.load_items(info.id)
    left = [item for item in items if not item.state.terminal]
    table = Table(title=Text(f"Session {info.id}: {info.name}"), show_header=True)
    table.add_column("state")
    table.add_column("count", justify="right")
    for state in State:
        n = sum(1 for item in items if item.state is state)
        if n:
            table.add_row(state.value, str(n))
    out.print(table)
    out.print(Text(f"{len(left)} item(s) would carry on; outputs in {info.output_dir}"))
    out.print(
        Text("Dry run: nothing was transcribed and the session was not changed.", style="dim")
    )
    return 0
