"""Which session to carry on: named by --resume, or asked at start; a key asked for if none is saved."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from rich.console import Console
from rich.text import Text

from engine.errors import UsageError
from engine.settings import Settings
from sessions.live import LiveSession
from sessions.store import SessionInfo, Store


def describe_session(info: SessionInfo) -> str:
    age = datetime.now(info.updated.tzinfo) - info.updated
    hours = age.total_seconds() / 3600
    when = (
        "just now"
        if hours * 60 < 1
        else f"{hours * 60:.0f} min ago"
        if hours < 1
        else f"{hours:.1f} h ago"
        if hours < 48
        else f"{hours / 24:.0f} days ago"
    )
    how = {
        "running": "interrupted (the app was stopped without quitting, or crashed)",
        "paused": "paused (quit with items left)",
    }.get(info.status, info.status)
    return (
        f"{info.name} ({info.id}): {info.finished_items}/{info.total} finished, last active {when}"
        f"\n{how}\noutput folder: {info.output_dir}"
    )


def resume_asking_for_a_key(
    store: Store, info: SessionInfo, settings: Settings, *, interactive: bool
) -> LiveSession:
    """Resume; keys are never stored, so when the key came from a flag or the environment last
    time and is not given now, the app asks for it (masked) instead of stopping at "no API key"."""
    from engine.errors import AuthError

    try:
        return LiveSession.resume(store, info, settings)
    except AuthError as exc:
        if not interactive or settings.api_keys or "no API key" not in exc.user_text:
            raise
        key = ask_api_key(info.settings.get("api_key_source") or "")
        if not key:
            raise
        return LiveSession.resume(
            store, info, settings.evolve(api_keys=(key,), api_key_source="prompt")
        )


def ask_api_key(source: str) -> str | None:
    from tui.screens.resume import KeyPrompt

    need_terminal()
    return KeyPrompt(source).run()


def session_to_resume(store: Store, args: argparse.Namespace, err: Console) -> SessionInfo | None:
    from sessions.finish import finish_stale_sessions

    # A run killed after its last item finished has nothing to resume, only reports to write.
    for stale in finish_stale_sessions(store):
        err.print(
            Text(f"wrote the reports of finished session {stale.id} in {stale.output_dir}", "dim")
        )
    if args.new:
        return None
    if args.resume:
        if args.resume == "latest":
            info = store.latest_unfinished()
            if info is None:
                raise UsageError(
                    "there is no unfinished session to resume", hint="see bulkscribe sessions list"
                )
            return info
        return store.session(args.resume)
    if args.inputs or args.headless or args.dry_run:
        return None
    unfinished = store.unfinished()
    if not unfinished:
        return None
    if len(unfinished) > 1:
        choice = ask_which([describe_session(info) for info in unfinished])
        if choice is None:  # quit from the list: start nothing
            raise KeyboardInterrupt
        return unfinished[choice] if choice >= 0 else None
    info = unfinished[0]
    answer = ask_resume(describe_session(info))
    if answer is None:  # the prompt was quit (ctrl+q): start nothing, create no empty session
        raise KeyboardInterrupt
    return info if answer else None


def ask_which(descriptions: list[str]) -> int | None:
    """Several unfinished sessions: the index of the one to resume, -1 for a new one, None to quit."""
    from tui.screens.resume import SessionList

    need_terminal()
    return SessionList(descriptions).run()


def need_terminal() -> None:
    """The full-screen app draws on a terminal and reads keys from one: without it, refuse early.

    Started from a script or a service with no terminal, it used to start anyway and leave an empty
    session and output folder behind.
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "the full-screen app needs a terminal (stdin and stdout are not one)",
            hint="add --headless to run without one, with the inputs as arguments",
        )


def ask_resume(description: str) -> bool | None:
    """The start-up question: True to resume, False for a new session, None if the user quit."""
    from tui.screens.resume import ResumePrompt

    need_terminal()
    return ResumePrompt(description).run()
