"""YAML files parsed once per content in a process: `validate` reads a pipeline file and
each component file from several checks (and a component once per node that uses it).

``load`` is ``yaml.safe_load`` of the file's UTF-8 text, as azure-ai-ml reads it, kept
under the file's path and stat data (size, mtime, ctime, inode): an edited file is read
again. Errors are raised again on each call, as the first read raised them.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

KEEP = 512  # files kept at most (a process that validates many projects reads afresh)
_parsed: OrderedDict[tuple[str, int, int, int, int], tuple[bool, Any]] = OrderedDict()


def load(path: Path) -> Any:
    """The file's YAML (``yaml.safe_load``); OSError, UnicodeDecodeError and YAMLError
    propagate."""
    import yaml

    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    found = _parsed.get(key)
    if found is None:
        try:
            found = (True, yaml.safe_load(Path(path).read_text(encoding="utf-8")))
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            found = (False, exc)
        _parsed[key] = found
        while len(_parsed) > KEEP:
            _parsed.popitem(last=False)
    else:
        _parsed.move_to_end(key)
    ok, value = found
    if not ok:
        raise value
    return value
