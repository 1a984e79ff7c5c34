"""A local media host on 127.0.0.1: files with Range support, video pages, status codes, injected faults."""

from __future__ import annotations

import html
import mimetypes
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

_CONTENT_TYPES = {
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".mp4": "video/mp4",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "application/x-subrip",
    ".json3": "application/json",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/rss+xml",
    ".txt": "text/plain; charset=utf-8",
}

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class RequestRecord:
    """One request the host received, in arrival order."""

    method: str
    path: str
    time: float
    range: str | None = None
    cookie: str | None = None
    status: int | None = None  # set for injected failures; None when served normally
    query: str = ""  # the query string as sent, so a test can see a signed link's token arrive


@dataclass(frozen=True)
class Track:
    """A <track> element on a page: caption file (served from the folder), language and kind."""

    src: str
    srclang: str = "en"
    kind: str = "subtitles"
    label: str = ""


@dataclass(frozen=True)
class Page:
    """A page at /page/<name>.html with one <video> (or <audio>) element."""

    media: str
    title: str
    tracks: tuple[Track, ...] = ()
    description: str = ""


@dataclass
class _Faults:
    """Faults queued for coming requests; each request takes at most one, in queue order."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    queue: list[tuple[str, float, str | None, tuple[tuple[str, str], ...]]] = field(
        default_factory=list
    )

    def add(
        self,
        count: int,
        kind: str,
        value: float,
        path: str | None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        with self.lock:
            self.queue.extend([(kind, value, path, headers)] * count)

    def take(self, path: str) -> tuple[str, float, tuple[tuple[str, str], ...]] | None:
        with self.lock:
            for index, (kind, value, only, headers) in enumerate(self.queue):
                if only is None or only == path:
                    del self.queue[index]
                    return kind, value, headers
        return None


class MediaHost:
    """Serve ``root`` at ``/media/...`` plus ``/page/<name>.html`` and ``/status/<code>``.

    Use as a context manager; ``base_url`` is ``http://127.0.0.1:<port>``.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.pages: dict[str, Page] = {}
        self.content_types: dict[str, str] = {}
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._faults = _Faults()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def media_url(self, name: str) -> str:
        return self.url(f"media/{name}")

    def add_page(
        self,
        name: str,
        media: str,
        *,
        title: str | None = None,
        tracks: Sequence[Track] = (),
        description: str = "",
    ) -> str:
        """Register a video page for a served media file; returns its URL."""
        self.pages[name] = Page(media, title or name, tuple(tracks), description)
        return self.url(f"page/{name}.html")

    def fail_next(
        self,
        count: int,
        status: int = 503,
        *,
        path: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests (only those for ``path``, if given) with ``status``.

        ``retry_after`` adds the header YouTube sends with a 429 on timedtext URLs (yt-dlp
        issue #13831 quotes "HTTP Error 429: Too Many Requests" replies carrying Retry-After).
        """
        headers = (("Retry-After", retry_after),) if retry_after is not None else ()
        self._faults.add(count, "fail", status, path, headers)

    def html_next(self, count: int, *, path: str | None = None) -> None:
        """Answer with a 200 HTML page (a consent or error page) instead of the file asked for."""
        self._faults.add(count, "html", 200, path)

    def content_type(self, name: str, value: str) -> None:
        """Serve /media/<name> with this Content-Type (a charset or its absence, a wrong type)."""
        self.content_types[name] = value

    def hang_next(self, count: int, seconds: float = 5.0, *, path: str | None = None) -> None:
        """Hold the next ``count`` requests silent for ``seconds``, then drop them."""
        self._faults.add(count, "hang", seconds, path)

    def clear_faults(self) -> None:
        with self._faults.lock:
            self._faults.queue.clear()

    @property
    def requests(self) -> list[RequestRecord]:
        with self._log_lock:
            return list(self._log)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def __enter__(self) -> MediaHost:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _record(self, record: RequestRecord) -> None:
        with self._log_lock:
            self._log.append(record)

    def _page_html(self, page: Page) -> str:
        tag = "audio" if page.media.endswith((".mp3", ".m4a", ".wav", ".ogg", ".flac")) else "video"
        kind = _content_type(Path(page.media)).split(";")[0]
        tracks = "".join(
            f'<track kind="{t.kind}" srclang="{t.srclang}" label="{html.escape(t.label or t.srclang)}"'
            f' src="/media/{t.src}">'
            for t in page.tracks
        )
        desc = html.escape(page.description)
        return (
            "<!DOCTYPE html><html><head>"
            f"<title>{html.escape(page.title)}</title>"
            f'<meta property="og:description" content="{desc}">'
            "</head><body>"
            f'<{tag} controls><source src="/media/{page.media}" type="{kind}">{tracks}</{tag}>'
            "</body></html>"
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

            def do_GET(self) -> None:
                self._serve(body=True)

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def _serve(self, body: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                fault = host._faults.take(path)
                host._record(
                    RequestRecord(
                        self.command,
                        path,
                        time.monotonic(),
                        self.headers.get("Range"),
                        self.headers.get("Cookie"),
                        int(fault[1]) if fault and fault[0] == "fail" else None,
                        urlsplit(self.path).query,
                    )
                )
                if fault and fault[0] == "hang":
                    host._closing.wait(fault[1])
                    self.close_connection = True
                    return
                if fault and fault[0] == "html":
                    page = b"<!DOCTYPE html><html><body>Before you continue</body></html>"
                    return self._send_bytes(200, page, "text/html; charset=utf-8", body)
                if fault:
                    return self._send_bytes(
                        int(fault[1]), b"injected failure\n", "text/plain", body, fault[2]
                    )
                if m := re.fullmatch(r"/redirect\.mp3/([^/]+)/(.+)", path):
                    # Podtrac-style measurement prefix: "dts.podtrac.com/redirect.mp3/HOST/PATH"
                    # answers 302 to http(s)://HOST/PATH (Podtrac's publisher set-up guide).
                    self.send_response(302)
                    self.send_header("Location", f"http://{m.group(1)}/{m.group(2)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if m := re.fullmatch(r"/status/(\d{3})", path):
                    code = int(m.group(1))
                    return self._send_bytes(code, f"status {code}\n".encode(), "text/plain", body)
                if m := re.fullmatch(r"/page/(.+)\.html", path):
                    page = host.pages.get(m.group(1))
                    if page is None:
                        return self._send_bytes(404, b"no such page\n", "text/plain", body)
                    data = host._page_html(page).encode()
                    return self._send_bytes(200, data, "text/html; charset=utf-8", body)
                if path.startswith("/media/"):
                    return self._send_file(path.removeprefix("/media/"), body)
                self._send_bytes(404, b"not found\n", "text/plain", body)

            def _send_bytes(
                self,
                code: int,
                data: bytes,
                ctype: str,
                body: bool,
                headers: tuple[tuple[str, str], ...] = (),
            ) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def _send_file(self, rel: str, body: bool) -> None:
                target = (host.root / rel).resolve()
                if not target.is_relative_to(host.root) or not target.is_file():
                    return self._send_bytes(404, b"not found\n", "text/plain", body)
                size = target.stat().st_size
                start, end, code = 0, size - 1, 200
                if rng := self.headers.get("Range"):
                    parsed = _parse_range(rng, size)
                    if parsed is None:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    start, end = parsed
                    code = 206
                self.send_response(code)
                self.send_header(
                    "Content-Type", host.content_types.get(rel) or _content_type(target)
                )
                self.send_header("Content-Length", str(end - start + 1))
                self.send_header("Accept-Ranges", "bytes")
                if code == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                self.end_headers()
                if body:
                    with target.open("rb") as fh:
                        fh.seek(start)
                        self.wfile.write(fh.read(end - start + 1))

        return Handler


def _content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    return (
        _CONTENT_TYPES.get(suffix)
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Inclusive (start, end) for a single byte range, or None when it cannot be satisfied."""
    m = _RANGE.fullmatch(header.strip())
    if not m or size == 0 or not (m.group(1) or m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:  # suffix range: the last N bytes
        length = int(last)
        return (max(0, size - length), size - 1) if length else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end else None
