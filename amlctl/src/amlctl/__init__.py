"""amlctl: validate, run locally, provision, register and publish Azure ML projects."""

__version__ = "0.2.0"
