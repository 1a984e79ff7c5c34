"""Moved to engine.run.engine; kept for imports not yet updated."""

from engine.run.engine import MAX_WORKERS as MAX_WORKERS
from engine.run.engine import MIN_WORKERS as MIN_WORKERS
from engine.run.engine import ORDERS as ORDERS
from engine.run.engine import Engine as Engine
