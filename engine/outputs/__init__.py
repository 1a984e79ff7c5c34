"""Everything that writes files: safe names, atomic writes, transcript formats, batch reports."""

from engine.outputs.atomic import atomic_write
from engine.outputs.document import Chapter, Paragraph, TranscriptDoc, paragraphs
from engine.outputs.formats import FORMATS, render, write_outputs
from engine.outputs.manifest import write_items_csv, write_manifest
from engine.outputs.names import NameBook, inside, safe_stem

__all__ = [
    "FORMATS",
    "Chapter",
    "NameBook",
    "Paragraph",
    "TranscriptDoc",
    "atomic_write",
    "inside",
    "paragraphs",
    "render",
    "safe_stem",
    "write_items_csv",
    "write_manifest",
    "write_outputs",
]
