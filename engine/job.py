"""Moved to engine.run.job; kept for imports not yet updated."""

from engine.run.job import Job as Job
