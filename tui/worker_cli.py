"""``bulkscribe worker``: join a distributed batch from any host and work on its items."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from engine.errors import UsageError
from engine.settings import ASR_ENGINES, Settings

WAIT_FOR_SESSION = 0.5


def build_worker_parser() -> argparse.ArgumentParser:
    from tui.options import UsageParser

    p = UsageParser(
        prog="bulkscribe worker",
        description="Work on the items of a batch started elsewhere with --redis URL --distribute.",
    )
    p.add_argument("--redis", metavar="URL", required=True, help="the coordinator's Redis")
    p.add_argument("--session", metavar="ID", help="session to join (default: the latest started)")
    p.add_argument("--workers", type=int, default=2, help="items at once on this host (default 2)")
    p.add_argument("--asr", choices=ASR_ENGINES, help="ASR engine here (default: the session's)")
    p.add_argument("--api-base", help="API root for this host (default: the session's)")
    p.add_argument("--api-key", dest="api_keys", action="append", help="API key (repeatable)")
    p.add_argument("--model", help="transcription model for the API")
    p.add_argument("--whisper-model", help="faster-whisper model name or local folder")
    p.add_argument("--rate-limit", help="the quota's limit, as the coordinator gives it")
    p.add_argument("--quota", metavar="NAME", help="name of the shared quota")
    p.add_argument("--retries", type=int, help="retries of transient errors per request")
    p.add_argument(
        "--path-map",
        action="append",
        default=[],
        metavar="THEIRS=MINE",
        help="read the coordinator's files under THEIRS from MINE here (repeatable)",
    )
    p.add_argument(
        "--claim-idle",
        type=float,
        default=float(os.environ.get("BULKSCRIBE_CLAIM_IDLE", "30")),
        help="seconds an item may go without its worker's heartbeat before it is redone here",
    )
    return p


def run_worker(argv: Sequence[str], err: Console) -> int:
    from engine.distributed.streams import Streams, connect
    from engine.distributed.wire import LATEST, Keys, host_name
    from engine.distributed.worker import StreamWorker
    from engine.redact import redact_logs
    from tui.config import resolve_settings
    from tui.signals import StopSignals

    redact_logs()
    try:
        args = build_worker_parser().parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    path_map = [_pair(text) for text in args.path_map]
    client = connect(args.redis)
    with StopSignals() as signals:
        session = args.session
        said = False
        while session is None and not signals.event.is_set():
            session = client.get(LATEST)
            if session is not None and client.get(Keys(session).status) == "finished":
                session = None  # the last batch is over: wait for the next coordinator
            if session is None:
                if not said:
                    err.print("waiting for a coordinator (bulkscribe … --redis URL --distribute)")
                    said = True
                signals.event.wait(WAIT_FOR_SESSION)
        if session is None:
            return 130
        keys = Keys(str(session))
        saved = client.get(keys.settings)
        if saved is None:
            raise UsageError(f"no distributed session {session} in this Redis")
        settings = resolve_settings(
            _flags(args), saved=Settings.from_saved(json.loads(saved), redis=args.redis)
        )
        host = host_name()
        consumer = f"{host}:{os.getpid()}"
        worker = StreamWorker(
            Streams(client, keys),
            settings,
            threads=args.workers,
            consumer=consumer,
            host=host,
            path_map=path_map,
            claim_idle=args.claim_idle,
        )
        err.print(
            Text(f"worker {consumer}: session {session}, {args.workers} at once", style="green")
        )
        worker.start()
        try:
            while not signals.event.is_set() and not worker.finished():
                signals.event.wait(0.5)
        finally:
            worker.stop()
        err.print(Text(f"worker {consumer}: {worker.accepted} done, {worker.dropped} dropped"))
        return 130 if signals.event.is_set() else 0


def _pair(text: str) -> tuple[str, str]:
    theirs, sep, mine = text.partition("=")
    if not sep or not theirs or not mine:
        raise UsageError(f"--path-map {text!r} is not THEIRS=MINE", hint="e.g. /data=/mnt/data")
    return theirs, mine


def _flags(args: argparse.Namespace) -> dict[str, object]:
    from tui.options import settings_flags

    return {**settings_flags(args), "distribute": False}
