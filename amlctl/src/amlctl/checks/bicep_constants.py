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
- BCP178 (``RuntimeValueNotAllowedInForExpression``): the range of a ``for ... in`` loop;
- BCP182 (``RuntimeValueNotAllowedInVariableForBody``): the body of a variable's loop
  (``var x = [for i in ...: <body>]``), which ARM evaluates before deploying; the message
  names the property read (``The property "properties" of foo ...``). Reads through
  another variable are not reported here.

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
BCP182 = (
    "BCP182",
    'This expression is being used in the for-body of the variable "{variable}", which '
    "requires values that can be calculated at the start of the deployment.",
)
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


EXTENSION_NAMESPACES = ("Microsoft.Graph/",)  # types an extension brings, not ARM's


def _extension_type(type_name: str, bicep: BicepFile) -> bool:
    """A resource type of an extension: Microsoft Graph, or any type not in the bundled Azure
    types of a file that declares an extension."""
    if type_name.startswith(EXTENSION_NAMESPACES):
        return True
    if "/" in type_name and re.search(r"^\s*(extension|provider)\s", bicep.text, re.MULTILINE):
        from .bicep_types import _lookup

        return _lookup(type_name) is None
    return False


def _bound_by_for(tokens: tuple[Token, ...], index: int) -> set[str]:
    """Names ``for x in``/``for (x, i) in`` binds."""
    names = set()
    position = index + 1
    while position < len(tokens) and tokens[position].text != "in":
        if tokens[position].kind == "ident":
            names.add(tokens[position].text)
        if tokens[position].kind == "newline" or position - index > 8:
            break
        position += 1
    return names


