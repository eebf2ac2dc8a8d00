"""The Bicep compiler's lexical rules, for the files no offline parser holds to them.

A port of the rules of ``src/Bicep.Core/Parsing/Lexer.cs`` in the Bicep compiler
(github.com/Azure/bicep, MIT), with the error codes of its ``DiagnosticBuilder.cs``.
pycep-parser, which parses the files offline, ignores ``#`` lines and accepts several
things the compiler rejects; every rule here is one the compiler enforces:

- comments are ``//`` to the end of the line and ``/* ... */`` (BCP002 when unterminated);
- ``#`` is only allowed as the first thing on a line, directly followed by
  ``disable-next-line``, ``disable-diagnostics`` or ``restore-diagnostics`` and at least one
  diagnostic code (BCP226); any other ``#`` is an unrecognised token (BCP001), which makes
  the file, and every file that uses it as a module (BCP104), fail to compile;
- strings use single quotes (a double quote is BCP103), end on the same line (BCP003,
  BCP004), know only the escapes ``\\n \\r \\t \\\\ \\' \\$`` and ``\\u{hex}`` up to 10FFFF
  (BCP005, BCP006, BCP133); an interpolation ``${...}`` cannot span lines, nor close after an
  object literal inside it, which the compiler's template stack never pops (BCP004);
- multi-line strings are ``'''...'''``, with ``${...}`` holes when prefixed by ``$``
  (one ``$`` more per level of escaping); BCP140 when unterminated;
- a character that starts no token (``&`` alone, ``~``, a backtick, a non-ASCII letter
  outside strings and comments, ...) is BCP001; identifiers are at most 255 characters
  (BCP024).

``lex`` returns the tokens (used by the type check) and these diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRAGMAS = ("disable-next-line", "disable-diagnostics", "restore-diagnostics")
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "'": "'", "$": "$"}
# As the compiler's Lexer.CharacterEscapeSequences: its single-character escapes in sorted
# order, then \u{...}; the message quotes each (DiagnosticBuilder.ToQuotedString).
ESCAPE_LIST = ", ".join(f'"\\{char}"' for char in sorted(ESCAPES)) + ', "\\u{...}"'
MAX_IDENTIFIER = 255
# Two-character operators first: the compiler takes the longest match.
OPERATORS = (
    "...",
    "??",
    "::",
    "!=",
    "!~",
    "<=",
    ">=",
    "==",
    "=~",
    "=>",
    "&&",
    "||",
)
SINGLE = set("{}()[]@,.?:;+-%*/!<>=|^")
QUOTES = "'''"


@dataclass(frozen=True)
class Token:
    # ident, int, op, newline, multiline, string (complete), string-left/-middle/-right
    kind: str
    text: str
    offset: int
    value: str | None = None  # the decoded value of a complete string


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    offset: int


@dataclass
class Lexed:
    tokens: list[Token] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _is_ident_start(char: str) -> bool:
    return ("a" <= char <= "z") or ("A" <= char <= "Z") or char == "_"


def _is_ident_continue(char: str) -> bool:
    return _is_ident_start(char) or (char.isascii() and char.isdigit())


def _is_hex(char: str) -> bool:
    return char in "0123456789abcdefABCDEF" and char != ""


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.out = Lexed()
        # the compiler's template stack: "string", "{", or the `$` count of a $''' string
        self.templates: list[str | int] = []
        self.out_start = 0  # where the token being scanned starts

    def peek(self, ahead: int = 0) -> str:
        index = self.pos + ahead
        return self.text[index] if index < len(self.text) else ""

    def error(self, code: str, message: str, offset: int | None = None) -> None:
        self.out.diagnostics.append(
            Diagnostic(code, message, self.pos if offset is None else offset)
        )

    def line_start_is_blank(self) -> bool:
        start = self.text.rfind("\n", 0, self.pos) + 1
        start = max(start, self.text.rfind("\r", 0, self.pos) + 1)
        return self.text[start : self.pos].strip(" \t") == ""

    # trivia -----------------------------------------------------------------------------

    def skip_trivia(self) -> None:
        after_comment = False
        while True:
            char = self.peek()
            if char in (" ", "\t"):
                while self.peek() in (" ", "\t") and self.peek():
                    self.pos += 1
                after_comment = False
            elif char == "/" and self.peek(1) == "/":
                while self.peek() and self.peek() not in "\r\n":
                    self.pos += 1
                after_comment = True
            elif char == "/" and self.peek(1) == "*":
                self.multiline_comment()
                after_comment = True
            elif char == "#" and not after_comment and self.line_start_is_blank():
                pragma = next((p for p in PRAGMAS if self.text.startswith(p, self.pos + 1)), None)
                if pragma is None:
                    return  # scanned as a token: BCP001
                self.pragma(pragma)
                after_comment = False
            else:
                return

    def multiline_comment(self) -> None:
        start = self.pos
        end = self.text.find("*/", self.pos + 2)
        if end < 0:
            self.pos = len(self.text)
            self.error(
                "BCP002",
                "The multi-line comment at this location is not terminated. "
                "Terminate it with the */ character sequence.",
                start,
            )
        else:
            self.pos = end + 2

    def pragma(self, keyword: str) -> None:
        """A directive: its codes run to the first character that is not part of a code or a
        space; the rest of the line (a comment, say) is lexed as usual, as the compiler does."""
        self.pos += len(keyword) + 1
        end = self.pos
        while end < len(self.text) and (
            _is_ident_continue(self.text[end]) or self.text[end] in "- \t"
        ):
            end += 1
        codes = self.text[self.pos : end].split()
        self.pos = end
        if not codes:  # reported where the codes should be, as the compiler does
            self.error(
                "BCP226",
                "Expected at least one diagnostic code at this location. Valid format is "
                f'"#{keyword} diagnosticCode1 diagnosticCode2 ..."',
                end,
            )

    # tokens -----------------------------------------------------------------------------

    def add(self, kind: str, start: int, value: str | None = None) -> None:
        self.out.tokens.append(Token(kind, self.text[start : self.pos], start, value))

    def run(self) -> Lexed:
        while True:
            self.skip_trivia()
            if self.pos >= len(self.text):
                break
            self.token()
        return self.out

    def token(self) -> None:
        start = self.out_start = self.pos
        char = self.peek()
        if char in "\r\n":
            if self.templates:
                self.error(
                    "BCP004",
                    "The string at this location is not terminated due to an unexpected new "
                    "line character.",
                )
                self.templates.clear()
            while self.peek() and self.peek() in "\r\n":
                self.pos += 1
            self.add("newline", start)
            return
        if char == "'":
            if self.peek(1) == "'" and self.peek(2) == "'":
                self.pos += 3
                self.add(self.multiline_segment(at_start=True, dollars=0), start)
                return
            self.pos += 1
            kind, value = self.string_segment(at_start=True)
            if kind == "string-left":
                self.templates.append("string")
            self.add(kind, start, value)
            return
        if char == "{":
            self.pos += 1
            if self.templates:
                self.templates.append("{")
            self.add("op", start)
            return
        if char == "$":
            while self.peek() == "$":
                self.pos += 1
            dollars = self.pos - start
            if self.text.startswith(QUOTES, self.pos):  # the `$`s open its holes
                self.pos += 3
                kind = self.multiline_segment(at_start=True, dollars=dollars)
                if kind == "multiline-left":
                    self.templates.append(dollars)
                self.add(kind, start)
                return
            self.error("BCP001", 'The following token is not recognized: "$".', start)
            self.add("unrecognized", start)
            return
        if char == "}":
            self.pos += 1
            if self.templates and isinstance(self.templates[-1], int):
                kind = self.multiline_segment(at_start=False, dollars=self.templates[-1])
                if kind == "multiline-right":
                    self.templates.pop()
                self.add(kind, start)
                return
            if self.templates and self.templates[-1] == "string":
                kind, value = self.string_segment(at_start=False)
                if kind == "string-right":
                    self.templates.pop()
                self.add(kind, start, value)
                return
            # The compiler never pops the "{" of an object inside an interpolation, so the hole
            # cannot close after one: such a string does not compile (BCP004), here neither.
            self.add("op", start)
            return
        if char.isascii() and char.isdigit():
            while self.peek() and self.peek().isascii() and self.peek().isdigit():
                self.pos += 1
            self.add("int", start)
            return
        if _is_ident_start(char):
            while self.peek() and _is_ident_continue(self.peek()):
                self.pos += 1
            if self.pos - start > MAX_IDENTIFIER:
                self.error(
                    "BCP024",
                    f"The identifier exceeds the limit of {MAX_IDENTIFIER}. Reduce the length "
                    "of the identifier.",
                    start,
                )
            self.add("ident", start)
            return
        for operator in OPERATORS:
            if self.text.startswith(operator, self.pos):
                self.pos += len(operator)
                self.add("op", start)
                return
        self.pos += 1
        if char in SINGLE:
            self.add("op", start)
            return
        if char == '"':
            self.error(
                "BCP103",
                'The following token is not recognized: """. Strings are defined using single '
                "quotes in bicep.",
                start,
            )
        else:
            self.error("BCP001", f'The following token is not recognized: "{char}".', start)
        self.add("unrecognized", start)

    def multiline_segment(self, at_start: bool, dollars: int) -> str:
        """Scan a multi-line string to its closing quotes, or to a hole when it has `$`s."""
        while self.pos < len(self.text):
            char = self.peek()
            if char == "$":
                run = self.pos
                while self.peek() == "$":
                    self.pos += 1
                if dollars and self.pos - run >= dollars and self.peek() == "{":
                    self.pos += 1
                    return "multiline-left" if at_start else "multiline-middle"
            elif char == "'":
                run = self.pos
                while self.peek() == "'":
                    self.pos += 1
                if self.pos - run >= 3:  # a string may end in quotes: all of them are taken
                    return "multiline" if at_start else "multiline-right"
            else:
                self.pos += 1
        self.error(
            "BCP140",
            "The multi-line string at this location is not terminated. "
            f'Terminate it with "{QUOTES}".',
            self.out_start,  # the compiler reports it where the token starts
        )
        return "multiline" if at_start else "multiline-right"

    def string_segment(self, at_start: bool) -> tuple[str, str | None]:
        """Scan up to the closing quote or ``${``; the segment kind and its decoded value."""
        complete = "string" if at_start else "string-right"
        value: list[str] | None = []
        while True:
            if self.pos >= len(self.text):
                self.error(
                    "BCP003",
                    "The string at this location is not terminated. Terminate the string with a "
                    "single quote character.",
                    self.out_start,
                )
                return complete, None
            char = self.peek()
            if char in "\r\n":
                self.error(
                    "BCP004",
                    "The string at this location is not terminated due to an unexpected new line "
                    "character.",
                    self.out_start,
                )
                return complete, None
            escape_start = self.pos
            self.pos += 1
            if char == "'":
                return complete, "".join(value) if value is not None else None
            if char == "$" and self.peek() == "{":
                self.pos += 1
                return ("string-left" if at_start else "string-middle"), None
            if char != "\\":
                if value is not None:
                    value.append(char)
                continue
            if self.pos >= len(self.text):
                self.error(
                    "BCP005",
                    "The string at this location is not terminated. Complete the escape sequence "
                    "and terminate the string with a single unescaped quote character.",
                    self.out_start,
                )
                return complete, None
            escaped = self.peek()
            self.pos += 1
            if escaped == "u":
                decoded = self.unicode_escape(escape_start)
                if value is not None:
                    if decoded is None:
                        value = None
                    else:
                        value.append(decoded)
            elif escaped in ESCAPES:
                if value is not None:
                    value.append(ESCAPES[escaped])
            else:
                value = None
                self.error(
                    "BCP006",
                    "The specified escape sequence is not recognized. Only the following escape "
                    f"sequences are allowed: {ESCAPE_LIST}.",
                    escape_start,
                )

    def unicode_escape(self, escape_start: int) -> str | None:
        invalid = (
            "The unicode escape sequence is not valid. Valid unicode escape sequences range "
            "from \\u{0} to \\u{10FFFF}."
        )
        if self.pos >= len(self.text) or self.peek() in "\r\n":
            return None  # the string's own end is reported by the caller's loop
        if self.peek() != "{":
            self.error("BCP133", invalid, escape_start)
            return None
        self.pos += 1
        digits_start = self.pos
        while self.pos < len(self.text) and _is_hex(self.peek()):
            self.pos += 1
        digits = self.text[digits_start : self.pos]
        if self.pos >= len(self.text):
            return None
        if not digits or self.peek() != "}":
            self.error("BCP133", invalid, escape_start)
            return None
        self.pos += 1
        if int(digits, 16) > 0x10FFFF:
            self.error("BCP133", invalid, escape_start)
            return None
        return chr(int(digits, 16))


def lex(text: str) -> Lexed:
    """Tokens and lexical diagnostics of one Bicep file, as the compiler's lexer gives them."""
    return _Lexer(text).run()
