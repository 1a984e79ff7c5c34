"""The ``bulkscribe`` command: parse flags, build the batch, open the app or run headless."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine.errors import BulkscribeError, UsageError
from tui.options import UsageParser, add_options, settings_flags

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    p = UsageParser(
        prog="bulkscribe",
        description="Bulk-transcribe videos and podcasts into Markdown transcripts.",
        epilog="Manage saved sessions with: bulkscribe sessions --help; "
        "add machines to a batch with: bulkscribe worker --help",
    )
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="URLs, media files, folders, lists (.txt .csv .tsv .xlsx .json) or - for stdin",
    )
    add_options(p)
    p.add_argument("--version", action="version", version=f"bulkscribe {_version()}")
    return p


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("bulkscribe")
    except Exception:  # noqa: BLE001 - running from a source tree without metadata
        return "dev"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)

    from tui.memory import cap_malloc_arenas

    cap_malloc_arenas()

    err = _terminal_class()(stderr=True)
    try:
        if argv[:1] == ["sessions"]:
            return _sessions(argv[1:], err)
        if argv[:1] == ["worker"]:
            from tui.worker_cli import run_worker

            return run_worker(argv[1:], err)
        try:
            # Intermixed: "bulkscribe a.mp3 --workers 8 b.mp3" must keep both files.
            args = build_parser().parse_intermixed_args(argv)
        except SystemExit as exc:  # --help and --version print, then stop
            return int(exc.code or 0)
        from tui.launch import launch

        return launch(args, settings_flags(args), err)
    except UsageError as exc:
        err.print(_error_line(exc), highlight=False)
        return EXIT_USAGE
    except BulkscribeError as exc:
        err.print(_error_line(exc), highlight=False)
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPTED


def _terminal_class() -> type:
    from rich.console import Console

    class Terminal(Console):
        """stderr that goes quiet when its reader is gone, instead of exiting mid-save."""

        def on_broken_pipe(self) -> None:
            # Rich's default raises SystemExit(1) from inside whatever print met the closed
            # pipe; a run whose terminal closed must still stop cleanly and save its session.
            self.quiet = True

    return Terminal


def _error_line(exc: BulkscribeError) -> object:
    from rich.text import Text

    # The message quotes paths, URLs and server replies: print it as data, never as markup.
    return Text.assemble(("error:", "bold red"), " ", exc.user_text)


def _sessions(argv: list[str], err: object) -> int:
    from rich.console import Console

    from sessions import commands

    parser = UsageParser(prog="bulkscribe")
    sub = parser.add_subparsers(dest="command", required=True)
    commands.register(sub)
    args = parser.parse_args(["sessions", *argv])
    return commands.run(args, Console())


if __name__ == "__main__":
    sys.exit(main())