def _bound_by_lambda(tokens: tuple[Token, ...], index: int) -> set[str]:
    """Names ``x =>``/``(a, b) =>`` binds."""
    if index and tokens[index - 1].kind == "ident":
        return {tokens[index - 1].text}
    names = set()
    position = index - 1
    if position >= 0 and tokens[position].text == ")":
        while position >= 0 and tokens[position].text != "(":
            if tokens[position].kind == "ident":
                names.add(tokens[position].text)
            position -= 1
    return names


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
        self.read_property: dict[int, str] = {}  # offset of an access -> the property it reads
        # resources of an extension's types (Microsoft Graph...): their deploy-time rules come
        # from the extension's types, not bundled here, so they are not judged
        self.excluded = {
            symbol
            for symbol, resource in bicep.resources.items()
            if _extension_type(resource.type, bicep)
        }

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
        known = symbol in self.bicep.modules or symbol in self.bicep.resources
        listed = self.properties(symbol)[1] if known else RESOURCE_LISTED  # a nested one
        quoted = ", ".join(f'"{name}"' for name in listed)
        return f" Properties of {symbol} which can be calculated at the start include {quoted}."

    def reads(
        self,
        tokens: tuple[Token, ...],
        whole_allowed: bool = False,
        calls: bool = True,
        shadowed: frozenset[str] = frozenset(),
    ):
        """(offset, kind, name) of each runtime read in an expression's tokens: kind is
        ``access`` (a resource or module), ``call`` (a function ARM runs at deployment) or
        ``variable`` (a variable, which may read one). ``calls``: False where the compiler
        rejects the call itself (BCP066 in a condition). ``shadowed``: names a loop binds
        around the tokens; loops and lambdas inside them bind theirs (for the rest of the
        tokens: a wider scope than the compiler's, so never a read it would not see)."""
        local = set(shadowed)
        index = 0
        while index < len(tokens):
            token = tokens[index]
            previous = tokens[index - 1] if index else None
            nxt = tokens[index + 1] if index + 1 < len(tokens) else None
            if token.text == "for" and token.kind == "ident":
                local |= _bound_by_for(tokens, index)
            if token.text == "=>":
                local |= _bound_by_lambda(tokens, index)
            if token.kind != "ident" or token.text in local:
                index += 1
                continue
            is_member = previous is not None and (
                previous.text in (".", "::")
                or (previous.text == "?" and index >= 2 and tokens[index - 2].text == ".")
            )  # `x.name`, `x.?name` (the lexer gives `.` and `?`), `x::child`
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
            if symbol in self.excluded:
                index += 1
                continue
            if symbol in self.bicep.resources or symbol in self.bicep.modules:
                start = index
                kind, index = self._access(tokens, index, whole_allowed)
                if kind == "access" and self._property is not None:
                    self.read_property[tokens[start].offset] = self._property
                if kind is not None:
                    yield token.offset, kind, self._accessed or symbol
                continue
            if symbol in self.bicep.variables and symbol not in self.bicep.params:
                yield token.offset, "variable", symbol
            index += 1

    def violations(
        self,
        tokens: tuple[Token, ...],
        whole_allowed: bool = False,
        calls: bool = True,
        shadowed: frozenset[str] = frozenset(),
    ) -> list[tuple[int, str]]:
        """(offset, message tail) of each runtime value read in an expression's tokens."""
        found = []
        for offset, kind, name in self.reads(tokens, whole_allowed, calls, shadowed):
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
        self._property: str | None = None
        self._accessed: str | None = None  # a nested resource, `parent::child`

        def at(offset: int) -> str:
            return tokens[offset].text if offset < len(tokens) else ""

        while at(position) == "::" and position + 1 < len(tokens):
            self._accessed = tokens[position + 1].text
            readable, every = RESOURCE_READABLE, None  # its type is not looked up here
            position += 2

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
            names = self._strings(tuple(inner))
            if names is None:
                return "access", close + 1  # an index the compiler cannot resolve to a name
            position = close + 1
            unreadable = sorted(name for name in names if name not in readable)
            if every is not None:
                unreadable = [name for name in unreadable if name in every]
            if not unreadable:
                return None, position
            self._property = unreadable[0]  # `x[c ? 'id' : 'properties']`: "properties"
            return "access", position
        if prop is None:
            return (None if whole_allowed else "access"), position  # the whole of it
        if prop in readable:
            return None, position
        if every is not None and prop not in every:
            return None, position  # no such property: another error (BCP053)
        self._property = prop
        return "access", position

    def _strings(
        self, tokens: tuple[Token, ...], seen: frozenset[str] = frozenset()
    ) -> set[str] | None:
        """The strings an index expression may be, as the compiler's types fold them: a
        literal, a variable holding one (through other variables), an interpolation of only
        such values, an item of a variable's array of literals (``a[0]``, ``first(a)``), either
        branch of a conditional; None when the compiler would see only ``string``."""
        from .bicep_syntax import parse_value

        value = parse_value(list(tokens))
        return self._fold(value, seen)

    def _fold(self, value: Value, seen: frozenset[str]) -> set[str] | None:
        from .bicep_syntax import parse_value

        tokens = [token for token in value.tokens if token.kind != "newline"]
        if value.kind == "string" and isinstance(value.data, str):
            return {value.data}
        if value.kind == "ref":
            held = self._variable(value.data, seen)
            return None if held is None else self._fold(held, seen | {value.data})
        if value.kind == "ternary":
            _condition, yes, no = value.data
            left, right = self._fold(yes, seen), self._fold(no, seen)
            return None if left is None or right is None else left | right
        if value.kind == "interpolated":
            results = {""}
            hole: list[Token] = []
            for token in tokens:
                if token.kind in ("string-left", "string-middle", "string-right"):
                    if token.kind != "string-left":
                        folded = self._fold(parse_value(hole), seen)
                        if folded is None:
                            return None
                        results = {a + b for a in results for b in folded}
                        hole = []
                    text = token.text[1:]
                    text = text[:-1] if token.kind == "string-right" else text[:-2]
                    if "\\" in text:
                        return None  # an escape: not folded here
                    results = {a + text for a in results}
                else:
                    hole.append(token)
            return results
        items = self._array_items(tokens, seen)
        if items is not None:
            return items
        return None

    def _variable(self, name: str, seen: frozenset[str]) -> Value | None:
        if name in seen or name in self.bicep.params:
            return None
        return self.bicep.variables.get(name)

    def _array_items(self, tokens: list[Token], seen: frozenset[str]) -> set[str] | None:
        """``a[0]``, ``a[i]``, ``first(a)``, ``last(a)`` of a variable holding literals."""
        if len(tokens) >= 4 and tokens[0].text in ("first", "last") and tokens[1].text == "(":
            if tokens[-1].text != ")" or len(tokens) != 4 or tokens[2].kind != "ident":
                return None
            items = self._literal_items(tokens[2].text, seen)
            if not items:
                return None
            return {items[0] if tokens[0].text == "first" else items[-1]}
        if len(tokens) >= 4 and tokens[0].kind == "ident" and tokens[1].text == "[":
            if tokens[-1].text != "]" or self._close(tuple(tokens), 1) != len(tokens) - 1:
                return None
            items = self._literal_items(tokens[0].text, seen)
            if not items:
                return None
            index = tokens[2:-1]
            if len(index) == 1 and index[0].kind == "int":
                position = int(index[0].text)
                return {items[position]} if position < len(items) else None
            return set(items)  # any of them
        return None

    def _literal_items(self, name: str, seen: frozenset[str]) -> list[str] | None:
        held = self._variable(name, seen)
        if held is None or held.kind != "array" or not held.data:
            return None
        items = []
        for item in held.data:
            if item.kind != "string" or not isinstance(item.data, str):
                return None
            items.append(item.data)
        return items

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


