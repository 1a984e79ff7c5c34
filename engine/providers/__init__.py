"""ASR engines behind one small contract: an audio chunk in, timed segments out."""
