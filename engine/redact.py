"""Secrets out of every stored or shown text: URL passwords, secret query parameters, API keys.

Requests use the real URL; everything else (the session store, reports, notes, the screen, error
messages) goes through ``redact_text``. Every pattern here is linear in the text's length: a
scheme is at most 32 characters and a password search looks at most ``_USERINFO_REACH`` ahead.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"

# Names of query parameters that carry a credential: signed-URL schemes (AWS SigV4, Google Cloud
# Storage, Azure SAS, CloudFront, Akamai), OAuth, API keys, and the common ad-hoc names.
SECRET_PARAMETERS = frozenset(
    {
        "token", "access_token", "refresh_token", "id_token", "auth_token", "auth", "authorization",
        "sig", "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token",
        "x-goog-signature", "x-goog-credential", "key-pair-id", "policy", "hdnts", "hmac",
        "key", "api_key", "apikey", "api-key", "access_key", "secret", "client_secret",
        "password", "passwd", "pass", "pwd", "session", "sessionid", "jwt", "code", "pot",
    }
)  # fmt: skip

# A scheme and "://"; bounded, so a long run of letters costs a constant per letter.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{0,31}://")
_PARAMETER = re.compile(r"([?&;])([A-Za-z0-9_.\-]{1,40})=([^&;#\s\"'<>\\]*)")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*")
_OPENAI_KEY = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(?::\d+)?(?=[/?#\s\"'<>]|$)")
_DELIM = re.compile(r"[/?#]")
_TOKEN_END = re.compile(r"[\s\"'<>]")
# How far past a '/', '?' or '#' a password may run before its '@' (an unencoded one).
_USERINFO_REACH = 256

_known: set[str] = set()
_known_lock = threading.Lock()


def remember_secret(value: str) -> None:
    """Make ``value`` (an API key) vanish from every redacted text from now on."""
    if len(value) >= 4:
        with _known_lock:
            _known.add(value)


def strip_userinfo(text: str) -> str:
    """Remove ``user:password@`` from every URL in ``text``, passwords holding '/', '#' or '?' too."""
    if "@" not in text or "://" not in text:
        return text
    out: list[str] = []
    copied = 0
    scan = _Scan(text)
    for match in _SCHEME.finditer(text):
        start = match.end()
        if start < copied:
            continue
        end = scan.userinfo_end(start)
        if end is not None:
            out.append(text[copied:start])
            copied = end
    out.append(text[copied:])
    return "".join(out)


class _Scan:
    """Token and authority ends, each found once and reused, so the whole scan stays linear."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.stop = -1
        self.delim = -1

    def userinfo_end(self, start: int) -> int | None:
        """Where the host begins, when the authority at ``start`` opens with userinfo."""
        text = self.text
        if self.stop < start:
            token = _TOKEN_END.search(text, start)
            self.stop = token.start() if token else len(text)
        if self.delim < start or self.delim > self.stop:
            found = _DELIM.search(text, start, self.stop)
            self.delim = found.start() if found else self.stop
        stop, delim = self.stop, self.delim
        at = text.rfind("@", start, delim)
        if at >= 0:
            return at + 1
        # "user:pa/ss@host": a colon not followed by a port, then an '@' that a host follows.
        colon = text.find(":", start, delim)
        if colon < 0 or text[colon + 1 : delim].isdigit():
            return None
        at = text.find("@", delim, min(stop, delim + _USERINFO_REACH))
        if at < 0 or not _HOST.match(text, at + 1, stop):
            return None
        return at + 1


def redact_url(url: str) -> str:
    """``url`` without userinfo and with secret query values masked; the same text otherwise."""
    return redact_text(url)


def redact_text(text: str) -> str:
    """Any text (a URL, an error message, a JSON blob) with every secret in it masked."""
    if not text:
        return text
    text = strip_userinfo(text)
    if "=" in text:
        text = _PARAMETER.sub(_mask_parameter, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    if "sk-" in text:
        text = _OPENAI_KEY.sub(f"sk-{MASK}", text)
    if _known:
        with _known_lock:
            known = sorted(_known, key=len, reverse=True)
        for secret in known:
            if secret in text:
                text = text.replace(secret, MASK)
    return text


def _mask_parameter(match: re.Match[str]) -> str:
    name = match.group(2)
    if name.lower() not in SECRET_PARAMETERS or not match.group(3):
        return match.group(0)
    return f"{match.group(1)}{name}={MASK}"


def has_masked_secret(url: str) -> bool:
    """True when ``url`` is a stored form whose secret was masked, so it can no longer be fetched."""
    return f"={MASK}" in url


class _RedactingFilter(logging.Filter):
    """Rewrites each record's message with its secrets masked, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


# Loggers that quote request URLs: httpx logs every request line at INFO, yt-dlp's messages reach
# the engine's remote module at DEBUG. A logger's filters see only its own records, not its
# children's, so each is named.
_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "engine.sources.remote", "yt_dlp")
_FILTER = _RedactingFilter()


def redact_logs() -> None:
    """Mask secrets in every record of the loggers that quote URLs (idempotent)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
