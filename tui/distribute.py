"""The coordinator side of ``--distribute``: a Coordinator wired to a live session."""

from __future__ import annotations

import os

from engine.distributed.coordinator import Coordinator
from engine.distributed.streams import Streams, connect
from engine.distributed.wire import COORDINATOR, Keys, host_name
from engine.distributed.worker import StreamWorker
from engine.errors import UsageError
from sessions.live import LiveSession

CLAIM_IDLE = float(os.environ.get("BULKSCRIBE_CLAIM_IDLE", "30"))


def coordinator_for(live: LiveSession, local_threads: int | None) -> Coordinator:
    settings = live.batch.settings
    if not settings.redis:
        raise UsageError("--distribute needs --redis URL", hint="e.g. --redis redis://host:6379/0")
    streams = Streams(connect(settings.redis), Keys(live.session_id))
    threads = live.batch.engine.workers if local_threads is None else local_threads
    host = host_name()

    def local_worker() -> StreamWorker:
        # Same code path as a remote worker; it alone may also take files only this host can read.
        return StreamWorker(
            streams,
            settings,
            threads=threads,
            consumer=f"{host}:{COORDINATOR}:{os.getpid()}",
            host=host,
            read_local=True,
            claim_idle=CLAIM_IDLE,
            transcriber=None,
        )

    return Coordinator(
        live.batch,
        streams,
        live.session_id,
        host=host,
        local_threads=threads,
        claim_idle=CLAIM_IDLE,
        local_worker=local_worker,
        commit=live.recorder.flush,
    )
