"""Rate limits: one Limiter per external service, found by name through the Registry."""
