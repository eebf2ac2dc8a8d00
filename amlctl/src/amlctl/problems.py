"""What a check reports: one type for every finding of validate, check-infra and check-workflows.

Printed as ``file[:line[:column]]: [field: ][warning: ]message``: a Bicep or workflow finding
names its line, a YAML finding names the key (``jobs.train.inputs.x``) it is about.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    message: str
    line: int | None = None
    column: int | None = None
    field: str | None = None  # the YAML key the problem is about, when there is one
    severity: str = "error"  # "error", "warning" or "note" (what offline checks cannot know)

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.field:
            where += f": {self.field}"
        label = f"{self.severity}: " if self.severity in ("warning", "note") else ""
        return f"{where}: {label}{self.message}"
