"""Deploy-time constants: where the Bicep compiler requires a value known at the start.

As Azure/bicep ``src/Bicep.Core/TypeSystem/DeployTimeConstant*.cs``: some places take only
values the deployment engine can calculate before it deploys anything (a resource's name
decides which resource ARM deploys; a condition or a loop's range decides whether and how
many). Reading a resource's or module's runtime state there is an error:

- BCP120 (``RuntimeValueNotAllowedInProperty``): the value of a new resource's ``name``,
  ``scope``, ``parent``, ``location``, ``kind``, ``sku``, ``tags``, ``identity``, ``zones``...
  (AzResourceTypeProvider's deploy-time-constant properties, where the type has them) or of
  a module's ``name``, ``scope`` or ``identity``;
- BCP177 (``RuntimeValueNotAllowedInIfConditionExpression``): a resource's or module's
  ``if (...)`` condition;
- BCP178 (``RuntimeValueNotAllowedInForExpression``): the range of a ``for ... in`` loop.

What can be read there: of a resource, ``id``, ``name``, ``type`` and ``apiVersion`` (and
the ``scope``/``parent`` it declares); of a module, its ``name``. Everything else
(``properties``, ``location``, ``sku``, a module's ``outputs`` or ``params``), the whole
resource or module, and the functions that ARM evaluates at run time (``reference``,
``list*``, ``toLogicalZone(s)``/``toPhysicalZone(s)``) are violations, also through
variables (the message then names the chain of variables). ``existing`` resources' bodies
are not checked, as in the compiler.
"""

from __future__ import annotations

import re
from typing import Any

from .bicep_lexer import Token
from .bicep_syntax import BicepFile, Resource, Value, _split_top_level, read

BCP120 = (
    "BCP120",
    'This expression is being used in an assignment to the "{property}" property of the '
    '"{type}" type, which requires a value that can be calculated at the start of the '
    "deployment.",
)
BCP177 = (
    "BCP177",
    "This expression is being used in the if-condition expression, which requires a value "
    "that can be calculated at the start of the deployment.",
)
BCP178 = (
    "BCP178",
    "This expression is being used in the for-expression, which requires a value that can "
    "be calculated at the start of the deployment.",
)
# AzResourceTypeProvider.WriteOnlyDeployTimeConstantPropertyNames, plus name, scope, parent.
RESOURCE_CONSTANTS = {
    "location", "kind", "subscriptionId", "resourceGroup", "managedBy", "extendedLocation",
    "zones", "placement", "plan", "sku", "identity", "managedByExtended", "tags", "asserts",
}  # fmt: skip
BICEP_CONSTANTS = {"name", "scope", "parent"}  # on every resource body (parent: child types)
MODULE_CONSTANTS = {"name", "scope", "identity"}  # LanguageConstants.CreateModuleType
# What the compiler lets a deploy-time constant read, and what it lists in its message.
RESOURCE_READABLE = {"id", "name", "type", "apiVersion", "scope", "parent"}
RESOURCE_LISTED = ("apiVersion", "id", "name", "type")
MODULE_READABLE = {"name", "scope"}
MODULE_LISTED = ("name",)
MODULE_PROPERTIES = {"name", "scope", "params", "outputs", "dependsOn", "identity"}
# Functions flagged RequiresInlining (AzNamespaceType.cs, resource methods list*).
RUNTIME_FUNCTIONS = {
    "reference", "toLogicalZone", "toLogicalZones", "toPhysicalZone", "toPhysicalZones",
}  # fmt: skip
VALUE_INDEPENDENT = {"nameof"}  # FunctionFlags.IsArgumentValueIndependent
LIST_FUNCTION = re.compile(r"^list[a-zA-Z]*$")  # AzConstants.ListWildcardFunctionRegex
SCOPE_KEYS = {"scope", "parent"}  # take a whole resource (a ResourceScope/ParentType)


def _body_type(resource: Resource) -> tuple[str, set[str] | None]:
    """The body type's name, as the compiler prints it, and its top-level properties."""
    from .bicep_types import _lookup

    entry = _lookup(resource.type)
    body = (entry or {}).get("bodies", {}).get(resource.api_version)
    if not body:
        return resource.type, None
    top: dict[str, Any] = body["types"][0]
    return str(top.get("name") or resource.type), set(top.get("properties", {}))


