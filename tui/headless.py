"""Headless runs for scripts: rich progress on stderr, a summary, manifest files, honest exit codes."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.batch import Batch, exit_code
from engine.board import Stats
from engine.items import Item, State
from sessions.live import LiveSession

_SHOWN_EVENTS = {"failed", "429", "retry", "rechunk", "playlist", "daily-limit", "balance"}


def describe_rates(stats: Stats) -> str:
    parts = []
    for service in stats.services:
        if service.granted == 0 and service.service == "media":
            continue
        eff = "" if service.factor >= 1 else f" (slowed to {service.effective_per_min:.0f}/min)"
        parts.append(
            f"{service.service} {service.last_minute}/{service.limit_per_min:.0f} per min{eff}"
        )
    return "  ".join(parts)


def describe_eta(stats: Stats) -> str:
    if stats.eta is None:
        return "ETA --"
    seconds = int(stats.eta)
    return f"ETA {seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def run_headless(live: LiveSession, err: Console) -> int:
    """Run the session to the end; Ctrl-C or SIGTERM stops cleanly (items requeued), exit code 130."""
    batch = live.batch
    stop = threading.Event()
    previous = _install_term_handler(stop)
    cursor = batch.board.cursor()
    interrupted = False
    blocked: str | None = None
    batch.engine.start()
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.1f} items/min"),
            TextColumn("{task.fields[eta]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[limits]}"),
            console=err,
            transient=False,
        ) as progress:
            task = progress.add_task(
                "transcribing", total=len(batch.board), rate=0.0, eta="", limits=""
            )
            while True:
                finished = batch.engine.wait_finished(0.25)
                changes = cursor.pull()
                stats = changes.stats
                for event in changes.events:
                    if event.kind in _SHOWN_EVENTS:
                        style = "red" if event.kind == "failed" else "yellow"
                        progress.console.print(
                            f"[{style}]{event.kind}[/] {event.text}", highlight=False
                        )
                progress.update(
                    task,
                    total=stats.total,
                    completed=stats.finished,
                    rate=stats.items_per_min,
                    eta=describe_eta(stats),
                    limits=describe_rates(stats),
                )
                if finished or stop.is_set():
                    interrupted = stop.is_set() and not finished
                    break
                if batch.engine.blocked and not (
                    stats.count(State.RUNNING) + stats.count(State.WAITING)
                ):
                    blocked = batch.engine.blocked
                    break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        if interrupted:
            err.print("[yellow]stopping: running items go back to the queue…[/]")
        manifest = live.close(interrupted=interrupted)
    items = batch.board.items()
    _summary(err, batch, manifest)
    if live.report_error:
        err.print(f"[bold red]could not write the reports:[/] {live.report_error}", highlight=False)
    if blocked:
        err.print(f"[bold red]stopped:[/] {blocked}", highlight=False)
    if interrupted or blocked:
        err.print(
            f"Session {live.session_id} is saved; run [bold]bulkscribe --resume[/] to carry on."
        )
    return 130 if interrupted else exit_code(items)


def _install_term_handler(stop: threading.Event) -> Any:
    def on_term(signum: int, frame: object) -> None:
        stop.set()

    try:
        return signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (tests driving it from a thread)
        return signal.getsignal(signal.SIGTERM)


def _place(item: Item) -> str:
    """Where a listed item came from, as in "(talks.csv row 3)", unless its error already says."""
    if not item.row:
        return ""
    name = "stdin" if item.origin == "stdin" else Path(item.origin).name
    unit = "item" if name.endswith(".json") else "row"
    if item.origin == "stdin" or name.endswith((".txt", ".list")):
        unit = "line"
    if f"{unit} {item.row}: " in (item.error or ""):
        return ""
    return f" ({name} {unit} {item.row})"


def _summary(err: Console, batch: Batch, manifest: Path) -> None:
    counts = batch.counts()
    table = Table(show_header=True, header_style="bold")
    for state in State:
        if counts.get(state.value):
            table.add_column(state.value, justify="right")
    table.add_row(*(str(counts[s.value]) for s in State if counts.get(s.value)))
    err.print(table)
    failed = [item for item in batch.board.items() if item.state is State.FAILED]
    for item in failed[:20]:
        err.print(f"[red]✗[/] {item.label}{_place(item)}: {item.error}", highlight=False)
    if len(failed) > 20:
        err.print(f"… and {len(failed) - 20} more failures: see {manifest}")
    err.print(f"outputs in [bold]{batch.output_dir}[/]  manifest: {manifest.name}, items.csv")
