"""Allow ``python -m amlctl``."""

from .cli import entry

entry()
