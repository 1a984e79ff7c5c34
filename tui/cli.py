"""The ``bulkscribe`` command: parse flags, build the batch, open the app or run headless."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine.errors import BulkscribeError, UsageError
from engine.settings import ASR_ENGINES, FORMATS

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, hint="see bulkscribe --help")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
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
    p.add_argument(
        "--headless",
        action="store_true",
        help="no full-screen app: progress on stderr, for scripts",
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        metavar="ID",
        help="carry on the last unfinished session (or session ID) without asking",
    )
    p.add_argument("--new", action="store_true", help="start a new session; never offer to resume")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="parse and count inputs, estimate requests and time; touch no API",
    )
    g = p.add_argument_group("transcription")
    g.add_argument(
        "--asr",
        choices=ASR_ENGINES,
        help="ASR engine (default auto: captions, then API if a key is set, else whisper, else sphinx)",
    )
    g.add_argument(
        "--api-base",
        help="API root (default https://api.openai.com/v1; with --asr deapi https://api.deapi.ai)",
    )
    g.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        help="API key (repeat or comma-separate for several keys); default $OPENAI_API_KEY "
        "($DEAPI_API_KEY with --asr deapi)",
    )
    g.add_argument("--model", help="transcription model for the API (default whisper-1)")
    g.add_argument(
        "--whisper-model",
        help="faster-whisper model name, fetched once into its cache, or a model folder (default small)",
    )
    g.add_argument(
        "--lang",
        dest="languages",
        help="preferred caption languages, e.g. en,en-US; the first is also sent to the API "
        "(without it the API detects the language)",
    )
    g.add_argument(
        "--response-format",
        choices=("auto", "verbose_json", "json", "text"),
        help="what to ask the API for (default auto: by model, json if verbose_json is refused)",
    )
    g.add_argument(
        "--no-captions",
        dest="captions",
        action="store_const",
        const=False,
        help="always transcribe audio, never use existing captions",
    )
    g.add_argument(
        "--chunk-seconds",
        type=float,
        help="cut long media into chunks of this many seconds (default 600)",
    )
    g.add_argument(
        "--deapi-plan",
        choices=("basic", "premium"),
        help="deAPI account type, for its limits: basic 1/min and 10/day, premium 300/min",
    )
    g.add_argument(
        "--daily-limit", type=int, help="requests per UTC day for deAPI (default: the plan's)"
    )
    g.add_argument(
        "--yes",
        action="store_true",
        help="run even when the estimated price is above the deAPI balance (no question asked)",
    )
    g.add_argument("--cookies", help="cookies.txt for sites that need a signed-in browser session")
    g.add_argument("--columns", help="spreadsheet column mapping, e.g. url=Link,title=Name")
    g.add_argument("--sheet", help="workbook sheet to read (default: the first visible one)")
    g.add_argument(
        "--captions-only",
        action="store_const",
        const=True,
        help="fail an item that has no usable captions instead of transcribing its audio",
    )
    c = p.add_argument_group("episodes of feeds and playlists")
    c.add_argument("--since", help="only episodes published on or after DATE (YYYY-MM-DD)")
    c.add_argument("--latest", type=int, metavar="N", help="only the N newest episodes")
    c.add_argument("--episodes", metavar="LIST", help="only these episode numbers, e.g. 3,5-9")
    o = p.add_argument_group("output")
    o.add_argument("-o", "--output", help="output folder (default ./transcripts-DATE-TIME)")
    o.add_argument("--formats", help=f"comma-separated, from {','.join(FORMATS)} (default md)")
    o.add_argument(
        "--timestamps", action="store_const", const=True, help="timestamps at each paragraph"
    )
    o.add_argument(
        "--notify",
        choices=("off", "bell", "osc9", "osc777"),
        help="when a batch finishes: a bell, or a desktop notification via the terminal "
        "(OSC 9 or 777); default off",
    )
    e = p.add_argument_group("engine")
    e.add_argument(
        "--workers",
        type=int,
        help="worker threads, 1-64 (above 1 turns parallel on; default 2 when parallel)",
    )
    e.add_argument(
        "--parallel",
        dest="parallel",
        action="store_const",
        const=True,
        help="run items in parallel (default off)",
    )
    e.add_argument(
        "--no-parallel",
        dest="parallel",
        action="store_const",
        const=False,
        help="one item at a time",
    )
    e.add_argument(
        "--rate-limit",
        help="transcription API limit, e.g. 300/min or 5/s,300/min (default 300/min)",
    )
    e.add_argument("--media-rate-limit", help="limit for YouTube and media hosts (default 60/min)")
    e.add_argument(
        "--rate-mode",
        choices=("shared", "independent"),
        help="one pool for all workers (shared) or one per worker/key",
    )
    e.add_argument(
        "--max-retry-after",
        type=float,
        help="longest Retry-After pause obeyed at once, in seconds (default 900)",
    )
    e.add_argument(
        "--order", choices=("input", "shortest", "longest"), help="processing order (default input)"
    )
    e.add_argument(
        "--retries", type=int, help="retries of transient errors per request (default 3)"
    )
    q = p.add_argument_group("shared quota")
    q.add_argument(
        "--redis",
        metavar="URL",
        help="share the API quota with every bulkscribe using this Redis (redis://host:6379/0)",
    )
    q.add_argument(
        "--quota",
        metavar="NAME",
        help="name of the shared quota (default: a hash of the API base and key)",
    )
    q.add_argument(
        "--distribute",
        action="store_const",
        const=True,
        help="spread the batch over 'bulkscribe worker' processes on any host using --redis "
        "(--workers 0: this process only coordinates)",
    )
    p.add_argument("--version", action="version", version=f"bulkscribe {_version()}")
    return p


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("bulkscribe")
    except Exception:  # noqa: BLE001 - running from a source tree without metadata
        return "dev"


def api_keys(args: argparse.Namespace) -> tuple[str, ...] | None:
    """The keys of every --api-key, each one possibly a comma-separated list; None when none."""
    if not args.api_keys:
        return None
    return tuple(k.strip() for raw in args.api_keys for k in raw.split(",") if k.strip())


def _flags(args: argparse.Namespace) -> dict[str, object]:
    keys = api_keys(args)
    return {
        "asr": args.asr,
        "api_base": args.api_base,
        "api_keys": keys,
        "model": args.model,
        "whisper_model": args.whisper_model,
        "languages": args.languages,
        "asr_language": _first_language(args.languages),
        "response_format": args.response_format,
        "max_retry_after": args.max_retry_after,
        "captions": args.captions,
        "captions_only": args.captions_only,
        "since": args.since,
        "latest": args.latest,
        "episodes": args.episodes,
        "chunk_seconds": args.chunk_seconds,
        "cookies": args.cookies,
        "deapi_plan": args.deapi_plan,
        "daily_limit": args.daily_limit,
        "output": args.output,
        "formats": args.formats,
        "timestamps": args.timestamps,
        "workers": args.workers,
        "parallel": args.parallel,
        "rate_limit": args.rate_limit,
        "media_rate_limit": args.media_rate_limit,
        "rate_mode": args.rate_mode,
        "order": args.order,
        "retries": args.retries,
        "redis": args.redis,
        "quota": args.quota,
        "notify": args.notify,
        "distribute": args.distribute,
    }


def _first_language(languages: str | None) -> str | None:
    if not languages:
        return None
    first = languages.split(",")[0].strip()
    return first or None


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

        return launch(args, _flags(args), err)
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

    parser = _Parser(prog="bulkscribe")
    sub = parser.add_subparsers(dest="command", required=True)
    commands.register(sub)
    args = parser.parse_args(["sessions", *argv])
    return commands.run(args, Console())


if __name__ == "__main__":
    sys.exit(main())
