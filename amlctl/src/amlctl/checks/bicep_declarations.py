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
  four scopes (and ``local``, which the experimental localDeploy feature adds).
- BCP122 (``ModuleMultipleDeclarations``, EmitLimitationCalculator.DetectDuplicateNames): two
  or more modules deployed unconditionally (no condition, or ``if (true)``) with the same
  literal ``name`` at the same scope (the management group, subscription and resource group
  named in ``scope``; none named is the file's own), reported at each name. Loops, names
  or scopes that are not literals, and names shared with a module whose condition the
  compiler might fold to true, are not judged.
"""

from __future__ import annotations

from dataclasses import dataclass

from .bicep_lexer import Token
from .bicep_syntax import Value, read

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
BCP122 = (
    "BCP122",
    "Modules: {names} are defined with this same name and this same scope in a file. Rename "
    "them or split into different modules.",
)
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


def diagnostics(tokens: list[Token], text: str = "") -> list[tuple[str, str, int]]:
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
    found.extend(duplicate_module_names(text))
    if len(scopes) > 1:
        found.extend((BCP112[0], BCP112[1], keyword.offset) for keyword in scopes)
    for keyword in scopes:
        position = tokens.index(keyword)
        value = tokens[position + 2] if position + 2 < len(tokens) else None
        if tokens[position + 1].text != "=" or value is None or value.kind != "string":
            continue
        after = tokens[position + 3] if position + 3 < len(tokens) else None
        # 'local' is a scope when bicepconfig enables the experimental localDeploy feature
        if (
            value.value is not None
            and value.value not in (*SCOPES, "local")
            and (after is None or after.kind == "newline")
        ):
            expected = " | ".join(f"'{scope}'" for scope in SCOPES)
            actual = "'" + value.value.replace("\\", "\\\\").replace("'", "\\'") + "'"
            found.append(
                (BCP033[0], BCP033[1].format(expected=expected, actual=actual), value.offset)
            )
    return found


def _scope_segments(scope: Value | None) -> tuple[str | None, str | None, str | None] | None:
    """(management group, subscription, resource group) a module's ``scope`` names, as
    ScopeHelper's ScopeData holds them; None when they are not all literals."""
    if scope is None:
        return (None, None, None)
    tokens = [t for t in scope.tokens if t.kind != "newline"]
    if len(tokens) >= 2 and tokens[0].text == "az" and tokens[1].text == ".":
        tokens = tokens[2:]
    if len(tokens) < 3 or tokens[0].text not in SCOPES or tokens[1].text != "(":
        return None
    if tokens[-1].text != ")":
        return None
    inner = tokens[2:-1]
    arguments = [t for t in inner if t.text != ","]
    if any(t.kind != "string" or t.value is None for t in arguments):
        return None
    if len(inner) != max(0, 2 * len(arguments) - 1):
        return None
    values = [t.value for t in arguments]
    function = tokens[0].text
    if function == "managementGroup" and len(values) <= 1:
        return (values[0] if values else None, None, None)
    if function == "subscription" and len(values) <= 1:
        return (None, values[0] if values else None, None)
    if function == "resourceGroup" and len(values) <= 2:
        if len(values) == 2:
            return (None, values[0], values[1])
        return (None, None, values[0] if values else None)
    if function == "tenant" and not values:
        return (None, None, None)
    return None


def duplicate_module_names(text: str) -> list[tuple[str, str, int]]:
    """(code, message, offset) of modules deployed with one name at one scope (BCP122)."""
    groups: dict[tuple, list[tuple[str, int]]] = {}
    uncertain: set[tuple] = set()  # a condition the compiler may fold to true: not judged
    for symbol, module in read(text).modules.items():
        if module.loop:
            continue
        conditional = module.condition is not None and module.condition != "true"
        body = module.body
        if body is None or body.kind != "object":
            continue
        name = body.data.get("name")
        if name is None or name.kind != "string" or name.data is None or len(name.tokens) != 1:
            continue
        segments = _scope_segments(body.data.get("scope"))
        if segments is None:
            continue
        if conditional:
            if module.condition != "false":
                uncertain.add((name.data, segments))
            continue
        groups.setdefault((name.data, segments), []).append((symbol, name.tokens[0].offset))
    found = []
    for key, members in groups.items():
        if len(members) < 2 or key in uncertain:
            continue
        names = ", ".join(f'"{symbol}"' for symbol, _ in members)
        for _, offset in members:
            found.append((BCP122[0], BCP122[1].format(names=names), offset))
    return found
