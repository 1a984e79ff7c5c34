"""Audio for ASR: reading media with PyAV, finding quiet moments, cutting FLAC chunks."""
