"""The run loop, split by job: verbs, queue decision, workers, retries, fan-out, and the Job a work function gets.

Import ``engine.run.engine`` for the Engine; this package's own import stays empty so that the Job's
module can be imported without the Engine.
"""
