"""Where a Whisper model comes from: a folder, faster-whisper's cache, or one download from the Hub."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ProviderError

INSTALL_HINT = "install the extra: uv sync --extra whisper (or pip install 'bulkscribe[whisper]')"
OFFLINE_VARS = ("BULKSCRIBE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
# Seconds to wait for the Hub before saying it cannot be reached. huggingface_hub's own
# timeouts (HF_HUB_ETAG_TIMEOUT, 10 s per request, with retries) leave a user staring at a
# frozen screen behind a firewall that drops packets; one short probe answers first.
PROBE_TIMEOUT = 5.0
MODEL_FILES = "model.bin, config.json, tokenizer.json, vocabulary.txt (or .json)"


@dataclass(frozen=True, slots=True)
class Located:
    """A model folder on disk and how it was found (``folder``, ``cache`` or ``download``)."""

    path: str
    how: str


def offline_requested() -> bool:
    """True when the environment says not to download anything."""
    return any(
        os.environ.get(name, "").strip().lower() in {"1", "true", "yes"} for name in OFFLINE_VARS
    )


def is_model_folder(model: str) -> bool:
    folder = Path(model).expanduser()
    return folder.is_dir() and (folder / "model.bin").is_file()


def hub_repo(model: str) -> str:
    """The Hub repository faster-whisper downloads ``model`` (a size name or an id) from."""
    if "/" in model:
        return model
    from faster_whisper.utils import _MODELS

    return _MODELS.get(model, f"Systran/faster-whisper-{model}")


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def not_available(model: str, why: str) -> ProviderError:
    """The one message a user gets when a model is missing: what to download and where to put it."""
    url = f"{hub_endpoint()}/{hub_repo(model)}"
    return ProviderError(
        f"Whisper model {model!r} is not available: {why}",
        hint=(
            f"run once with internet so faster-whisper fetches it into its cache, or download "
            f"{MODEL_FILES} from {url} into a folder and pass --whisper-model FOLDER "
            "(or use --asr sphinx, which needs no download)"
        ),
        transient=False,
    )


def locate_local(model: str, cache_dir: str | None = None) -> Located | None:
    """The model's folder when it is on disk (a folder, or in the cache), else None."""
    if is_model_folder(model):
        return Located(str(Path(model).expanduser()), "folder")
    if Path(model).expanduser().exists():
        raise ProviderError(
            f"{model} is not a CTranslate2 Whisper model folder (no model.bin inside)",
            hint=f"point --whisper-model at a folder holding {MODEL_FILES}",
            transient=False,
        )
    if model.startswith(("/", ".", "~")) or model.count("/") > 1:
        raise ProviderError(
            f"Whisper model folder {model} does not exist",
            hint=f"point --whisper-model at a folder holding {MODEL_FILES}",
            transient=False,
        )
    from faster_whisper.utils import download_model

    try:
        return Located(
            str(download_model(model, local_files_only=True, cache_dir=cache_dir)), "cache"
        )
    except ValueError as exc:  # not a size faster-whisper knows
        raise ProviderError(
            f"unknown Whisper model {model!r}: {exc}",
            hint="use a size such as base or small, a Hub id, or --whisper-model FOLDER",
            transient=False,
        ) from exc
    except OSError:  # huggingface_hub: not in the cache
        return None


def probe_hub(model: str, timeout: float | None = None) -> None:
    """Raise the not-available error at once when the Hub cannot be reached."""
    import httpx

    url = f"{hub_endpoint()}/api/models/{hub_repo(model)}"
    try:
        reply = httpx.get(url, timeout=PROBE_TIMEOUT if timeout is None else timeout)
    except httpx.HTTPError as exc:
        raise not_available(
            model,
            f"it is not on this computer and {hub_endpoint()} cannot be reached "
            f"({type(exc).__name__})",
        ) from exc
    if reply.status_code == 404:
        raise not_available(model, f"the Hub has no model {hub_repo(model)!r}")


def locate(model: str, *, download: bool, cache_dir: str | None = None) -> Located:
    """The model's folder; fetched from the Hub (after a quick reachability probe) when allowed."""
    found = locate_local(model, cache_dir)
    if found is not None:
        return found
    if not download:
        raise not_available(model, "it is not on this computer and downloads are off")
    probe_hub(model)
    from faster_whisper.utils import download_model

    try:
        return Located(str(download_model(model, cache_dir=cache_dir)), "download")
    except (OSError, ValueError, RuntimeError) as exc:
        raise not_available(model, f"the download failed ({type(exc).__name__}: {exc})") from exc
