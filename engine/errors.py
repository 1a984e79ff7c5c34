"""Typed errors: each carries a message a person can act on and whether a retry may help."""

from __future__ import annotations

from engine.redact import redact_text


class BulkscribeError(Exception):
    """Base of every error the engine records on an item.

    ``transient`` says whether trying the same thing again later may succeed;
    ``hint`` says what the user can do about it.
    """

    transient: bool = False
    kind: str = "error"
    blocks: bool = False  # True when every other item would fail the same way: pause, don't fail

    def __init_subclass__(
        cls,
        *,
        kind: str | None = None,
        transient: bool | None = None,
        blocks: bool | None = None,
        **kwargs: object,
    ) -> None:
        """A subclass names its own in its header, ``class X(Base, kind="auth", blocks=True)``;
        the ones it leaves out it inherits."""
        super().__init_subclass__(**kwargs)
        if kind is not None:
            cls.kind = kind
        if transient is not None:
            cls.transient = transient
        if blocks is not None:
            cls.blocks = blocks

    def __init__(self, message: str, *, hint: str = "", transient: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if transient is not None:
            self.transient = transient

    def __str__(self) -> str:
        return self.message

    @property
    def user_text(self) -> str:
        """Message plus hint, as shown to a person."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(BulkscribeError, kind="usage"):
    """Bad command line or unreadable input list: the whole run cannot start."""


class InputError(BulkscribeError, kind="input"):
    """One input row or path is unusable (missing file, malformed URL, bad scheme)."""


class MediaError(BulkscribeError, kind="media"):
    """Media cannot be decoded: corrupt, empty, no audio track."""


class SourceError(BulkscribeError, kind="source"):
    """A remote source (YouTube, a podcast host) refused or could not be reached."""


class ProviderError(BulkscribeError, kind="provider"):
    """The transcription service answered with an error."""

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        transient: bool | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint, transient=transient)
        self.status = status
        self.retry_after = retry_after
        # A 400 whose error names response_format: the model does not offer the one asked for.
        self.names_format = False


class RateLimited(ProviderError, kind="rate-limited", transient=True):
    """HTTP 429: the service asks us to slow down (Retry-After honoured)."""


class Unreachable(ProviderError, kind="offline", transient=True):
    """The service cannot be reached at all (connection refused, DNS failure): an outage.

    Not a failure of the item: the batch holds its requests and probes until the service answers.
    """


class AuthError(ProviderError, kind="auth", transient=False, blocks=True):
    """401/403: the key is wrong or lacks access; retrying cannot help."""


class LowBalance(ProviderError, kind="balance", transient=False, blocks=True):
    """The account's prepaid balance is too low for the service to start another job."""


class TooLarge(ProviderError, kind="too-large", transient=False):
    """413: the upload is over the service's size limit."""


class OutputError(BulkscribeError, kind="output", blocks=True):
    """Output folder not writable or disk full."""


class ReplyTooLarge(BulkscribeError, kind="reply", transient=False):
    """A server's reply was over the size we are willing to hold in memory; reading stopped."""


class ReplyTooSlow(BulkscribeError, kind="network", transient=True):
    """A request took longer in all than its deadline allows (a trickling or stalled server)."""


class NameTaken(BulkscribeError, kind="output", transient=True):
    """A file name this item claimed was taken on disk meanwhile; another name is chosen."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} appeared while it was being written; a new name is chosen")
        self.path = path


class StoreError(BulkscribeError, kind="store", blocks=True):
    """The session store cannot write (a full disk, a quota, a read-only data folder).

    Every other item would meet it too and nothing is wrong with the item: pause, don't fail.
    """


class Cancelled(BulkscribeError, kind="cancelled"):
    """The item was cancelled by the user or the engine is stopping."""


def describe(exc: BaseException) -> tuple[str, str, bool]:
    """Return (error class, user text, transient) for any exception.

    Unknown exceptions are reported by class name and message, and counted as
    permanent so a programming error cannot loop forever.
    """
    kind, text, transient = _describe(exc)
    # Errors quote URLs and headers; whatever they carried, the recorded text holds no secret.
    return kind, redact_text(text), transient


def _describe(exc: BaseException) -> tuple[str, str, bool]:
    if isinstance(exc, BulkscribeError):
        return exc.kind, exc.user_text, exc.transient
    if isinstance(exc, TimeoutError | ConnectionError):
        return "network", f"{type(exc).__name__}: {exc}", True
    if isinstance(exc, FileNotFoundError):
        return "input", f"file not found: {exc.filename}", False
    if isinstance(exc, PermissionError):
        return "output", f"permission denied: {exc.filename}", False
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
        return "output", "no space left on device", False
    return "internal", f"{type(exc).__name__}: {exc}", False


class QuotaUnavailable(BulkscribeError, kind="quota", transient=True, blocks=True):
    """The shared quota (Redis) cannot be reached: admit nothing, pause, carry on when it answers."""
