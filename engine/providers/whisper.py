"""Local Whisper ASR through faster-whisper, an optional extra that is imported only when used."""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

from engine.errors import ProviderError
from engine.providers.base import Chunk, Transcript
from engine.segments import Segment

INSTALL_HINT = "install the extra: uv sync --extra whisper (or pip install 'bulkscribe[whisper]')"
_OFFLINE_VARS = ("BULKSCRIBE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def _installed() -> bool:
    return importlib.util.find_spec("faster_whisper") is not None


def _missing() -> ProviderError:
    return ProviderError("faster-whisper is not installed", hint=INSTALL_HINT, transient=False)


def offline_requested() -> bool:
    """True when the environment says not to download anything."""
    return any(
        os.environ.get(name, "").strip().lower() in {"1", "true", "yes"} for name in _OFFLINE_VARS
    )


def _is_model_folder(model: str) -> bool:
    folder = Path(model).expanduser()
    return folder.is_dir() and (folder / "model.bin").is_file()


def _locate(model: str, *, download: bool) -> str:
    """Path of a CTranslate2 model folder for ``model`` (a folder or a Whisper size name).

    The local cache is always tried first, so a cached model never touches the network.
    """
    if _is_model_folder(model):
        return str(Path(model).expanduser())
    if Path(model).expanduser().exists():
        raise ProviderError(
            f"{model} is not a CTranslate2 Whisper model folder (no model.bin inside)",
            hint="point --whisper-model at a folder converted with ct2-transformers-converter",
        )
    from faster_whisper.utils import download_model

    try:
        return str(download_model(model, local_files_only=True))
    except (OSError, ValueError, RuntimeError) as cached_error:
        if not download:
            raise _not_found(
                model, "it is not in the local cache and downloads are off"
            ) from cached_error
    try:
        return str(download_model(model))
    except (OSError, ValueError, RuntimeError) as exc:
        raise _not_found(model, f"it could not be downloaded ({type(exc).__name__})") from exc


def _not_found(model: str, why: str) -> ProviderError:
    return ProviderError(
        f"Whisper model {model!r} is not available: {why}",
        hint="download it once while online, or pass --whisper-model /path/to/ctranslate2-model-folder",
        transient=False,
    )


def whisper_available(model: str = "small") -> bool:
    """True when faster-whisper is installed and ``model`` is on disk, so nothing needs fetching."""
    if not _installed():
        return False
    try:
        _locate(model, download=False)
    except ProviderError:
        return False
    return True


class WhisperTranscriber:
    """faster-whisper as a Transcriber; the model loads on first use and is shared by all threads.

    CTranslate2 releases the GIL and runs ``workers`` decodes in parallel, so one
    model object serves every worker thread.
    """

    name = "whisper"
    service: str | None = None
    max_upload_bytes: int | None = None

    def __init__(
        self,
        model: str = "small",
        device: str = "cpu",
        compute_type: str = "int8",
        *,
        workers: int = 1,
        offline: bool | None = None,
    ) -> None:
        if not _installed():
            raise _missing()
        self.model = model
        self.device = device
        self.compute_type = compute_type
        self.workers = max(1, workers)
        self.offline = offline_requested() if offline is None else offline
        self._model: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from faster_whisper import WhisperModel
                except ImportError as exc:
                    raise _missing() from exc
                folder = _locate(self.model, download=not self.offline)
                try:
                    self._model = WhisperModel(
                        folder,
                        device=self.device,
                        compute_type=self.compute_type,
                        num_workers=self.workers,
                        local_files_only=True,
                    )
                except (OSError, ValueError, RuntimeError) as exc:
                    raise ProviderError(
                        f"cannot load Whisper model from {folder}: {exc}",
                        hint="check --whisper-device and --whisper-compute-type, or use another model",
                    ) from exc
            return self._model

    def transcribe(self, chunk: Chunk, language: str | None = None) -> Transcript:
        model = self._loaded()
        code = language.split("-")[0].lower() if language else None
        try:
            pieces, info = model.transcribe(str(chunk.path), language=code)
            segments = tuple(
                Segment(float(p.start), float(p.end), p.text.strip())
                for p in pieces
                if p.text.strip()
            )
        except (RuntimeError, ValueError) as exc:
            raise ProviderError(f"whisper failed on chunk {chunk.index}: {exc}") from exc
        return Transcript(
            segments,
            language=getattr(info, "language", code),
            extra={
                "model": self.model,
                "language_probability": getattr(info, "language_probability", None),
            },
        )
