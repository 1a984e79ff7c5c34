"""From parsed flags to a live session: open the store, start new or resume, then hand to a face."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from engine.batch import exit_code
from engine.errors import UsageError
from engine.output_folder import prepare_output_folder
from engine.outputs.manifest import ITEMS_CSV_NAME, MANIFEST_NAME
from engine.redact import redact_logs, redact_text
from engine.settings import Settings
from sessions.live import LiveSession
from sessions.store import Store
from tui.resume_choice import (
    describe_session,
    need_terminal,
    resume_asking_for_a_key,
    session_to_resume,
)
from tui.signals import StopSignals

if TYPE_CHECKING:
    from engine.distributed.coordinator import Coordinator

EXIT_INTERRUPTED = 130


def default_output() -> Path:
    return Path.cwd() / f"transcripts-{datetime.now():%Y-%m-%d-%H%M%S}"


def open_store(err: Console) -> Store:
    store = Store.open()
    if store.recovered_from is not None:
        err.print(
            Text(
                f"Your session database was unreadable; it was moved to {store.recovered_from} "
                "and a new one started.",
                style="yellow",
            )
        )
    return store


def launch(args: argparse.Namespace, flags: dict[str, Any], err: Console) -> int:
    from engine.inputs import parse_columns, read_inputs
    from tui.config import resolve_settings
    from tui.keymap import app_keymap

    redact_logs()
    # --distribute --workers 0: this process coordinates and transcribes nothing itself.
    local_threads = flags.get("workers")
    if flags.get("distribute") and local_threads == 0:
        flags = {**flags, "workers": None}
    columns = parse_columns(args.columns) if args.columns else None
    if args.resume and args.new:
        raise UsageError("--resume and --new contradict each other")
    # Read before any session starts: a wrong binding id is a start-up error, like a wrong setting.
    keymap = {} if args.headless or args.dry_run else app_keymap()

    def warn(text: str) -> None:
        err.print(Text.assemble(("warning:", "yellow"), " ", text), highlight=False)

    store = open_store(err)
    try:
        info = session_to_resume(store, args, err)
        if info is not None:
            saved = Settings.from_saved(dict(info.settings))
            settings = resolve_settings(flags, saved=saved, warn=warn)
            if args.dry_run:  # report what a resume would do; run nothing, spend no quota
                from tui.dryrun import dry_run_resume

                return dry_run_resume(store, info, Console())
            if info.settings.get("api_base_withheld") and flags.get("api_base") is None:
                raise UsageError(
                    "this session's --api-base held a password or key, which is never saved",
                    hint="give --api-base again with --resume",
                )
            prepare_output_folder(Path(settings.output or info.output_dir))
            live = resume_asking_for_a_key(store, info, settings, interactive=not args.headless)
            if args.inputs:
                resumed_inputs = read_inputs(
                    args.inputs, columns=columns, sheet=args.sheet, stdin=sys.stdin
                )
                _print_notes(resumed_inputs.notes, err)
                live.batch.add_sources(resumed_inputs.sources)
            err.print(Text.assemble(("Resuming", "green"), " ", describe_session(info)))
        else:
            settings = resolve_settings(flags, warn=warn)
            batch_inputs = read_inputs(
                args.inputs, columns=columns, sheet=args.sheet, stdin=sys.stdin
            )
            _print_notes(batch_inputs.notes, err)
            if args.dry_run and settings.asr == "deapi":
                from tui.deapi_costs import deapi_dry_run

                return deapi_dry_run(batch_inputs, settings, Console())
            if args.dry_run:
                from tui.dryrun import dry_run

                return dry_run(batch_inputs, settings, Console())
            if not batch_inputs.sources and args.headless:
                raise UsageError(
                    "nothing to transcribe",
                    hint="give URLs, files, folders or a list, or --resume to continue a session",
                )
            if not args.headless:
                need_terminal()
            if settings.asr == "deapi" and batch_inputs.sources:
                from tui.deapi_costs import check_funds

                check_funds(
                    batch_inputs.sources, settings, err, headless=args.headless, yes=args.yes
                )
            output = Path(settings.output).expanduser() if settings.output else default_output()
            existed = output.resolve().exists()
            settings = settings.evolve(output=str(prepare_output_folder(output.resolve())))
            # Inputs are kept in the session as given, but never with credentials inside URLs.
            given = [redact_text(arg) for arg in args.inputs]
            try:
                live = LiveSession.create(store, settings, given, batch_inputs.sources)
            except BaseException:
                # A run that cannot start (no model, no key) leaves no empty folder behind.
                if not existed:
                    with contextlib.suppress(OSError):
                        Path(settings.output).rmdir()
                raise
            if batch_inputs.duplicates:
                err.print(f"[dim]skipped {len(batch_inputs.duplicates)} duplicate input(s)[/]")
        choice = live.batch.asr_choice
        # Text, not markup: the reason can hold a folder name with brackets in it.
        err.print(Text(f"ASR: {choice.engine} ({choice.reason})", style="dim"))
        runner = None
        if live.batch.settings.distribute:
            from tui.distribute import coordinator_for

            runner = coordinator_for(live, local_threads)
        if args.headless:
            from tui.headless import run_headless

            return run_headless(live, err, runner)
        return _run_app(live, columns, err, sheet=args.sheet, keymap=keymap, runner=runner)
    finally:
        store.close()


def _print_notes(notes: tuple[str, ...], err: Console, limit: int = 20) -> None:
    """What was decided while reading the lists (which column, which fallback), as plain text."""
    from rich.text import Text

    for note in notes[:limit]:
        err.print(Text(note, style="dim"))
    if len(notes) > limit:
        err.print(Text(f"… and {len(notes) - limit} more notes like these", style="dim"))


def _run_app(
    live: LiveSession,
    columns: dict[str, str] | None,
    err: Console,
    *,
    sheet: str | None = None,
    keymap: dict[str, str] | None = None,
    runner: Coordinator | None = None,
) -> int:
    from engine.inputs import read_inputs
    from tui.app import BulkscribeApp
    from tui.distribute import DistributedRun

    app = BulkscribeApp(
        live.batch,
        session_name=live.name,
        read_inputs=lambda lines: read_inputs(lines, columns=columns, sheet=sheet),
        on_finished=live.batch_finished,
        keymap=keymap,
        notify=live.batch.live_settings().notify,
        engine=DistributedRun(runner) if runner is not None else None,
    )
    interrupted = False
    with StopSignals(on_stop=lambda signum: _quit_app(app)) as signals:
        try:
            app.run()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            # Still inside StopSignals: another Ctrl-C or a HUP now cannot cut the save short.
            interrupted = interrupted or signals.event.is_set()
            manifest = live.close(interrupted=interrupted)
    if not live.batch.board.items():
        # A new session left without adding anything (say, after declining to resume): keep no
        # empty session and no empty folder behind.
        _forget_empty(live)
        return 0
    counts = live.batch.counts()
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    err.print(
        Text(
            f"bulkscribe: {summary or 'nothing to do'}; "
            f"outputs in {live.batch.output_dir} ({manifest.name})"
        )
    )
    unfinished = not all(item.state.terminal for item in live.batch.board.items())
    if unfinished:
        err.print(
            f"Session {live.session_id} is saved; run [bold]bulkscribe --resume[/] to carry on."
        )
    # Quitting before the end is a stop, not a failure: scripts see the same code as for Ctrl-C.
    return EXIT_INTERRUPTED if interrupted or unfinished else exit_code(live.batch.board.items())


def _forget_empty(live: LiveSession) -> None:
    from contextlib import suppress

    with suppress(Exception):  # best effort: the run itself is over
        live.store.delete(live.session_id)
    output = live.batch.output_dir
    reports = {MANIFEST_NAME, ITEMS_CSV_NAME}  # written by close(), about no items at all
    with suppress(OSError):
        if output.is_dir() and {p.name for p in output.iterdir()} <= reports:
            for name in reports:
                (output / name).unlink(missing_ok=True)
            output.rmdir()


def _quit_app(app: Any) -> None:
    """SIGTERM, SIGHUP (``kill``, a logout, the terminal closed) quit the app as ``q`` would.

    Without this the process died on the spot, leaving the terminal in the app's screen mode and
    the session without its manifest.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # the app is not running: the close that follows does the rest
        return
    loop.call_soon_threadsafe(app.exit)