class _Scanner:
    def __init__(self, bicep: BicepFile) -> None:
        self.bicep = bicep
        self.types: dict[str, tuple[str, set[str] | None]] = {}

    def properties(self, symbol: str) -> tuple[set[str], tuple[str, ...], set[str] | None]:
        """(readable, listed in the message, every property or None if unknown)."""
        if symbol in self.bicep.modules:
            return MODULE_READABLE, MODULE_LISTED, MODULE_PROPERTIES
        resource = self.bicep.resources[symbol]
        if symbol not in self.types:
            self.types[symbol] = _body_type(resource)
        known = self.types[symbol][1]
        every = None if known is None else known | {"scope", "parent", "dependsOn"}
        return RESOURCE_READABLE, RESOURCE_LISTED, every

    def accessible(self, symbol: str) -> str:
        listed = self.properties(symbol)[1]
        quoted = ", ".join(f'"{name}"' for name in listed)
        return f" Properties of {symbol} which can be calculated at the start include {quoted}."

    def reads(self, tokens: tuple[Token, ...], whole_allowed: bool = False, calls: bool = True):
        """(offset, kind, name) of each runtime read in an expression's tokens: kind is
        ``access`` (a resource or module), ``call`` (a function ARM runs at deployment) or
        ``variable`` (a variable, which may read one). ``calls``: False where the compiler
        rejects the call itself (BCP066 in a condition)."""
        index = 0
        while index < len(tokens):
            token = tokens[index]
            previous = tokens[index - 1] if index else None
            nxt = tokens[index + 1] if index + 1 < len(tokens) else None
            if token.kind != "ident":
                index += 1
                continue
            is_member = previous is not None and previous.text in (".", ".?")
            if nxt is not None and nxt.text == "(":
                if token.text in VALUE_INDEPENDENT and not is_member:
                    index = self._close(tokens, index + 1) + 1  # its arguments are not read
                    continue
                runtime = token.text in RUNTIME_FUNCTIONS or LIST_FUNCTION.match(token.text)
                if runtime and (is_member or calls):
                    yield token.offset, "call", token.text
                index += 1
                continue
            is_key = (
                nxt is not None
                and nxt.text == ":"
                and (previous is None or previous.kind == "newline" or previous.text in ("{", ","))
            )
            if is_member or is_key:
                index += 1
                continue
            symbol = token.text
            if symbol in self.bicep.resources or symbol in self.bicep.modules:
                kind, index = self._access(tokens, index, whole_allowed)
                if kind is not None:
                    yield token.offset, kind, symbol
                continue
            if symbol in self.bicep.variables and symbol not in self.bicep.params:
                yield token.offset, "variable", symbol
            index += 1

    def violations(
        self, tokens: tuple[Token, ...], whole_allowed: bool = False, calls: bool = True
    ) -> list[tuple[int, str]]:
        """(offset, message tail) of each runtime value read in an expression's tokens."""
        found = []
        for offset, kind, name in self.reads(tokens, whole_allowed, calls):
            if kind == "access":
                found.append((offset, self.accessible(name)))
            elif kind == "call":
                found.append((offset, ""))
            else:
                chain = self._through_variable(name, [name], {name})
                if chain is not None:
                    names, tail = chain
                    joined = '" -> "'.join(names)
                    clause = (
                        " You are referencing a variable which cannot be calculated at the "
                        f'start ("{joined}").'
                    )
                    found.append((offset, clause + tail))
        return found

    def _through_variable(
        self, name: str, chain: list[str], seen: set[str]
    ) -> tuple[list[str], str] | None:
        """The first runtime value a variable reads: (chain of names, accessible clause)."""
        for _offset, kind, found in self.reads(self.bicep.variables[name].tokens):
            if kind == "access":
                return [*chain, found], self.accessible(found)
            if kind == "call":
                return [*chain, found], ""
            if found not in seen:
                deeper = self._through_variable(found, [*chain, found], seen | {found})
                if deeper is not None:
                    return deeper
        return None

    def _access(
        self, tokens: tuple[Token, ...], index: int, whole_allowed: bool
    ) -> tuple[str | None, int]:
        """What the access starting at a resource/module symbol reads at run time:
        ``access``, ``call`` (its list method) or None; and where the access ends."""
        symbol = tokens[index].text
        readable, _listed, every = self.properties(symbol)
        position = index + 1

        def at(offset: int) -> str:
            return tokens[offset].text if offset < len(tokens) else ""

        if at(position) == "!":
            position += 1
        if at(position) == "[" and self._is_loop(symbol):  # `loop[0]`: one of a collection
            position = self._close(tokens, position) + 1
            if at(position) == "!":
                position += 1
        prop: str | None = None
        if at(position) in (".", ".?") and position + 1 < len(tokens):
            prop = tokens[position + 1].text
            position += 2
            if at(position) == "(":
                return ("call" if LIST_FUNCTION.match(prop) else None), position
        elif at(position) == "[":
            close = self._close(tokens, position)
            inner = tokens[position + 1 : close]
            prop = self._literal(inner)
            if prop is None:
                return "access", close + 1  # an index the compiler cannot resolve to a name
            position = close + 1
        if prop is None:
            return (None if whole_allowed else "access"), position  # the whole of it
        if prop in readable:
            return None, position
        if every is not None and prop not in every:
            return None, position  # no such property: another error (BCP053)
        return "access", position

    def _literal(self, tokens: tuple[Token, ...]) -> str | None:
        """The string an index expression is known to be: a literal, a variable holding one,
        or an interpolation of only that (``'${name}'``), as the compiler folds them."""
        if len(tokens) == 1 and tokens[0].kind == "string":
            return tokens[0].value
        if len(tokens) == 1 and tokens[0].kind == "ident":
            value = self.bicep.variables.get(tokens[0].text)
            if value is not None and value.kind == "string" and isinstance(value.data, str):
                return value.data
            return None
        if len(tokens) == 3 and tokens[0].text == "'${" and tokens[2].text == "}'":
            return self._literal(tokens[1:2])
        return None

    def _is_loop(self, symbol: str) -> bool:
        declared = self.bicep.modules.get(symbol) or self.bicep.resources.get(symbol)
        return bool(declared and declared.loop)

    @staticmethod
    def _close(tokens: tuple[Token, ...], start: int) -> int:
        depth = 0
        for position in range(start, len(tokens)):
            text = tokens[position].text
            depth += (text in ("(", "[", "{")) - (text in (")", "]", "}"))
            if depth == 0:
                return position
        return len(tokens) - 1


