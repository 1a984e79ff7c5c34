"""Moved to engine.run.engine, engine.run.queue and engine.run.workers; kept for imports not yet updated."""

from engine.run.engine import Engine as Engine
from engine.run.queue import ORDERS as ORDERS
from engine.run.workers import MAX_WORKERS as MAX_WORKERS
from engine.run.workers import MIN_WORKERS as MIN_WORKERS
