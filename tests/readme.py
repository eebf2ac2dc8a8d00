"""The generated README's Start block, as the commands a user types."""

from __future__ import annotations

import re
from pathlib import Path


def start_block(readme: Path) -> list[str]:
    """The commands of the first bash block under `## Start`, without their comments."""
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("## Start") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None, f"{readme}: no bash block under ## Start"
    commands = []
    for line in block.group(1).splitlines():
        command = re.sub(r"\s+#\s.*$", "", line).strip()
        if command:
            commands.append(command)
    return commands
