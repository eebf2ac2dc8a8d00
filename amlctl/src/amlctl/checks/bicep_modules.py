"""The Bicep compiler's rules on module calls: their ``params`` and the ``outputs`` read.

A module's ``params`` is an object of type "params" whose properties are the called file's
parameters (Azure/bicep ``TypeValidator``, ``TypeHelper``), and its ``outputs`` an object of
type "outputs" of the called file's outputs. Codes and messages from ``DiagnosticBuilder.cs``:

- BCP035 (``MissingRequiredProperties``): a required parameter (no default value, a type
  that does not admit null) not passed: at the ``params`` key (block "object"), or at the
  module's name when the module has no ``params`` at all (block "module");
- BCP037 (``DisallowedProperty``) / BCP089 (``DisallowedPropertyWithSuggestion``): a
  parameter the module does not declare, at its key; BCP089 when the compiler's spell
  checker (``SpellChecker.GetSpellingSuggestion``, ported below) finds a close parameter
  among those not passed yet;
- BCP036 (``PropertyTypeMismatch``): a value whose type is evident (a literal, a parameter of
  declared type, a variable holding a literal) that the parameter's declared type
  (string, int, bool, object, array) does not accept; a parameter with a default value is
  nullable, printed as the compiler prints the union (``null | string``);
- BCP052 / BCP053 / BCP083 (``UnknownProperty...``): ``m.outputs.x`` where the module has
  no output ``x``;
- BCP033 (``ExpectedValueTypeMismatch``): a parameter's default value or an output's value
  of an evident type (as above, or a module's output declared with a plain type) that the
  declared plain type does not accept (``param n int = 'x'``,
  ``output o string = m.outputs.count``); ``m.outputs.x`` is typed by the called file's
  output for module parameters too.

Only what can be read for certain is checked: a parameter typed with a user-defined or
resource-derived type is never required here (its type may admit null) and its values are
not type-checked; a parameter with ``@allowed`` or ``@secure`` is not type-checked either
(its type is then a union or a secure type).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cmp_to_key

from .bicep_lexer import Diagnostic, Token, lex
from .bicep_syntax import Value, _matching, _split_top_level, parse_value, read

PRIMITIVE = {"string", "int", "bool", "object", "array"}
BCP035 = (
    "BCP035",
    'The specified "{block}" declaration is missing the following required properties: '
    "{properties}.",
)
BCP036 = (
    "BCP036",
    'The property "{property}" expected a value of type "{expected}" but the provided value '
    'is of type "{actual}".',
)
BCP037 = (
    "BCP037",
    'The property "{property}" is not allowed on objects of type "params".{permissible}',
)
BCP089 = (
    "BCP089",
    'The property "{property}" is not allowed on objects of type "params". Did you mean '
    '"{suggestion}"?',
)
BCP033 = (
    "BCP033",
    'Expected a value of type "{expected}" but the provided value is of type "{actual}".',
)
BCP052 = ("BCP052", 'The type "outputs" does not contain property "{property}".')
BCP053 = (
    "BCP053",
    'The type "outputs" does not contain property "{property}". Available properties include '
    "{available}.",
)
BCP083 = (
    "BCP083",
    'The type "outputs" does not contain property "{property}". Did you mean "{suggestion}"?',
)


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str | None  # a primitive type name, or None for any other type
    required: bool
    checked: bool  # whether values passed to it are type-checked here


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _culture_order(names: list[str]) -> list[str]:
    """.NET's OrderBy on strings (culture-aware): case-insensitive first, lower case first."""

    def compare(a: str, b: str) -> int:
        if a.lower() != b.lower():
            return -1 if a.lower() < b.lower() else 1
        return (a > b) - (a < b) if a.swapcase() == b else -((a > b) - (a < b))

    return sorted(names, key=cmp_to_key(compare))


