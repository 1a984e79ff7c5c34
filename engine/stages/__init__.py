"""The pipeline's stages, one module each: resolve, metadata, captions, transcript (ASR), write."""
