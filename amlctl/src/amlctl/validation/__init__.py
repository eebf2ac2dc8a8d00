"""Offline validation of every Azure ML YAML in the project (`validate`)."""
