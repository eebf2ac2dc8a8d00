"""Semantic rules of the Bicep compiler that the parser and the type check do not see.

Each rule names the compiler's code and message, from Azure/bicep
``src/Bicep.Core/Diagnostics/DiagnosticBuilder.cs``; a warning is reported as the compiler
reports it, and check-infra treats it as a failure (a template should compile clean).
The compiler's ``#disable-next-line`` and ``#disable-diagnostics`` pragmas are honoured.

- BCP318 (``DereferenceOfPossiblyNullReference``): a conditional resource or module
  (``= if (...)``) may not exist when the deployment starts, so every member access on it
  (``.id``, ``.name``, ``.properties``, ``.outputs``...) must say so with ``!`` (null-forgiving)
  or ``.?`` (safe access). The compiler narrows on nothing: not on the same condition, not
  in a ternary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .bicep_lexer import Diagnostic, Token, lex

BCP318 = (
    "BCP318",
    'The value of type "{type}" may be null at the start of the deployment, which would '
    "cause this access expression (and the overall deployment with it) to fail.",
)
PRAGMA = re.compile(r"^\s*#(disable-next-line|disable-diagnostics|restore-diagnostics)\b(.*)$")


@dataclass(frozen=True)
class Declaration:
    name: str
    type: str  # as the compiler prints it: the resource type, or `module`
    offset: int


def conditional_declarations(tokens: list[Token]) -> dict[str, Declaration]:
    """Resources and modules declared with a condition (`= if (...)`), by symbol."""
    found: dict[str, Declaration] = {}
    for index, token in enumerate(tokens):
        at_line_start = index == 0 or tokens[index - 1].kind == "newline"
        if not (at_line_start and token.kind == "ident" and token.text in ("resource", "module")):
            continue
        rest = tokens[index + 1 : index + 6]
        if len(rest) < 4 or rest[0].kind != "ident" or rest[1].kind != "string":
            continue
        position = 2
        if rest[position].kind == "ident" and rest[position].text == "existing":
            position += 1
        if (
            position + 1 < len(rest)
            and rest[position].text == "="
            and rest[position + 1].text == "if"
        ):
            kind = "module" if token.text == "module" else (rest[1].value or "").split("@")[0]
            found[rest[0].text] = Declaration(rest[0].text, kind or "resource", rest[0].offset)
    return found


def _suppressed(text: str) -> dict[int, set[str] | None]:
    """Line (1-based) -> codes the pragmas disable on it (None: every code)."""
    lines = text.splitlines()
    off: dict[int, set[str] | None] = {}
    file_wide: set[str] | None = set()
    for number, line in enumerate(lines, start=1):
        match = PRAGMA.match(line)
        if match:
            codes = set(match.group(2).split("//")[0].split()) or None
            if match.group(1) == "disable-next-line":
                off[number + 1] = codes
            elif match.group(1) == "disable-diagnostics":
                file_wide = None if codes is None or file_wide is None else file_wide | codes
            else:
                file_wide = set()
            continue
        if file_wide is None or file_wide:
            known = off.get(number, set())
            off[number] = None if file_wide is None or known is None else known | file_wide
    return off


def diagnostics(text: str) -> list[Diagnostic]:
    """The semantic diagnostics of a Bicep file that lexes cleanly."""
    tokens = [t for t in lex(text).tokens]
    conditional = conditional_declarations(tokens)
    off = _suppressed(text)
    found = []
    for index, token in enumerate(tokens[:-1]):
        declaration = conditional.get(token.text) if token.kind == "ident" else None
        if declaration is None or token.offset == declaration.offset:
            continue
        previous = tokens[index - 1] if index else None
        if previous is not None and previous.text == ".":
            continue  # a property of the same name on something else (`x.storage`)
        after = tokens[index + 1]
        safe = index + 2 < len(tokens) and tokens[index + 2].text == "?"
        if after.text != "." or safe:
            continue  # `x!.`, `x.?`, `x` alone (dependsOn, scope), `x[...]`
        line = text.count("\n", 0, token.offset) + 1
        codes = off.get(line, set())
        if codes is None or BCP318[0] in codes:
            continue
        code, message = BCP318
        found.append(
            Diagnostic(code, message.format(type=f"{declaration.type} | null"), token.offset)
        )
    return found