def _body_of(declared: Resource) -> Value | None:
    body = declared.body
    if body is not None and body.kind == "array" and body.data:
        return body.data[0]  # a loop's body
    return body


def _conditions_and_ranges(
    tokens: tuple[Token, ...],
) -> tuple[list[tuple[Token, ...]], list[tuple[Token, ...]]]:
    """Every ``if (...)`` condition and every ``[for ... in <range>: ...]`` range."""
    conditions, ranges = [], []
    for index, token in enumerate(tokens):
        if token.kind != "ident" or index + 1 >= len(tokens):
            continue
        if token.text == "if" and tokens[index + 1].text == "(":
            close = _Scanner._close(tokens, index + 1)
            conditions.append(tokens[index + 2 : close])
        if token.text == "for" and index and tokens[index - 1].text == "[":
            position = index + 1
            while position < len(tokens) and tokens[position].text != "in":
                position += 1
            depth, end = 0, position + 1
            while end < len(tokens):
                text = tokens[end].text
                depth += (text in ("(", "[", "{")) - (text in (")", "]", "}"))
                if depth == 0 and text == ":":
                    break
                end += 1
            ranges.append(tokens[position + 1 : end])
    return conditions, ranges


def runtime_values(text: str, tokens: list[Token]) -> list[tuple[str, str, int]]:
    """(code, message, offset) of each runtime value where a deploy-time constant is needed."""
    bicep = read(text)
    scanner = _Scanner(bicep)
    found: list[tuple[str, str, int]] = []
    conditions, ranges = [], []
    for statement in _split_top_level(tokens):
        found_here = _conditions_and_ranges(tuple(statement))
        conditions += found_here[0]
        ranges += found_here[1]
    for condition in conditions:
        for offset, tail in scanner.violations(condition, calls=False):
            found.append((BCP177[0], BCP177[1] + tail, offset))
    for loop_range in ranges:
        for offset, tail in scanner.violations(loop_range):
            found.append((BCP178[0], BCP178[1] + tail, offset))
    declarations = [(r, False) for r in bicep.resources.values()] + [
        (m, True) for m in bicep.modules.values()
    ]
    for declared, is_module in declarations:
        body = _body_of(declared)
        if declared.existing or body is None or body.kind != "object":
            continue
        if is_module:
            type_name, constants = "module", MODULE_CONSTANTS
        else:
            type_name, known = scanner.types.setdefault(declared.symbol, _body_type(declared))
            typed = RESOURCE_CONSTANTS if known is None else RESOURCE_CONSTANTS & known
            constants = BICEP_CONSTANTS | typed
        for key, value in body.data.items():
            if key not in constants:
                continue
            for offset, tail in scanner.violations(value.tokens, whole_allowed=key in SCOPE_KEYS):
                message = BCP120[1].format(property=key, type=type_name) + tail
                found.append((BCP120[0], message, offset))
    return sorted(found, key=lambda item: item[2])