def _variable_for_bodies(tokens: list[Token]) -> list[tuple[str, tuple[Token, ...]]]:
    """(variable, body tokens) of each ``var x = [for ... in ...: <body>]``."""
    found = []
    for statement in _split_top_level(tokens):
        items = tuple(statement)
        while items and items[0].kind == "newline":
            items = items[1:]
        if len(items) < 6 or items[0].text != "var" or items[1].kind != "ident":
            continue
        if items[2].text != "=" or items[3].text != "[" or items[4].text != "for":
            continue
        close = _Scanner._close(items, 3)
        position = 5
        while position < close and items[position].text != "in":
            position += 1
        depth = 0
        while position < close:
            text = items[position].text
            depth += (text in ("(", "[", "{")) - (text in (")", "]", "}"))
            if depth == 0 and text == ":":
                break
            position += 1
        found.append((items[1].text, items[position + 1 : close]))
    return found


def _loop_names(tokens: list[Token]) -> dict[str, frozenset[str]]:
    """symbol -> the names a resource's or module's loop binds (``[for x in ...``), which
    shadow any declaration of the same name inside its body."""
    found = {}
    for statement in _split_top_level(tokens):
        items = [token for token in statement if token.kind != "newline"]
        if len(items) < 6 or items[0].text not in ("resource", "module"):
            continue
        for index, token in enumerate(items[:-1]):
            if token.text == "for" and index and items[index - 1].text == "[":
                found[items[1].text] = frozenset(_bound_by_for(tuple(items), index))
                break
    return found


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
    for variable, body in _variable_for_bodies(tokens):
        for offset, kind, name in scanner.reads(body):
            if kind == "variable":
                continue  # through a variable: the compiler's message is not read here
            message = BCP182[1].format(variable=variable)
            prop = scanner.read_property.get(offset) if kind == "access" else None
            if prop is not None:
                message += f' The property "{prop}" of {name} cannot be calculated at the start.'
            if kind == "access":
                message += scanner.accessible(name)
            found.append((BCP182[0], message, offset))
    loop_names = _loop_names(tokens)
    declarations = [(r, False) for r in bicep.resources.values()] + [
        (m, True) for m in bicep.modules.values()
    ]
    for declared, is_module in declarations:
        body = _body_of(declared)
        if declared.existing or body is None or body.kind != "object":
            continue
        if declared.symbol in scanner.excluded and not is_module:
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
            shadowed = loop_names.get(declared.symbol, frozenset())
            for offset, tail in scanner.violations(
                value.tokens, whole_allowed=key in SCOPE_KEYS, shadowed=shadowed
            ):
                message = BCP120[1].format(property=key, type=type_name) + tail
                found.append((BCP120[0], message, offset))
    return sorted(found, key=lambda item: item[2])
