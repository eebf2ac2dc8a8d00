"""Allow ``python -m amlctl``."""

import sys

from .cli import main

sys.exit(main())
