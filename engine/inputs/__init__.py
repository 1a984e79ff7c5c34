"""Inputs: turn arguments, lists, tables, folders and stdin into classified, de-duplicated sources."""

from engine.inputs.arguments import read_inputs
from engine.inputs.classify import MEDIA_EXTENSIONS, classify
from engine.inputs.columns import parse_columns
from engine.inputs.source import InputBatch, Source

__all__ = ["MEDIA_EXTENSIONS", "InputBatch", "Source", "classify", "parse_columns", "read_inputs"]
