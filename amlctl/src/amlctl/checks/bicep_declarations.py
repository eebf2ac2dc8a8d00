"""The Bicep compiler's rules on a file's top-level declarations.

From Azure/bicep ``src/Bicep.Core/Semantics/FileSymbol.cs`` (DuplicateIdentifierValidatorVisitor)
and ``SemanticDiagnosticVisitor.cs``, with the codes and messages of ``DiagnosticBuilder.cs``:

- BCP028 (``IdentifierMultipleDeclarations``): every symbol that can be referenced
  (parameters, variables, resources, modules, types, functions, tests, asserts, imported
  names and aliases) shares one namespace; each declaration of a name declared more than
  once is reported at its name. Names compare case-sensitively (``IdentifierComparer`` is
  ordinal). A resource nested in another's body lives in that body's scope, not the file's.
- BCP145 (``OutputMultipleDeclarations``): outputs cannot be referenced, so an output may
  share a parameter's name, but not another output's; the compiler reports duplicate
  ``metadata`` names with the same code and message.
- BCP112 (``TargetScopeMultipleDeclarations``): ``targetScope`` more than once, at each.
- BCP033 (``ExpectedValueTypeMismatch``): ``targetScope`` given a literal other than the
  four scopes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .bicep_lexer import Token

BCP028 = (
    "BCP028",
    'Identifier "{name}" is declared multiple times. Remove or rename the duplicates.',
)
BCP145 = ("BCP145", 'Output "{name}" is declared multiple times. Remove or rename the duplicates.')
BCP112 = ("BCP112", 'The "targetScope" cannot be declared multiple times in one file.')
BCP033 = (
    "BCP033",
    'Expected a value of type "{expected}" but the provided value is of type "{actual}".',
)
SCOPES = ("managementGroup", "resourceGroup", "subscription", "tenant")
REFERENCEABLE = {"param", "var", "resource", "module", "type", "func", "test", "assert"}
# Keywords where the parser recovers from an unclosed `(` or `[` (inside an unclosed `{`
# they are read as the object's keys).
RECOVERY = {
    "param", "var", "output", "resource", "module", "type", "func", "metadata", "import",
    "targetScope", "test", "assert",
}  # fmt: skip


@dataclass(frozen=True)
class Declared:
    keyword: str  # param, var, ..., output, metadata, import
    name: str
    offset: int  # of the name


def top_level(tokens: list[Token]) -> tuple[list[Declared], list[Token]]:
    """The file's top-level declarations, and its ``targetScope`` keywords."""
    found: list[Declared] = []
    scopes: list[Token] = []
    stack: list[str] = []  # the unclosed brackets
    index = 0
    while index < len(tokens):
        token = tokens[index]
        at_line_start = index == 0 or tokens[index - 1].kind == "newline"
        nxt = tokens[index + 1] if index + 1 < len(tokens) else None
        starts = (
            at_line_start
            and token.kind == "ident"
            and nxt is not None
            and (nxt.kind == "ident" or token.text == "targetScope" or token.text == "import")
        )
        if stack and starts and stack[-1] == "{" and token.text in RECOVERY - {"resource"}:
            # inside an object, the parser reads `test x ... {` as a bad property and skips
            # the rest of the line, brackets and all
            while index < len(tokens) and tokens[index].kind != "newline":
                index += 1
            continue
        if stack and starts and stack[-1] != "{" and token.text in RECOVERY:
            stack = []  # the parser's recovery: an unclosed `(` or `[` ends at a declaration
        if not stack and starts:
            if token.text == "targetScope":
                scopes.append(token)
            elif token.text == "import":
                found.extend(_imported(tokens, index))
            elif token.text in REFERENCEABLE | {"output", "metadata"} and nxt is not None:
                found.append(Declared(token.text, nxt.text, nxt.offset))
        if token.kind == "op" and token.text in ("(", "[", "{"):
            stack.append(token.text)
        elif token.kind == "op" and token.text in (")", "]", "}") and stack:
            stack.pop()
        index += 1
    return found, scopes


def _imported(tokens: list[Token], index: int) -> list[Declared]:
    """Names an ``import`` declares: ``{a, b as c}`` (a and c), ``* as x`` (x)."""
    found = []
    position = index + 1
    if position < len(tokens) and tokens[position].text == "*":
        if position + 2 < len(tokens) and tokens[position + 1].text == "as":
            alias = tokens[position + 2]
            if alias.kind == "ident":
                found.append(Declared("import", alias.text, alias.offset))
        return found
    if position >= len(tokens) or tokens[position].text != "{":
        return found
    position += 1
    item: list[Token] = []
    while position < len(tokens) and tokens[position].text != "}":
        token = tokens[position]
        if token.text == "," or token.kind == "newline":
            found.extend(_import_item(item))
            item = []
        else:
            item.append(token)
        position += 1
    found.extend(_import_item(item))
    return found


def _import_item(item: list[Token]) -> list[Declared]:
    if len(item) == 1 and item[0].kind == "ident":
        return [Declared("import", item[0].text, item[0].offset)]
    if len(item) == 3 and item[1].text == "as" and item[2].kind == "ident":
        return [Declared("import", item[2].text, item[2].offset)]
    return []  # an item not written as the grammar has it: the parser reports it


def diagnostics(tokens: list[Token]) -> list[tuple[str, str, int]]:
    """(code, message, offset) of each duplicate declaration and bad ``targetScope``."""
    declared, scopes = top_level(tokens)
    found: list[tuple[str, str, int]] = []
    groups = (
        (BCP028, [d for d in declared if d.keyword not in ("output", "metadata")]),
        (BCP145, [d for d in declared if d.keyword == "output"]),
        (BCP145, [d for d in declared if d.keyword == "metadata"]),
    )
    for (code, message), group in groups:
        counts: dict[str, int] = {}
        for item in group:
            counts[item.name] = counts.get(item.name, 0) + 1
        for item in group:
            if counts[item.name] > 1:
                found.append((code, message.format(name=item.name), item.offset))
    for index, token in enumerate(tokens[:-5]):  # `for (x, x) in`: one local scope
        pair = tokens[index + 1 : index + 6]
        if token.text == "for" and pair[0].text == "(" and pair[2].text == ",":
            item, position = pair[1], pair[3]
            if item.kind == position.kind == "ident" and item.text == position.text:
                for same in (item, position):
                    found.append((BCP028[0], BCP028[1].format(name=same.text), same.offset))
    if len(scopes) > 1:
        found.extend((BCP112[0], BCP112[1], keyword.offset) for keyword in scopes)
    for keyword in scopes:
        position = tokens.index(keyword)
        value = tokens[position + 2] if position + 2 < len(tokens) else None
        if tokens[position + 1].text != "=" or value is None or value.kind != "string":
            continue
        after = tokens[position + 3] if position + 3 < len(tokens) else None
        if (
            value.value is not None
            and value.value not in SCOPES
            and (after is None or after.kind == "newline")
        ):
            expected = " | ".join(f"'{scope}'" for scope in SCOPES)
            actual = "'" + value.value.replace("\\", "\\\\").replace("'", "\\'") + "'"
            found.append(
                (BCP033[0], BCP033[1].format(expected=expected, actual=actual), value.offset)
            )
    return found
