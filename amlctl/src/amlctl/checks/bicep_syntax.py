"""Declarations of a Bicep file, read from the compiler-faithful tokens of ``bicep_lexer``.

pycep-parser gives identifiers and string literals the same shape (``location`` and
``'location'`` both become ``"location"``), which a type check cannot work with. This
reads what the type check and the permission model need, keeping them apart:
parameters (name, type, default), variables, resources (symbol, type, API version,
existing, condition, body) and modules (the same, with the module's path as type), each
value as a small tree of literals, objects, arrays, references, conditional expressions
and other expressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .bicep_lexer import Token, lex

OPEN = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Value:
    """``kind``: string, int, bool, null, object, array, ref, ternary, interpolated, expr."""

    kind: str
    data: Any  # str | int | bool | None | dict[str, Value] | list[Value] | (Value, Value, Value)
    offset: int
    tokens: tuple[Token, ...] = ()

    @property
    def text(self) -> str:
        return "".join(token.text for token in self.tokens)

    def idents(self) -> list[str]:
        return [token.text for token in self.tokens if token.kind == "ident"]

    def strings(self) -> list[str]:
        return [token.value for token in self.tokens if token.value is not None]


@dataclass(frozen=True)
class Resource:
    symbol: str
    type: str
    api_version: str
    existing: bool
    condition: str | None  # the text inside ``if (...)``, when the resource is conditional
    loop: bool
    body: Value | None
    offset: int


@dataclass
class BicepFile:
    text: str
    params: dict[str, str] = field(default_factory=dict)  # name -> declared type
    defaults: dict[str, Value] = field(default_factory=dict)  # param name -> default value
    variables: dict[str, Value] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    # module symbol -> the module as a Resource whose ``type`` is the module's path
    modules: dict[str, Resource] = field(default_factory=dict)
    diagnostics: list[Any] = field(default_factory=list)


def _split_top_level(tokens: list[Token], commas: bool = False) -> list[list[Token]]:
    """Token runs separated, outside brackets, by newlines (and by commas when ``commas``).

    Statements of a file are split on newlines; the items of an array on newlines or commas.
    """
    parts: list[list[Token]] = []
    current: list[Token] = []
    depth = 0
    for index, token in enumerate(tokens):
        if depth and not commas and _starts_declaration(tokens, index):
            parts.append(current)  # an unclosed bracket: the parser recovers at a declaration
            current, depth = [], 0
        if token.kind == "op" and token.text in OPEN:
            depth += 1
        elif token.kind == "op" and token.text in (")", "]", "}"):
            depth = max(0, depth - 1)
        comma = commas and token.kind == "op" and token.text == ","
        if depth == 0 and token.kind == "newline" and _continues(tokens, index):
            continue  # `cond\n  ? a\n  : b`, `param p\n  | 'a'`: one expression over lines
        if depth == 0 and (token.kind == "newline" or comma):
            if _strip(current):
                parts.append(current)
            current = []
            continue
        current.append(token)
    if _strip(current):
        parts.append(current)
    return parts


# Tokens that continue the expression of the line before (a ternary's `?` and `:`, a union
# type's `|`, binary operators), where the compiler's parser reads one expression over lines.
CONTINUATIONS = {"?", ":", "|", "??", "&&", "||", "."}


def _continues(tokens: list[Token], index: int) -> bool:
    """Whether the line after the newline at ``index`` continues the line before it."""
    position = index
    while position < len(tokens) and tokens[position].kind == "newline":
        position += 1
    return (
        position < len(tokens)
        and tokens[position].kind == "op"
        and tokens[position].text in CONTINUATIONS
    )


DECLARATION_KEYWORDS = {
    "param", "var", "resource", "module", "output", "type", "func", "metadata", "import",
    "test", "assert",
}  # fmt: skip


def _starts_declaration(tokens: list[Token], index: int) -> bool:
    """Whether a line starts a declaration here (``resource x ...`` at the line's start).

    Inside an object such a word is a key (``resource: ...``), never followed by a name.
    """
    token = tokens[index]
    return (
        index > 0
        and tokens[index - 1].kind == "newline"
        and token.kind == "ident"
        and token.text in DECLARATION_KEYWORDS
        and index + 1 < len(tokens)
        and tokens[index + 1].kind == "ident"
    )


def _matching(tokens: list[Token], start: int) -> int:
    """Index of the bracket closing the one at ``start`` (or the last index)."""
    depth = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token.kind != "op":
            continue
        if token.text in OPEN:
            depth += 1
        elif token.text in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                return index
    return len(tokens) - 1


def _strip(tokens: list[Token]) -> list[Token]:
    start, end = 0, len(tokens)
    while start < end and tokens[start].kind == "newline":
        start += 1
    while end > start and tokens[end - 1].kind == "newline":
        end -= 1
    return tokens[start:end]


def _top_level(tokens: list[Token], text: str) -> int | None:
    depth = 0
    for index, token in enumerate(tokens):
        if token.kind != "op":
            continue
        if token.text in OPEN:
            depth += 1
        elif token.text in (")", "]", "}"):
            depth -= 1
        elif depth == 0 and token.text == text:
            if text == "?" and index and tokens[index - 1].text == ".":
                continue  # `.?`: safe dereference, not a conditional
            return index
    return None


def parse_value(tokens: list[Token]) -> Value:
    tokens = _strip(tokens)
    if not tokens:
        return Value("expr", None, 0, ())
    first, offset, whole = tokens[0], tokens[0].offset, tuple(tokens)
    if len(tokens) == 1:
        if first.kind == "string":
            return Value("string", first.value, offset, whole)
        if first.kind == "multiline":
            return Value("string", None, offset, whole)
        if first.kind == "int":
            return Value("int", int(first.text), offset, whole)
        if first.kind == "ident" and first.text in ("true", "false"):
            return Value("bool", first.text == "true", offset, whole)
        if first.kind == "ident" and first.text == "null":
            return Value("null", None, offset, whole)
        if first.kind == "ident":
            return Value("ref", first.text, offset, whole)
    if len(tokens) == 2 and first.text == "-" and tokens[1].kind == "int":
        return Value("int", -int(tokens[1].text), offset, whole)
    question = _top_level(tokens, "?")
    if question is not None:
        colon = _top_level(tokens[question + 1 :], ":")
        if colon is not None:
            colon += question + 1
            return Value(
                "ternary",
                (
                    parse_value(tokens[:question]),
                    parse_value(tokens[question + 1 : colon]),
                    parse_value(tokens[colon + 1 :]),
                ),
                offset,
                whole,
            )
    if first.kind == "op" and first.text == "{" and _matching(tokens, 0) == len(tokens) - 1:
        return Value("object", _object(tokens[1:-1]), offset, whole)
    if first.kind == "op" and first.text == "[" and _matching(tokens, 0) == len(tokens) - 1:
        inner = _strip(tokens[1:-1])
        if inner and inner[0].kind == "ident" and inner[0].text == "for":
            colon = _top_level(inner, ":")
            body = inner[colon + 1 :] if colon is not None else []
            return Value("array", [_loop_body(body)], offset, whole)
        return Value(
            "array",
            [parse_value(item) for item in _split_top_level(inner, commas=True)],
            offset,
            whole,
        )
    if first.kind in ("string-left", "multiline-left") and tokens[-1].kind in (
        "string-right",
        "multiline-right",
    ):
        return Value("interpolated", None, offset, whole)
    return Value("expr", None, offset, whole)


def _loop_body(tokens: list[Token]) -> Value:
    tokens = _strip(tokens)
    if tokens and tokens[0].kind == "ident" and tokens[0].text == "if" and len(tokens) > 1:
        tokens = tokens[_matching(tokens, 1) + 1 :]
    return parse_value(tokens)


def _object(tokens: list[Token]) -> dict[str, Value]:
    properties: dict[str, Value] = {}
    for item in _split_top_level(tokens, commas=True):
        item = _strip(item)
        if not item or item[0].text == "@":
            continue  # a decorator line
        key = item[0]
        if len(item) < 2 or item[1].text != ":":
            continue
        name = key.value if key.kind == "string" else key.text
        if name is None:
            continue  # an interpolated key: not checkable offline
        value = parse_value(item[2:])
        properties[name] = Value(value.kind, value.data, key.offset, value.tokens)
    return properties


def _resource(statement: list[Token]) -> Resource | None:
    if len(statement) < 4 or statement[2].kind != "string" or not statement[2].value:
        return None
    symbol = statement[1].text
    type_name, _, api_version = statement[2].value.partition("@")
    index = 3
    existing = statement[index].kind == "ident" and statement[index].text == "existing"
    if existing:
        index += 1
    if statement[index].text != "=":
        return None
    rest = statement[index + 1 :]
    condition = None
    loop = False
    if rest and rest[0].kind == "op" and rest[0].text == "[":
        loop = True
        inner = rest[1 : _matching(rest, 0)]
        colon = _top_level(inner, ":")
        rest = _strip(inner[colon + 1 :] if colon is not None else [])
    if rest and rest[0].kind == "ident" and rest[0].text == "if" and len(rest) > 1:
        close = _matching(rest, 1)
        condition = "".join(token.text for token in rest[2:close]).strip()
        rest = rest[close + 1 :]
    body = parse_value(rest) if rest else None
    return Resource(
        symbol, type_name, api_version, existing, condition, loop, body, statement[0].offset
    )


def read(text: str) -> BicepFile:
    """The declarations of one Bicep file (lexical errors are in ``diagnostics``)."""
    lexed = lex(text)
    found = BicepFile(text, diagnostics=list(lexed.diagnostics))
    for statement in _split_top_level(lexed.tokens):
        while statement and statement[0].text == "@":  # decorators on their own line
            statement = statement[_matching(statement, 2) + 1 :] if len(statement) > 2 else []
        if len(statement) < 3 or statement[0].kind != "ident":
            continue
        keyword = statement[0].text
        if keyword == "param" and statement[2].kind == "ident":
            found.params[statement[1].text] = statement[2].text
            if len(statement) > 4 and statement[3].text == "=":
                found.defaults[statement[1].text] = parse_value(statement[4:])
        elif keyword == "var" and statement[2].text == "=":
            found.variables[statement[1].text] = parse_value(statement[3:])
        elif keyword == "resource":
            resource = _resource(statement)
            if resource is not None:
                found.resources[resource.symbol] = resource
        elif keyword == "module":
            module = _resource(statement)
            if module is not None:
                found.modules[module.symbol] = module
    return found
