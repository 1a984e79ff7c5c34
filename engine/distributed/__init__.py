"""One batch over many machines: items on a Redis Stream, results back on another, done once."""
