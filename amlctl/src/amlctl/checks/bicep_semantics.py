"""Semantic rules of the Bicep compiler that the parser and the type check do not see.

Each rule names the compiler's code and message, from Azure/bicep
``src/Bicep.Core/Diagnostics/DiagnosticBuilder.cs``; a warning is reported as the compiler
reports it, and check-infra treats it as a failure (a template should compile clean).
The compiler's ``#disable-next-line`` and ``#disable-diagnostics`` pragmas are honoured.

- BCP019 (``ExpectedNewLine``): a decorator followed by anything but a new line
  (``@secure() param p string``); the parser skips the rest of the line, so what is
  written there is not declared, and the other rules read the file as the compiler does.
- BCP318 (``DereferenceOfPossiblyNullReference``): a conditional resource or module
  (``= if (...)``) may not exist when the deployment starts, so every member access on it
  other than what ARM knows before deploying it (a resource's ``id``, ``name``, ``type``,
  ``apiVersion``; a module's ``name``), such as ``.properties`` or ``.outputs``, must say so
  with ``!`` (null-forgiving) or ``.?`` (safe access); reported at the dot. The compiler
  narrows on nothing (not on the same condition, not in a ternary) but the declaration's
  own body, and a child resource of a conditional parent is conditional too.
- BCP057 (``SymbolicNameDoesNotExist``): a name in an expression, also inside a string
  interpolation, that the file does not declare (parameters, variables, resources, modules,
  loop variables, lambda parameters, imports; ``az`` and ``sys``). Property names, object
  keys, decorators and function names are not symbol references.
- BCP071 (``ArgumentCountMismatch``): a built-in function called with a number of
  arguments none of its overloads takes (``guid()``, ``toLower(a, b)``...; the overloads of
  SystemNamespaceType.cs and AzNamespaceType.cs in ``bicep_functions``), reported at ``(``.
- BCP070 (``ArgumentTypeMismatch``): a literal argument (string, int, bool, object, empty
  array) that no overload of the function with that many arguments accepts, at the argument.
- BCP065 (``FunctionOnlyValidInParameterDefaults``): ``utcNow()`` or ``newGuid()``
  anywhere but in a parameter's default value.
- BCP124 (``CannotAttachDecoratorToTarget``): ``@minLength``/``@maxLength`` on a parameter
  or output that is not a string or array, ``@minValue``/``@maxValue`` on one that is not an
  int, ``@secure`` on one that is neither string nor object.
- BCP139 (``InvalidCrossResourceScope``): a new resource whose ``scope`` names another
  resource group, a subscription or a management group (modules deploy across scopes).
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
    span: tuple[int, int] = (0, 0)  # offsets of the whole declaration (its body included)


# What a conditional resource or module lets one read without `!` or `.?`: the values ARM
# knows before deploying it (EmitConstants.ResourceInfoProperties; a module's name).
RESOURCE_INFO = {"id", "name", "type", "apiVersion"}
MODULE_INFO = {"name"}


def _closing(tokens: list[Token], start: int) -> int:
    """Index of the bracket closing the one at ``start`` (or the last index)."""
    depth = 0
    for index in range(start, len(tokens)):
        text = tokens[index].text
        if tokens[index].kind != "op":
            continue
        if text in ("(", "[", "{"):
            depth += 1
        elif text in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                return index
    return len(tokens) - 1


def conditional_declarations(tokens: list[Token]) -> dict[str, Declaration]:
    """Resources and modules that may not be deployed, by symbol (TypeAssignmentVisitor's
    IsPotentiallyDisabledResourceOrModule): declared with a condition (`= if (...)`) other
    than `true`, or nested in the body of such a resource."""
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
        if position >= len(rest) or rest[position].text != "=":
            continue
        kind = "module" if token.text == "module" else (rest[1].value or "").split("@")[0]
        body = index + 1 + position + 1
        conditional = body < len(tokens) and tokens[body].text == "if"
        if conditional and body + 1 < len(tokens) and tokens[body + 1].text == "(":
            close = _closing(tokens, body + 1)
            literal = [t.text for t in tokens[body + 2 : close]]
            conditional = literal != ["true"]
            body = close + 1
        end = _closing(tokens, body) if body < len(tokens) else len(tokens) - 1
        span = (token.offset, tokens[end].offset + 1)
        inside = any(
            outer.span[0] < token.offset < outer.span[1] for outer in found.values()
        )  # a child of a conditional resource exists only with its parent
        if conditional or inside:
            found[rest[0].text] = Declaration(
                rest[0].text, kind or "resource", rest[0].offset, span
            )
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
    if text.startswith("\ufeff"):  # a byte-order mark: the compiler skips it
        text = " " + text[1:]
    found = []
    tokens = lex(text).tokens
    skipped = decorator_line_ends(tokens)
    for start, end in skipped:  # what the parser skips is not read by the later rules
        found.append(Diagnostic(BCP019[0], BCP019[1], start))
        text = text[:start] + " " * (end - start) + text[end:]
    if skipped:
        tokens = lex(text).tokens
    conditional = conditional_declarations(tokens)
    off = _suppressed(text)
    for index, token in enumerate(tokens[:-2]):
        declaration = conditional.get(token.text) if token.kind == "ident" else None
        if declaration is None or token.offset == declaration.offset:
            continue
        if declaration.span[0] <= token.offset < declaration.span[1]:
            continue  # inside its own declaration (a child's body): it exists there
        previous = tokens[index - 1] if index else None
        if previous is not None and (
            previous.text == "." or (previous.text == "?" and tokens[index - 2].text == ".")
        ):
            continue  # a property of the same name on something else (`x.storage`, `x.?s`)
        after = tokens[index + 1]
        safe = index + 2 < len(tokens) and tokens[index + 2].text == "?"
        if (
            after.text == "[" and tokens[index + 2].text != "]"
        ):  # `x['properties']`: reported at the index, whatever it is
            found.append(
                Diagnostic(
                    BCP318[0], BCP318[1].format(type=f"{declaration.type} | null"), after.offset
                )
            )
            continue
        if after.text != "." or safe:
            continue  # `x!.`, `x.?`, `x` alone (dependsOn, scope)
        readable = MODULE_INFO if declaration.type == "module" else RESOURCE_INFO
        if tokens[index + 2].text in readable:
            continue  # known before the deployment: `x.id`, `x.name`, a module's `m.name`
        if index + 3 < len(tokens) and tokens[index + 3].text == "(":
            continue  # `x.listKeys()`: a method call, which the compiler does not flag here
        code, message = BCP318
        found.append(
            Diagnostic(code, message.format(type=f"{declaration.type} | null"), after.offset)
        )
    for name, offset in undefined_names(tokens):
        found.append(Diagnostic(BCP057[0], BCP057[1].format(name=name), offset))
    for decorator, target, offset in decorator_targets(tokens):
        attachable = " | ".join(sorted(ATTACHABLE[decorator]))
        message = BCP124[1].format(decorator=decorator, attachable=attachable, target=target)
        found.append(Diagnostic(BCP124[0], message, offset))
    for offset in cross_scope_resources(tokens):
        found.append(Diagnostic(BCP139[0], BCP139[1], offset))
    from .bicep_constants import runtime_values
    from .bicep_declarations import diagnostics as declaration_diagnostics

    for code, message, offset in declaration_diagnostics(tokens, text):
        found.append(Diagnostic(code, message, offset))

    for code, message, offset in runtime_values(text, tokens):
        found.append(Diagnostic(code, message, offset))
    from .bicep_separators import separator_diagnostics

    for code, message, offset in separator_diagnostics(tokens):
        found.append(Diagnostic(code, message, offset))
    for name, offset in param_default_only_calls(tokens):
        found.append(Diagnostic(BCP065[0], BCP065[1].format(name=name), offset))
    for actual, expected, offset in argument_types(tokens):
        message = BCP070[1].format(actual=actual, expected=expected)
        found.append(Diagnostic(BCP070[0], message, offset))
    for expected, count, offset in argument_counts(tokens):
        found.append(
            Diagnostic(BCP071[0], BCP071[1].format(expected=expected, count=count), offset)
        )
    return [
        diagnostic
        for diagnostic in found
        if not _off(off, text.count("\n", 0, diagnostic.offset) + 1, diagnostic.code)
    ]


BCP019 = ("BCP019", "Expected a new line character at this location.")


def decorator_line_ends(tokens: list[Token]) -> list[tuple[int, int]]:
    """(start, end) offsets of what follows a decorator on its own line (BCP019: "All
    decorators must be followed by a newline", BaseParser.DecorableSyntaxLeadingNodes; the
    parser skips to the line's end, so a declaration written there is not declared)."""
    found = []
    for index, token in enumerate(tokens):
        at_line_start = index == 0 or tokens[index - 1].kind == "newline"
        if not (at_line_start and token.kind == "op" and token.text == "@"):
            continue
        position = index + 1
        if position + 2 < len(tokens) and tokens[position + 1].text == ".":
            position += 2  # `@sys.description(...)`
        if position >= len(tokens) or tokens[position].kind != "ident":
            continue  # not a decorator the parser reads: another error
        position += 1
        if position < len(tokens) and tokens[position].text == "(":
            depth = 0
            while position < len(tokens):
                text = tokens[position].text
                if tokens[position].kind == "op":
                    depth += (text in ("(", "[", "{")) - (text in (")", "]", "}"))
                position += 1
                if depth == 0:
                    break
        if position < len(tokens) and tokens[position].kind != "newline":
            end = position
            while end < len(tokens) and tokens[end].kind != "newline":
                end += 1
            last = tokens[end - 1]
            found.append((tokens[position].offset, last.offset + len(last.text)))
    return found


def _off(off: dict[int, set[str] | None], line: int, code: str) -> bool:
    codes = off.get(line, set())
    return codes is None or code in codes


WARNING_CODES = {"BCP318"}  # the rest are errors
BCP057 = ("BCP057", 'The name "{name}" does not exist in the current context.')
BCP070 = (
    "BCP070",
    'Argument of type "{actual}" is not assignable to parameter of type "{expected}".',
)
BCP071 = ("BCP071", "Expected {expected}, but got {count}.")
# Words that are never symbol references where they stand in an expression.
KEYWORDS = {"true", "false", "null", "if", "for", "in", "existing"}
NAMESPACES = {"az", "sys"}  # the compiler's built-in namespaces (`sys.concat(...)`)
DECLARATIONS = {"param", "var", "resource", "module", "output", "metadata", "test", "assert"}
# Statements whose whole line this check does not read (types, imports, functions).
UNREAD = {"type", "func", "import", "targetScope", "using", "extension", "provider"}


def _declared_names(tokens: list[Token]) -> set[str]:
    """Every name declared in the file: top-level symbols, loop variables, lambda parameters."""
    names = set(NAMESPACES)
    for index, token in enumerate(tokens):
        at_line_start = index == 0 or tokens[index - 1].kind == "newline"
        nxt = tokens[index + 1] if index + 1 < len(tokens) else None
        declares = at_line_start and token.text in DECLARATIONS | {"type", "func"}
        if declares and nxt is not None and nxt.kind == "ident":
            names.add(nxt.text)
        if token.text == "for" and nxt is not None:  # `for x in`, `for (x, i) in`
            position = index + 1
            while position < len(tokens) and tokens[position].text != "in":
                if tokens[position].kind == "ident":
                    names.add(tokens[position].text)
                position += 1
        if at_line_start and token.text == "func" and index + 2 < len(tokens):
            position, depth = index + 2, 0  # `func f(a string, b int[]) string => ...`
            while position < len(tokens):
                text = tokens[position].text
                if text in ("(", "[", "{"):
                    depth += 1
                elif text in (")", "]", "}"):
                    depth -= 1
                    if depth <= 0:
                        break
                elif (
                    depth == 1
                    and tokens[position].kind == "ident"
                    and tokens[position - 1].text in ("(", ",")
                ):
                    names.add(text)  # a parameter's name, before its type
                position += 1
        if token.text == "=>":  # `x => ...`, `(a, b) => ...`
            position = index - 1
            if tokens[position].kind == "ident":
                names.add(tokens[position].text)
            elif tokens[position].text == ")":
                while position > 0 and tokens[position].text != "(":
                    if tokens[position].kind == "ident":
                        names.add(tokens[position].text)
                    position -= 1
        if at_line_start and token.text == "import":  # `import {a, b as c} from ...`
            position, depth = index + 1, 0
            while position < len(tokens):
                text = tokens[position].text
                depth += (text == "{") - (text == "}")
                if depth <= 0 and tokens[position].kind == "newline":
                    break
                if tokens[position].kind == "ident":
                    names.add(tokens[position].text)
                position += 1
        if token.text == "as" and nxt is not None and nxt.kind == "ident":
            names.add(nxt.text)  # an alias: `import * as x`, `extension k with {...} as x`
    return names


def _expression_start(tokens: list[Token], index: int) -> int | None:
    """Where the expressions of the statement at ``index`` begin (None: none to read).

    The declared type may span lines (``var x { foo: string } = ...``): the ``=`` counts only
    outside brackets, and a line ends the statement only outside them.
    """
    if tokens[index].text in UNREAD - {"targetScope"}:
        return None
    depth = 0
    position = index + 1
    while position < len(tokens):
        text = tokens[position].text
        if text in ("{", "[", "(", "<"):
            depth += 1
        elif text in ("}", "]", ")", ">"):
            depth -= 1
        elif depth <= 0 and text == "=":
            return position + 1
        elif depth <= 0 and tokens[position].kind == "newline":
            return None  # a parameter without a default value, say
        position += 1
    return None


def _unread_indexes(tokens: list[Token]) -> set[int]:
    """Indexes of the tokens before each statement's ``=`` (names, types), never expressions."""
    unread: set[int] = set()
    for index, token in enumerate(tokens):
        at_line_start = index == 0 or tokens[index - 1].kind == "newline"
        if not (at_line_start and token.kind == "ident" and token.text in DECLARATIONS | UNREAD):
            continue
        start = _expression_start(tokens, index)
        position, depth = index, 0
        while position < len(tokens):
            if start is not None and position >= start:
                break
            text = tokens[position].text
            depth += (text in ("{", "[", "(", "<")) - (text in ("}", "]", ")", ">"))
            if start is None and depth <= 0 and tokens[position].kind == "newline":
                break
            unread.add(position)
            position += 1
    return unread


def undefined_names(tokens: list[Token]) -> list[tuple[str, int]]:
    """(name, offset) of each reference to a symbol the file does not declare (BCP057)."""
    declared = _declared_names(tokens)
    unread = _unread_indexes(tokens)
    found = []
    for index, token in enumerate(tokens):
        if index in unread or token.kind != "ident":
            continue
        if token.text in KEYWORDS or token.text in declared:
            continue
        previous = tokens[index - 1] if index else None
        nxt = tokens[index + 1] if index + 1 < len(tokens) else None
        if previous is not None and previous.text in (".", ".?", "@"):
            continue  # a property (`x.name`, `x.?name`) or a decorator (`@description`)
        if previous is not None and previous.text == "?" and tokens[index - 2].text == ".":
            continue
        if nxt is not None and nxt.text == "(":
            continue  # a function call (an unknown function is another code)
        after_element = previous is not None and (
            previous.kind in ("string", "string-right", "int", "multiline", "multiline-right")
            or (previous.kind == "ident" and previous.text not in KEYWORDS)
            or previous.text in (")", "]", "}")
        )  # `{ a: 'x' b: 'y' }`: the parser reads `b` as the next key (after BCP236)
        if (
            nxt is not None
            and nxt.text == ":"
            and (
                previous is None
                or previous.kind == "newline"
                or previous.text in ("{", ",")
                or after_element
            )
        ):
            continue  # an object property's key
        found.append((token.text, token.offset))
    return found


def _arguments(tokens: list[Token], open_index: int) -> tuple[list[list[Token]], int]:
    """The argument token runs of the call whose ``(`` is at ``open_index``, and the index
    of its ``)``."""
    arguments: list[list[Token]] = [[]]
    depth, position = 0, open_index
    while position < len(tokens):
        token = tokens[position]
        text = token.text
        if (token.kind == "op" and text in ("(", "[", "{")) or token.kind in (
            "string-left",
            "multiline-left",
        ):
            depth += 1
        elif (token.kind == "op" and text in (")", "]", "}")) or token.kind in (
            "string-right",
            "multiline-right",
        ):
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and token.kind == "op" and text == ",":
            arguments.append([])
        elif position != open_index and token.kind != "newline":
            arguments[-1].append(token)
        position += 1
    if arguments == [[]]:
        return [], position
    return arguments, position


def _calls(tokens: list[Token]) -> list[tuple[str, int, tuple]]:
    """(function, index of its ``(``, its overloads) of each call of a built-in function or
    decorator (not one the file declares, nor a method of something else)."""
    from .bicep_functions import DECORATORS, OVERLOADS

    declared = _declared_names(tokens) - NAMESPACES
    found = []
    for index, token in enumerate(tokens[:-1]):
        if token.kind != "ident" or tokens[index + 1].text != "(" or token.text in declared:
            continue
        previous = tokens[index - 1] if index else None
        qualified = previous is not None and previous.text == "." and index >= 2
        if qualified and tokens[index - 2].text not in NAMESPACES:
            continue  # a method of something else
        start = index - 2 if qualified else index
        decorator = start > 0 and tokens[start - 1].text == "@"
        table = DECORATORS if decorator else OVERLOADS
        if token.text in table:
            found.append((token.text, index + 1, table[token.text]))
    return found


def argument_counts(tokens: list[Token]) -> list[tuple[str, int, int]]:
    """(expected, count, offset) of built-in function calls whose argument count no overload
    takes (FunctionResolver, reported between the parentheses as TypeAssignmentVisitor)."""
    found = []
    for _name, open_index, overloads in _calls(tokens):
        arguments, _ = _arguments(tokens, open_index)
        count = len(arguments)
        if any(least <= count and (most is None or count <= most) for least, most, _ in overloads):
            continue
        least = min(overload[0] for overload in overloads)
        mosts = [overload[1] for overload in overloads]
        most = None if None in mosts else max(m for m in mosts if m is not None)
        noun = "argument" if least == 1 else "arguments"
        if most is None:
            expected = f"at least {least} {noun}"
        elif least == most:
            expected = f"{least} {noun}"
        else:
            expected = f"{least} to {most} arguments"
        found.append((expected, count, tokens[open_index].offset))
    for index, token in enumerate(tokens[:-1]):  # type templates: `resourceInput<'type@v'>`
        if token.text not in TYPE_TEMPLATES or tokens[index + 1].text != "<":
            continue
        if index and tokens[index - 1].text == ".":
            continue
        position, count = index + 2, 0
        while position < len(tokens) and tokens[position].text != ">":
            if tokens[position].kind in ("string", "ident"):
                count += 1  # each argument is one string literal, with or without a comma
            elif tokens[position].kind == "newline":
                break
            position += 1
        if count != 1 and position < len(tokens) and tokens[position].text == ">":
            found.append(("1 argument", count, tokens[index + 1].offset))
    return found


def argument_types(tokens: list[Token]) -> list[tuple[str, str, int]]:
    """(argument type, parameter type, offset) of each literal argument that no overload of
    the function accepts (FunctionResolver: BCP070 at the mismatching argument with the
    highest index; several overloads failing at the same one are BCP048, not judged here).

    Only literals are judged (a string, an int, a bool, an object, an empty array), against
    parameters of a plain type (string, int, bool, array, object)."""
    from .bicep_modules import _accepts, _literal_type
    from .bicep_syntax import parse_value

    found = []
    for _name, open_index, overloads in _calls(tokens):
        arguments, _ = _arguments(tokens, open_index)
        count = len(arguments)
        kinds = [_literal_type(parse_value(argument), {}, {}) for argument in arguments]
        mismatches: list[tuple[int, str, str]] = []
        matched = False
        for least, most, types in overloads:
            if count < least or (most is not None and count > most):
                continue
            mismatch = None
            for index, actual in enumerate(kinds):
                if most is None and index >= len(types) - 1:
                    expected = types[-1] if types else None  # the variable parameter
                else:
                    expected = types[index] if index < len(types) else None
                if actual is not None and expected is not None and not _accepts(expected, actual):
                    mismatch = (index, actual, expected)
                    break
            if mismatch is None:
                matched = True
                break
            mismatches.append(mismatch)
        if matched or not mismatches:
            continue
        if len(mismatches) > 1 and len({index for index, _, _ in mismatches}) == 1:
            continue  # BCP048 (CannotResolveFunctionOverload)
        index, actual, expected = max(mismatches, key=lambda item: item[0])
        found.append((actual, expected, arguments[index][0].offset))
    return found


BCP065 = (
    "BCP065",
    'Function "{name}" is not valid at this location. It can only be used as a parameter '
    "default value.",
)
PARAM_DEFAULTS_ONLY = {"utcNow", "newGuid"}  # FunctionFlags.ParamDefaultsOnly


def param_default_only_calls(tokens: list[Token]) -> list[tuple[str, int]]:
    """(function, offset) of ``utcNow()``/``newGuid()`` outside a parameter's default value
    (NameBindingVisitor allows FunctionFlags.ParamDefaultsOnly only after a param's ``=``)."""
    from .bicep_syntax import _split_top_level

    defaults: list[tuple[int, int]] = []
    for statement in _split_top_level(tokens):
        items = [token for token in statement if token.kind != "newline"]
        while len(items) > 1 and items[0].text == "@":  # decorators on their own lines
            position = 2
            if position + 1 < len(items) and items[position].text == ".":
                position += 2
            if position < len(items) and items[position].text == "(":
                depth = 0
                while position < len(items):
                    text = items[position].text
                    depth += (text in ("(", "[", "{")) - (text in (")", "]", "}"))
                    position += 1
                    if depth == 0:
                        break
            items = items[position:]
        if not items or items[0].text != "param":
            continue
        depth = 0
        for token in items:
            depth += (token.text in ("(", "[", "{", "<")) - (token.text in (")", "]", "}", ">"))
            if depth == 0 and token.text == "=":
                end = items[-1].offset + len(items[-1].text)
                defaults.append((token.offset, end))
                break
    found = []
    for name, open_index, _overloads in _calls(tokens):
        if name not in PARAM_DEFAULTS_ONLY:
            continue
        offset = tokens[open_index - 1].offset
        if not any(start < offset < end for start, end in defaults):
            found.append((name, offset))
    return found


# Type templates (SystemNamespaceType.cs TypeTemplate): one resource type argument each.
TYPE_TEMPLATES = {"resourceInput", "resourceOutput"}


BCP124 = (
    "BCP124",
    'The decorator "{decorator}" can only be attached to targets of type "{attachable}", '
    'but the target has type "{target}".',
)
# Decorators with an attachable type, as SystemNamespaceType.cs declares them (the union
# printed as the compiler prints it).
ATTACHABLE = {
    "minLength": {"array", "string"},
    "maxLength": {"array", "string"},
    "minValue": {"int"},
    "maxValue": {"int"},
    "secure": {"object", "string"},
}
PRIMITIVE_TYPES = {"string", "int", "bool", "object", "array"}


def decorator_targets(tokens: list[Token]) -> list[tuple[str, str, int]]:
    """(decorator, target type, offset) of each decorator on a parameter or output whose
    primitive type it cannot be attached to (BCP124)."""
    found = []
    pending: list[tuple[str, int]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        at_line_start = index == 0 or tokens[index - 1].kind == "newline"
        if not at_line_start or token.kind == "newline":
            index += 1
            continue
        if token.text == "@":
            position = index + 1
            if tokens[position].text == "sys" and tokens[position + 1].text == ".":
                position += 2
            pending.append((tokens[position].text, token.offset))
            depth = 0
            while position < len(tokens):  # to the end of the decorator's arguments
                text = tokens[position].text
                depth += (text in ("(", "[", "{")) - (text in (")", "]", "}"))
                if depth <= 0 and tokens[position].kind == "newline":
                    break
                position += 1
            index = position + 1
            continue
        if token.text in ("param", "output") and index + 2 < len(tokens):
            target = tokens[index + 2]
            after = tokens[index + 3] if index + 3 < len(tokens) else None
            typed_array = after is not None and after.text == "["  # `int[]` is an array type
            if target.kind == "ident" and target.text in PRIMITIVE_TYPES and not typed_array:
                for decorator, offset in pending:
                    attachable = ATTACHABLE.get(decorator)
                    if attachable is not None and target.text not in attachable:
                        found.append((decorator, target.text, offset))
        pending = []
        index += 1
    return found


BCP139 = (
    "BCP139",
    "A resource's scope must match the scope of the Bicep file for it to be deployable. "
    "You must use modules to deploy resources to a different scope.",
)
SCOPE_FUNCTIONS = {"resourceGroup", "subscription", "managementGroup", "tenant"}


def cross_scope_resources(tokens: list[Token]) -> list[int]:
    """Offsets of ``scope:`` values that deploy a new resource outside the file's scope (BCP139).

    As ScopeHelper.IsDeployableResourceScope: a resource (not ``existing``) may be deployed
    only at the file's target scope named without arguments (``resourceGroup()`` in a
    resource-group file), or at the tenant; a scope given by a resource (an extension
    resource) is not read here.
    """
    target = "resourceGroup"
    for index, token in enumerate(tokens[:-2]):
        at_line_start = index == 0 or tokens[index - 1].kind == "newline"
        if at_line_start and token.text == "targetScope" and tokens[index + 1].text == "=":
            target = (
                (tokens[index + 2].value or target)
                if tokens[index + 2].kind == "string"
                else target
            )
    found = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        at_line_start = index == 0 or tokens[index - 1].kind == "newline"
        if not (at_line_start and token.text == "resource"):
            index += 1
            continue
        position = index + 1
        existing = False
        while (
            position < len(tokens)
            and tokens[position].text not in ("{", "[")
            and tokens[position].kind != "newline"
        ):
            existing = existing or tokens[position].text == "existing"
            position += 1
        depth = 0
        while position < len(tokens):  # the body, `{ ... }` (or a loop's `[ for ...: { } ]`)
            text = tokens[position].text
            depth += (text in ("{", "[", "(")) - (text in ("}", "]", ")"))
            if depth <= 0:
                break
            is_key = (
                text == "scope"
                and tokens[position - 1].kind == "newline"
                and tokens[position + 1].text == ":"
            )
            if is_key and not existing:
                value = position + 2
                if tokens[value].text == "az" and tokens[value + 1].text == ".":
                    value += 2
                call = tokens[value]
                if call.text in SCOPE_FUNCTIONS and tokens[value + 1].text == "(":
                    has_arguments = tokens[value + 2].text != ")"
                    if call.text != "tenant" and (call.text != target or has_arguments):
                        found.append(tokens[position + 2].offset)
            position += 1
        index = position + 1
    return found
