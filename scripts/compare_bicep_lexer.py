"""Compare amlctl's Bicep lexer with the real compiler's, on the compiler's own test files.

The Bicep repository (github.com/Azure/bicep, MIT) keeps, for each sample under
`src/Bicep.Core.Samples/Files/baselines/<name>/`, the source `main.bicep` and the
diagnostics the compiler gives it, `main.diagnostics.bicep` (each source line followed by
`//@[start:end) [BCPxxx (Error)] ...` lines). This prints, for the lexical error codes
amlctl reproduces, where both agree and where they differ (code, line and column):

    git clone --depth 1 https://github.com/Azure/bicep /tmp/bicep
    .venv/bin/python scripts/compare_bicep_lexer.py /tmp/bicep

A note follows the last line of what it marks, so an error on a multi-line token (an
unterminated multi-line string) shows a line later in the baseline than in amlctl, which
counts the line the token starts on. It asserts nothing; run it after a Bicep release
changes the lexer.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from amlctl.checks.bicep_lexer import lex

LEXICAL = {
    "BCP001", "BCP002", "BCP003", "BCP004", "BCP005", "BCP006",
    "BCP024", "BCP103", "BCP133", "BCP140", "BCP226",
}  # fmt: skip
ANNOTATION = re.compile(r"//@\[(\d+):\d+\) \[(BCP\d+) \(Error\)\]")


def expected(diagnostics: str) -> list[tuple[int, int, str]]:
    """(line, column, code) of the compiler's lexical errors; a line's notes follow it."""
    found, line = [], 0
    for text in diagnostics.splitlines():
        if text.startswith("//@["):
            match = ANNOTATION.match(text)
            if match and match.group(2) in LEXICAL:
                found.append((line, int(match.group(1)), match.group(2)))
        else:
            line += 1
    return found


def ours(source: str) -> list[tuple[int, int, str]]:
    return [
        (
            source.count("\n", 0, item.offset) + 1,
            item.offset - (source.rfind("\n", 0, item.offset) + 1),
            item.code,
        )
        for item in lex(source).diagnostics
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bicep", type=Path, help="a checkout of github.com/Azure/bicep")
    args = parser.parse_args(argv)
    baselines = args.bicep / "src" / "Bicep.Core.Samples" / "Files" / "baselines"
    samples = sorted(baselines.glob("*/main.diagnostics.bicep"))
    if not samples:
        print(f"{baselines}: no baselines found", file=sys.stderr)
        return 2
    agree = total = 0
    for diagnostics in samples:
        source = (diagnostics.parent / "main.bicep").read_text(encoding="utf-8-sig")
        want = sorted(expected(diagnostics.read_text(encoding="utf-8-sig")))
        got = sorted(ours(source))
        total += len(want)
        agree += len(set(want) & set(got))
        if want != got:
            name = diagnostics.parent.name
            missed, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
            print(f"{name}: compiler {missed}, amlctl {extra}")
    print(
        f"{len(samples)} samples: {agree} of the compiler's {total} lexical errors found "
        "at the same line and column"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
