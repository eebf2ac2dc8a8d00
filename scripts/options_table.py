"""The README's option table, made from cookiecutter.json's help texts (`__prompts__`).

`python scripts/options_table.py` prints it; `--write` replaces the table in README.md
between the `<!-- options:start -->` and `<!-- options:end -->` markers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- options:start -->", "<!-- options:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def options_table(context: dict) -> str:
    prompts = context["__prompts__"]
    rows = ["| Option | Default | What it sets |", "| --- | --- | --- |"]
    for key, default in context.items():
        if key.startswith("_"):
            continue
        help_text = prompts[key]
        if isinstance(help_text, dict):  # a choice: its question and the meaning of each value
            values = "; ".join(
                f"`{value}`: {text}" for value, text in help_text.items() if value != "__prompt__"
            )
            help_text = f"{help_text['__prompt__']} — {values}"
        if isinstance(default, list):
            shown = f"`{default[0]}`"
        elif isinstance(default, bool):
            shown = "yes" if default else "no"
        elif "{{" in default:
            shown = "derived"
        else:
            shown = f"`{default}`"
        rows.append(f"| `{key}` | {shown} | {_cell(help_text)} |")
    return "\n".join(rows)


def readme_with_table(readme: str, table: str) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: list[str]) -> int:
    context = json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    table = options_table(context)
    if argv == ["--write"]:
        readme = ROOT / "README.md"
        readme.write_text(readme_with_table(readme.read_text(encoding="utf-8"), table), "utf-8")
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
