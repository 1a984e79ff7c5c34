"""Headless runs for scripts: rich progress on stderr, a summary, manifest files, honest exit codes."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from engine.batch import Batch, exit_code
from engine.board import Stats
from engine.items import Item, State
from sessions.live import LiveSession
from tui.format import shared_quota_text
from tui.signals import StopSignals


def describe_rates(stats: Stats) -> str:
    parts = []
    for service in stats.services:
        if service.granted == 0 and service.service == "media":
            continue
        eff = "" if service.factor >= 1 else f" (slowed to {service.effective_per_min:.0f}/min)"
        if service.quota_note:
            parts.append(service.quota_note)
        shared = "" if service.shared_with is None else f" ({shared_quota_text(service)})"
        parts.append(
            f"{service.service} {service.rate_state} · "
            f"{service.last_minute}/{service.limit_per_min:.0f} per min{eff}{shared}"
        )
    return "  ".join(parts)


def describe_eta(stats: Stats) -> str:
    if stats.eta is None:
        return "ETA --"
    seconds = int(stats.eta)
    return f"ETA {seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Runner(Protocol):
    """What drives the items: the engine itself, or a distributed coordinator."""

    def start(self) -> None: ...

    def wait_finished(self, timeout: float | None = None) -> bool: ...


def run_headless(live: LiveSession, err: Console, runner: Runner | None = None) -> int:
    """Run the session to the end; Ctrl-C, SIGTERM or SIGHUP stop cleanly (items requeued), 130.

    Signals only set a flag the loop reads, so a second Ctrl-C during the clean-up is absorbed:
    the manifest is written and the resume hint printed whatever arrives meanwhile.
    """
    with StopSignals() as signals:
        interrupted, blocked, manifest = _run(live, err, signals.event, runner)
        # Once the terminal is gone (HUP), stderr may refuse writes; the reports are on disk.
        with contextlib.suppress(OSError):
            _report(live, err, manifest, interrupted, blocked, signals)
    return 130 if interrupted else exit_code(live.batch.board.items())


def _run(
    live: LiveSession, err: Console, stop: threading.Event, runner: Runner | None = None
) -> tuple[bool, str | None, Path]:
    batch = live.batch
    cursor = batch.board.cursor()
    interrupted = False
    blocked: str | None = None
    runner = runner or batch.engine
    runner.start()
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.1f} items/min"),
            TextColumn("{task.fields[eta]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[limits]}", markup=False),
            console=err,
            transient=False,
        ) as progress:
            task = progress.add_task(
                "transcribing", total=len(batch.board), rate=0.0, eta="", limits=""
            )
            while True:
                finished = runner.wait_finished(0.25)
                changes = cursor.pull()
                stats = changes.stats
                for event in changes.events:
                    if event.kind.notify:
                        style = event.kind.style or "yellow"
                        # Event text quotes titles, paths and server replies: data, never markup.
                        progress.console.print(
                            Text.assemble((event.kind, style), " ", event.text), highlight=False
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
    except KeyboardInterrupt:  # only off the main thread, where no handler is installed
        interrupted = True
    except OSError:  # the terminal went away mid-line: stop as for a hang-up
        interrupted = True
    finally:
        if interrupted:
            with contextlib.suppress(OSError):
                err.print("[yellow]stopping: running items go back to the queue…[/]")
        stop_runner = getattr(runner, "stop", None)
        if runner is not batch.engine and stop_runner is not None:
            stop_runner()  # a coordinator hands its local items back before the session closes
        manifest = live.close(interrupted=interrupted)
    return interrupted, blocked, manifest


def _report(
    live: LiveSession,
    err: Console,
    manifest: Path,
    interrupted: bool,
    blocked: str | None,
    signals: StopSignals,
) -> None:
    _summary(err, live.batch, manifest)
    if live.report_error:
        err.print(
            Text.assemble(("could not write the reports:", "bold red"), " ", live.report_error),
            highlight=False,
        )
    if live.store_error and live.store_error != blocked:
        err.print(
            Text.assemble(("could not save the session:", "bold red"), " ", live.store_error),
            highlight=False,
        )
    if blocked:
        err.print(Text.assemble(("stopped:", "bold red"), " ", blocked), highlight=False)
    if signals.count > 1:
        err.print(
            f"({signals.count - 1} more stop signal(s) arrived while saving; the save went on)"
        )
    if interrupted or blocked:
        err.print(
            f"Session {live.session_id} is saved; run [bold]bulkscribe --resume[/] to carry on."
        )


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
    silent = [item for item in batch.board.items() if item.meta.get("outcome")]
    if silent:
        err.print(f"{len(silent)} done with no speech found (a note instead of a transcript)")
    failed = [item for item in batch.board.items() if item.state is State.FAILED]
    for item in failed[:20]:
        line = f" {item.label}{_place(item)}: {item.error}"
        err.print(Text.assemble(("✗", "red"), line), highlight=False)
    if len(failed) > 20:
        err.print(Text(f"… and {len(failed) - 20} more failures: see {manifest}"))
    err.print(
        Text.assemble(
            "outputs in ",
            (str(batch.output_dir), "bold"),
            f"  manifest: {manifest.name}, items.csv",
        ),
        highlight=False,
    )
