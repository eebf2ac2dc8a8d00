"""Project tooling: validate, run locally, provision, register and publish Azure ML assets."""

__version__ = "0.1.0"
