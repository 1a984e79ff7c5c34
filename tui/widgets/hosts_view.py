"""The hosts of a distributed batch as the Workers pane shows them: a line per host, one per process."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from rich.text import Text


@dataclass(frozen=True, slots=True)
class ProcessRow:
    """One worker process on a host, as its last heartbeat said."""

    pid: int
    threads: int
    running: int
    lost: bool


@dataclass(frozen=True, slots=True)
class HostRow:
    """One host of the batch: its live processes, what they hold, what it has done."""

    host: str
    here: bool  # the coordinator's own host
    threads: int  # items at once, over its live processes
    running: int
    done: int  # items of the session finished there
    lost: bool  # no process of it heartbeats any more
    requeued: int  # its items shown as queued again when it was lost
    draining: bool
    processes: tuple[ProcessRow, ...] = ()


@runtime_checkable
class HostSource(Protocol):
    """What drives a distributed batch, as the Workers pane steers it."""

    def host_rows(self) -> Sequence[HostRow]: ...

    def set_host_workers(self, host: str, count: int) -> None: ...

    def toggle_host_drain(self, host: str) -> None: ...


def render_hosts(rows: Sequence[HostRow], selected: int | None) -> Text:
    """Host lines (the selected one marked), each followed by its processes; host names are data."""
    text = Text()
    if not rows:
        text.append("No workers have joined yet.", style="dim")
        text.append("\nOn another machine: bulkscribe worker --redis URL", style="dim")
        return text
    for index, row in enumerate(rows):
        mark = "▸ " if index == selected else "  "
        text.append(mark, style="bold")
        text.append(row.host, style="bold reverse" if index == selected else "bold")
        if row.here:
            text.append(" (here)", style="dim")
        if row.lost:
            text.append(" ✗ lost", style="red")
            if row.requeued:
                text.append(f" · {row.requeued} requeued")
        elif row.draining:  # said first: a narrow pane cuts the end of the line
            text.append(" ◐ draining", style="yellow")
            text.append(f" · {row.running} running")
        else:
            text.append(" ●", style="green")
            text.append(f" {row.threads} at once · {row.running} running")
        text.append(f" · {row.done} done")
        text.append("\n")
        for process in row.processes:
            if not process.lost:
                text.append(f"    pid {process.pid} · {process.threads} at once\n", style="dim")
            elif not row.lost:
                text.append(f"    pid {process.pid} ✗ lost\n", style="red")
    text.append("↑↓ host · + − items at once · d drain/resume", style="dim")
    return text
