"""Azure ML's binding expressions, written once for validate and the local runner.

``search``/``findall`` find them inside a command or a value; ``fullmatch`` tells whether a
whole value is one binding (``${{parent.inputs.x}}`` as a node input).
"""

from __future__ import annotations

import re

PARENT_INPUT = re.compile(r"\$\{\{\s*parent\.inputs\.([\w.-]+)\s*\}\}")
STEP_OUTPUT = re.compile(r"\$\{\{\s*parent\.jobs\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}")
PARENT_OUTPUT = re.compile(r"\$\{\{\s*parent\.outputs\.([\w-]+)\s*\}\}")
ANY_BINDING = re.compile(r"\$\{\{.*?\}\}")
