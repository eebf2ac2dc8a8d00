"""Make tests/fakes importable as `fakes` (pytest runs with --import-mode=importlib)."""

import sys
from pathlib import Path

TESTS = str(Path(__file__).parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
