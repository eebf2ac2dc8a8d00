"""Scripts that stand in locally for Azure ML services (run as files, not imported)."""
