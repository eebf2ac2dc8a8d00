"""The Bicep parser's rules on separators in arrays, objects and function calls.

From Azure/bicep ``src/Bicep.Core/Parsing/BaseParser.cs`` (HandleArrayOrObjectElements,
HandleFunctionElements), with the codes and messages of ``DiagnosticBuilder.cs``. Elements
are separated by one comma or by new lines, never both, and a function call's arguments by
commas only:

- BCP236 (``ExpectedNewLineOrCommaSeparator``): two elements on one line without a comma
  (``['a' 'b']``, ``concat('a' 'b')``, ``{ a: 'x' b: 'y' }``), at the second;
- BCP238 (``UnexpectedNewLineAfterCommaSeparator``): an array or object element followed by
  a comma and a new line (``'a',`` at the end of a line), just after the comma;
- BCP237 (``ExpectedCommaSeparator``): a function argument followed by a new line and
  another argument, without a comma, at the end of the first;
- BCP009 (``UnrecognizedExpression``): a trailing comma before a call's ``)`` (at the
  ``)``), or a second comma in a row in an array (at it).

Only token shapes that no valid file has are judged: an element is taken to end at a
literal, a name, or a closing bracket, and the next to start at a literal (or, in an
object, at a key followed by ``:``); loops (``for x in``) and other keyword sequences are
not elements.
"""

from __future__ import annotations

from .bicep_lexer import Token

BCP009 = (
    "BCP009",
    "Expected a literal value, an array, an object, a parenthesized expression, or a function "
    "call at this location.",
)
BCP236 = ("BCP236", "Expected a new line or comma character at this location.")
BCP237 = ("BCP237", "Expected a comma character at this location.")
BCP238 = ("BCP238", "Unexpected new line character after a comma.")
KEYWORDS = {"for", "in", "if", "as", "with", "existing", "from", "func", "type", "resource"}
LITERAL_STARTS = {"string", "string-left", "multiline", "multiline-left", "int"}
ENDS = {"string", "string-right", "multiline", "multiline-right", "int"}


def _ends_element(token: Token) -> bool:
    if token.kind in ENDS:
        return True
    if token.kind == "ident":
        return token.text not in KEYWORDS
    return token.kind == "op" and token.text in (")", "]", "}")


def _starts_argument(token: Token) -> bool:
    if token.kind in LITERAL_STARTS:
        return True
    if token.kind == "ident":
        return token.text not in KEYWORDS
    return token.kind == "op" and token.text in ("(", "[", "{", "!")


def _context(tokens: list[Token], index: int) -> str:
    """What the bracket at ``index`` opens: call, paren, array, index or object."""
    text = tokens[index].text
    previous = tokens[index - 1] if index else None
    if text == "{":
        return "object"
    after_operand = previous is not None and (
        previous.kind in ("ident", "string", "string-right", "multiline", "multiline-right")
        or previous.text in (")", "]", "}", "!")
    )
    if text == "(":
        declared = index >= 2 and tokens[index - 2].text == "func"  # `func f(a string, ...)`
        is_name = previous is not None and previous.kind == "ident"
        if is_name and previous.text not in KEYWORDS and not declared:
            return "call"
        return "paren"
    if after_operand and not (previous is not None and previous.text in KEYWORDS):
        return "index"
    return "array"


def separator_diagnostics(tokens: list[Token]) -> list[tuple[str, str, int]]:
    """(code, message, offset) of each separator the parser rejects."""
    found: list[tuple[str, str, int]] = []
    stack: list[tuple[str, int]] = []  # (context, index of the opening bracket)
    for index, token in enumerate(tokens):
        if token.kind == "op" and token.text in ("(", "[", "{"):
            stack.append((_context(tokens, index), index))
            continue
        if token.kind == "op" and token.text in (")", "]", "}"):
            if stack:
                stack.pop()
            continue
        if not stack or index + 1 >= len(tokens):
            continue
        context, opened = stack[-1]
        nxt = tokens[index + 1]
        if context in ("array", "object") and token.text == ",":
            previous = tokens[index - 1]
            if nxt.kind == "newline" and previous.text != "," and index - 1 != opened:
                found.append((BCP238[0], BCP238[1], token.offset + 1))
            if context == "array" and nxt.text == "," and previous.text != ",":
                found.append((BCP009[0], BCP009[1], nxt.offset))
        if context == "call" and token.text == ",":
            position = index + 1
            while position < len(tokens) and tokens[position].kind == "newline":
                position += 1
            if position < len(tokens) and tokens[position].text == ")":
                found.append((BCP009[0], BCP009[1], tokens[position].offset))
        if not _ends_element(token):
            continue
        if nxt.kind == "newline" and context == "call":
            position = index + 1
            while position < len(tokens) and tokens[position].kind == "newline":
                position += 1
            if position < len(tokens) and _starts_argument(tokens[position]):
                found.append((BCP237[0], BCP237[1], nxt.offset))
            continue
        if context in ("array", "call") and nxt.kind in LITERAL_STARTS:
            found.append((BCP236[0], BCP236[1], nxt.offset))
        elif context == "object" and index + 2 < len(tokens):
            key = nxt.kind == "ident" or nxt.kind == "string"
            if key and tokens[index + 2].text == ":" and not _inside_ternary(tokens, opened, index):
                found.append((BCP236[0], BCP236[1], nxt.offset))
    return found


def _inside_ternary(tokens: list[Token], opened: int, index: int) -> bool:
    """Whether a ``?`` on the same line, at this object's level, awaits its ``:``
    (``{ a: c ? x : y }``: ``x :`` is no key)."""
    depth = 0
    for position in range(index, opened, -1):
        token = tokens[position]
        if token.kind == "newline":
            return False
        if token.kind == "op" and token.text in (")", "]", "}"):
            depth += 1
        elif token.kind == "op" and token.text in ("(", "[", "{"):
            depth -= 1
        elif depth == 0 and token.text == "?" and tokens[position - 1].text != ".":
            return True
        elif depth == 0 and token.text == ",":
            return False
    return False