def _distance(first: str, second: str, limit: int) -> int:
    """Levenshtein distance, or -1 when above ``limit`` (as GetLevenshteinDistanceWithMax)."""
    if abs(len(first) - len(second)) > limit:
        return -1
    previous = list(range(len(second) + 1))
    for i in range(1, len(first) + 1):
        current = [i] + [0] * len(second)
        for j in range(1, len(second) + 1):
            cost = 0 if first[i - 1] == second[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        if min(current) > limit:
            return -1
        previous = current
    return previous[-1] if previous[-1] <= limit else -1


def spelling_suggestion(name: str, candidates: list[str]) -> str | None:
    """Azure/bicep ``SpellChecker.GetSpellingSuggestion``."""
    max_length_difference = min(int(len(name) * 0.34), 2)
    max_distance = int(len(name) * 0.34) + 1
    best = None
    case_only = False
    upper = name.upper()
    for candidate in candidates:
        if not candidate or abs(len(name) - len(candidate)) > max_length_difference:
            continue
        if candidate.upper() == upper:
            return candidate
        if case_only or len(candidate) < 3:
            continue
        distance = _distance(upper, candidate.upper(), max_distance - 1)
        if distance < 0:
            continue
        if distance < 2:
            case_only = True
        else:
            max_distance = distance
        best = candidate
    return best


@dataclass(frozen=True)
class Declared:
    """A ``param`` or ``output`` of a plain type with a value (default or output value)."""

    keyword: str
    name: str
    type: str
    value: list[Token]


# Decorators that leave a declaration's type as written (others refine it or make it a union)
PLAIN_DECORATORS = {"description", "metadata", "export", "sealed"}


def _declarations(
    text: str,
) -> tuple[dict[str, Parameter], list[str], dict[str, str], list[Declared]]:
    """A file's parameters, its outputs' names, the plain types of its outputs, and its
    params and outputs of a plain type with a value (decorators on their own lines)."""
    tokens = lex(text.removeprefix("\ufeff")).tokens
    params: dict[str, Parameter] = {}
    outputs: list[str] = []
    output_types: dict[str, str] = {}
    valued: list[Declared] = []
    decorators: list[str] = []
    for statement in _split_top_level(tokens):
        statement = [token for token in statement if token.kind != "newline"]
        while statement and statement[0].text == "@" and len(statement) > 1:
            name = statement[1]
            after = 2
            if name.text == "sys" and len(statement) > 3 and statement[2].text == ".":
                name, after = statement[3], 4
            decorators.append(name.text)
            if after < len(statement) and statement[after].text == "(":
                statement = statement[_matching(statement, after) + 1 :]
            else:
                statement = statement[after:]
        if not statement:
            continue  # a decorator on its own line: it applies to the next declaration
        keyword = statement[0].text
        if keyword in ("param", "output") and len(statement) > 2 and statement[1].kind == "ident":
            name, type_token, rest = statement[1], statement[2], statement[3:]
            plain = (
                type_token.kind == "ident"
                and type_token.text in PRIMITIVE
                and (not rest or rest[0].text in ("?", "="))
            )
            nullable = bool(rest) and rest[0].text == "?"
            has_default = any(token.text == "=" for token in rest)
            if keyword == "output":
                outputs.append(name.text)
                if plain and not nullable:
                    output_types[name.text] = type_token.text
            else:
                params[name.text] = Parameter(
                    name.text,
                    type_token.text if plain else None,
                    required=plain and not nullable and not has_default,
                    checked=plain and not nullable and not {"allowed", "secure"} & set(decorators),
                )
            has_value = bool(rest) and rest[0].text == "=" and len(rest) > 1
            if plain and not nullable and has_value and set(decorators) <= PLAIN_DECORATORS:
                valued.append(Declared(keyword, name.text, type_token.text, rest[1:]))
        decorators = []
    return params, outputs, output_types, valued


def declared_parameters(text: str) -> tuple[dict[str, Parameter], list[str]]:
    """A module file's parameters, and its outputs' names."""
    params, outputs, _types, _valued = _declarations(text)
    return params, outputs


def _literal_type(
    value: Value, file_params: dict[str, str], variables: dict[str, Value]
) -> str | None:
    """The type the compiler gives a value, where it is evident; None otherwise."""
    if value.kind == "string" and value.data is not None and len(value.tokens) == 1:
        escaped = value.data.replace("\\", "\\\\").replace("'", "\\'")
        return f"'{escaped}'"
    if value.kind == "int":
        return str(value.data)
    if value.kind == "bool":
        return "true" if value.data else "false"
    if value.kind == "object":
        return "object"
    if value.kind == "array" and not value.data and value.text.replace(" ", "") == "[]":
        return "<empty array>"
    if value.kind == "interpolated":
        return "string"
    if value.kind == "ref" and value.data in file_params:
        declared = file_params[value.data]
        return declared if declared in PRIMITIVE else None
    if value.kind == "ref" and value.data in variables:
        held = variables[value.data]
        if held.kind in ("string", "int", "bool"):
            return _literal_type(held, file_params, {})
    return None


def _value_type(
    value: Value,
    own: dict[str, str],
    variables: dict[str, Value],
    module_outputs: dict[str, dict[str, str]],
) -> str | None:
    """The evident type of a value, also ``m.outputs.x`` (or ``m!.outputs.x``) of a module
    whose output ``x`` is declared with a plain type."""
    tokens = [token for token in value.tokens if token.kind != "newline"]
    texts = [token.text for token in tokens]
    if len(texts) in (5, 6) and texts[0] in module_outputs:
        rest = texts[2:] if texts[1] == "!" else texts[1:]
        if len(rest) == 4 and rest[0] == "." and rest[1] == "outputs" and rest[2] == ".":
            return module_outputs[texts[0]].get(rest[3])
    return _literal_type(value, own, variables)


def _accepts(expected: str, actual: str) -> bool:
    if expected.startswith("'"):  # a union of string literals
        return actual in expected.split(" | ")
    if actual.startswith("'"):
        return expected == "string"
    if actual in ("true", "false"):
        return expected == "bool"
    if actual.lstrip("-").isdigit():
        return expected == "int"
    if actual == "<empty array>":
        return expected == "array"
    return expected == actual


def _printed(parameter: Parameter, optional: bool) -> str:
    if not optional:
        return str(parameter.type)
    return " | ".join(sorted([str(parameter.type), "null"]))


def module_diagnostics(text: str, load: Callable[[str], str | None]) -> list[Diagnostic]:
    """The module rules for one file; ``load`` gives a module path's text (None: unreadable)."""
    text = text.removeprefix("\ufeff")
    found = read(text)
    tokens = lex(text).tokens
    # the file's own parameters of a plain type, for values that reference them
    params_here, _outputs_here, _types_here, valued = _declarations(text)
    own = {p.name: str(p.type) for p in params_here.values() if p.checked}
    out: list[Diagnostic] = []
    module_outputs: dict[str, dict[str, str]] = {}
    for symbol, module in found.modules.items():
        path = module.type
        if module.loop or not path.endswith(".bicep") or path.startswith(("br:", "ts:")):
            continue
        source = load(path)
        if source is not None:
            module_outputs[symbol] = _declarations(source)[2]
    for declared in valued:  # BCP033: a param's default or an output's value
        value = parse_value(declared.value)
        actual = _value_type(value, own, found.variables, module_outputs)
        if actual is not None and not _accepts(declared.type, actual):
            message = BCP033[1].format(expected=declared.type, actual=actual)
            out.append(Diagnostic(BCP033[0], message, declared.value[0].offset))
    for symbol, module in found.modules.items():
        path = module.type
        if not path.endswith(".bicep") or path.startswith(("br:", "br/", "ts:", "ts/")):
            continue  # an ARM JSON template, a registry or template-spec module: not read
        source = load(path)
        if source is None:
            continue
        params, outputs = declared_parameters(source)
        name_offset = next(
            (t.offset for t in tokens if t.offset > module.offset and t.text == symbol), None
        )
        out.extend(_outputs(tokens, symbol, outputs))
        body = module.body
        if body is None or body.kind != "object":
            continue
        given = body.data.get("params")
        required = [p.name for p in params.values() if p.required]
        if given is None:
            if required and name_offset is not None:
                out.append(
                    Diagnostic(
                        BCP035[0],
                        BCP035[1].format(block="module", properties=_quoted(["params"])),
                        name_offset,
                    )
                )
            continue
        if given.kind != "object":
            continue
        passed: dict[str, Value] = given.data
        spread = any(token.text == "..." for token in given.tokens)  # `...other`: unknown keys
        missing = [] if spread else _culture_order([n for n in required if n not in passed])
        if missing:
            out.append(
                Diagnostic(
                    BCP035[0],
                    BCP035[1].format(block="object", properties=_quoted(missing)),
                    given.offset,
                )
            )
        unspecified = _culture_order([name for name in params if name not in passed])
        for key, value in passed.items():
            parameter = params.get(key)
            if parameter is None:
                suggestion = spelling_suggestion(key, unspecified)
                if suggestion is not None:
                    message = BCP089[1].format(property=key, suggestion=suggestion)
                    out.append(Diagnostic(BCP089[0], message, value.offset))
                    continue
                permissible = (
                    f" Permissible properties include {_quoted(unspecified)}."
                    if unspecified
                    else " No other properties are allowed."
                )
                message = BCP037[1].format(property=key, permissible=permissible)
                out.append(Diagnostic(BCP037[0], message, value.offset))
                continue
            if not parameter.checked or not value.tokens:
                continue
            actual = _value_type(value, own, found.variables, module_outputs)
            if actual is None or _accepts(str(parameter.type), actual):
                continue
            expected = _printed(parameter, optional=not parameter.required)
            message = BCP036[1].format(property=key, expected=expected, actual=actual)
            out.append(Diagnostic(BCP036[0], message, value.tokens[0].offset))
    return out


def _outputs(tokens: list[Token], symbol: str, outputs: list[str]) -> list[Diagnostic]:
    """``symbol.outputs.x`` (also after ``!``, ``.?``, ``[i]``) where x is not an output."""
    found = []
    available = _culture_order(sorted(set(outputs)))
    for index, token in enumerate(tokens[:-3]):
        if token.text != symbol or token.kind != "ident":
            continue
        if index and tokens[index - 1].text in (".", "?"):
            continue
        position = index + 1
        if tokens[position].text == "!":
            position += 1
        if tokens[position].text == "[":  # a module collection's item: skip the index
            depth = 0
            while position < len(tokens):
                depth += (tokens[position].text == "[") - (tokens[position].text == "]")
                position += 1
                if depth == 0:
                    break
        if position + 2 >= len(tokens) or tokens[position].text != ".":
            continue
        if tokens[position + 1].text == "?":
            position += 1
        if tokens[position + 1].text != "outputs":
            continue
        dot = position + 2
        if dot + 1 < len(tokens) and tokens[dot].text == "?" and tokens[dot + 1].text == ".":
            dot += 1
        if dot + 1 >= len(tokens) or tokens[dot].text != ".":
            continue
        name = tokens[dot + 1]
        if name.kind != "ident" or name.text in outputs:
            continue
        if not available:
            message = BCP052[1].format(property=name.text)
            found.append(Diagnostic(BCP052[0], message, name.offset))
            continue
        suggestion = spelling_suggestion(name.text, available)
        if suggestion is not None:
            message = BCP083[1].format(property=name.text, suggestion=suggestion)
            found.append(Diagnostic(BCP083[0], message, name.offset))
        else:
            message = BCP053[1].format(property=name.text, available=_quoted(available))
            found.append(Diagnostic(BCP053[0], message, name.offset))
    return found
