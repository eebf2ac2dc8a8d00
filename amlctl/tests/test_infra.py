"""check-infra on the project's own Bicep, and on broken copies of it that must fail."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest
from fakes.template import template_project

from amlctl.checks import bicep_types
from amlctl.checks import infra as check
from amlctl.checks.bicep_lexer import lex
from amlctl.checks.infra_outputs import REQUIRED_OUTPUTS
from amlctl.cli import guarded

ROOT = template_project()
INFRA = ROOT / "infra"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's infra/ in a folder the CLI recognises as a project."""
    shutil.copytree(INFRA, tmp_path / "infra")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'copy'\n")
    (tmp_path / "components").mkdir()
    (tmp_path / "pipelines").mkdir()
    return tmp_path


def messages(problems) -> list[str]:
    return [str(problem) for problem in problems]


def edit_params(project: Path, change) -> Path:
    path = project / "infra" / "params" / "dev.parameters.json"
    data = json.loads(path.read_text())
    change(data["parameters"])
    path.write_text(json.dumps(data, indent=2))
    return path


def test_every_bicep_file_parses():
    files = check.bicep_files(INFRA)
    assert INFRA / "main.bicep" in files
    assert INFRA / "bootstrap" / "github-oidc.bicep" in files
    for path in files:
        parsed, problems = check.parse_bicep(path, ROOT)
        assert problems == [], messages(problems)
        assert parsed is not None


def test_no_bicep_file_breaks_a_lexical_rule_of_the_compiler():
    for path in check.bicep_files(INFRA):
        assert messages(check.lexical_problems(path, ROOT)) == []
        # the only `#` lines are compiler directives
        hashes = [line for line in path.read_text().splitlines() if line.lstrip().startswith("#")]
        assert all(line.lstrip().startswith("#disable-next-line ") for line in hashes), hashes


# (Bicep source, the error code the Bicep compiler gives, its line and column where the
# compiler reports it: the compiler's own test baselines put them there)
BREAKING = {
    "hash comment": ("param a string\n#checkov:skip=CKV_AZURE_1:why\n", "BCP001", 2, 1),
    "hash after code": ("param a string #note\n", "BCP001", 1, 16),
    "directive after a comment": ("/* c */ #disable-next-line BCP037\n", "BCP001", 1, 9),
    "directive without codes": ("#disable-next-line\nparam a string\n", "BCP226", 1, 19),
    "unterminated block comment": ("param a string\n/* never closed\n", "BCP002", 2, 1),
    "double-quoted string": ('var a = "text"\n', "BCP103", 1, 9),
    "unterminated string": ("var a = 'text", "BCP003", 1, 9),
    "string across lines": ("var a = 'first\nsecond'\n", "BCP004", 1, 9),
    "interpolation across lines": ("var a = 'x${1 +\n2}'\n", "BCP004", 1, 16),
    "escape at end of file": ("var a = 'x\\", "BCP005", 1, 9),
    "unknown escape": ("var a = 'a\\qb'\n", "BCP006", 1, 11),
    "bad unicode escape": ("var a = '\\u{110000}'\n", "BCP133", 1, 10),
    "unicode escape without braces": ("var a = '\\u0041'\n", "BCP133", 1, 10),
    "unterminated multi-line string": ("var a = '''\ntext\n", "BCP140", 1, 9),
    "single ampersand": ("var a = true & false\n", "BCP001", 1, 14),
    "unknown character": ("var a = 1 ~ 2\n", "BCP001", 1, 11),
    "identifier too long": (f"var {'a' * 256} = 1\n", "BCP024", 1, 5),
    # the compiler never closes an interpolation hole after an object literal inside it
    "object inside an interpolation": ("var a = 'a${ {x: 1}.x }b'\n", "BCP004", 1, 25),
    "dollar outside a string": ("var a = $1\n", "BCP001", 1, 9),
    "comment right after a directive": ("#disable-next-line/* c */ BCP037\n", "BCP226", 1, 19),
}


@pytest.mark.parametrize("case", sorted(BREAKING))
def test_lexical_rule_of_the_compiler_fails(case: str, tmp_path: Path):
    source, code, line, column = BREAKING[case]
    path = tmp_path / "broken.bicep"
    path.write_text(source)
    found = check.lexical_problems(path, tmp_path)
    assert found, f"{case}: no error"
    assert (found[0].message.split(":")[0], found[0].line, found[0].column) == (
        f"Bicep error {code}",
        line,
        column,
    ), messages(found)
    # what follows the first error may add more of the same kind, as the compiler's lexer does
    assert {p.message.split(":")[0] for p in found} == {f"Bicep error {code}"}, messages(found)


ACCEPTED = [
    "// a comment with # and ' and /* inside\nparam a string\n",
    "#disable-next-line BCP081 no-unused-params // why\nparam a string\n",
    "  #disable-diagnostics BCP081\nparam a string\n#restore-diagnostics BCP081\n",
    "var a = 'it\\'s \\${not} ${1} \\u{1F600} \\\\ \\n'\n",
    "var a = '''\nfirst # not a comment\n'second' \\n\n'''\n",
    "var a = 'a${b}c${'d${2}e'}f'\n/* multi\nline */\nvar b = a =~ 'x' && a != 'y'\n",
    # multi-line strings with holes: one `$` more per level of escaping
    "var a = $'''\nx ${1} y\n'''\nvar b = $$'''\n${literal} $${2}\n'''\n",
    "var a = items[^1]\n",
]


@pytest.mark.parametrize("source", ACCEPTED)
def test_what_the_compiler_accepts_passes(source: str):
    assert lex(source).diagnostics == []


def test_an_unknown_escape_has_the_compilers_message():
    """BCP006 lists the escapes as the compiler does: quoted, in its sorted order."""
    (found,) = lex("var s = 'a\\qb'\n").diagnostics
    assert (found.code, found.message) == (
        "BCP006",
        "The specified escape sequence is not recognized. Only the following escape sequences "
        'are allowed: "\\$", "\\\'", "\\\\", "\\n", "\\r", "\\t", "\\u{...}".',
    )


IDENTITY = (
    "resource id 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (on) {\n"
    "  name: 'x'\n  location: 'l'\n}\n"
)
MODULE = "module m 'm.bicep' = if (on) {\n  name: 'm'\n}\n"
# (Bicep source, where the compiler reports BCP318: line and column); each access of a
# conditional resource or module that does not say it may be null
POSSIBLY_NULL = {
    "properties": (IDENTITY + "output a string = id.properties.principalId\n", 5, 21),
    "same condition in a ternary": (
        IDENTITY + "output a string = on ? id.properties.clientId : ''\n",
        5,
        26,
    ),
    "module output": (MODULE + "output a string = m.outputs.x\n", 4, 20),
    "in an interpolation": (IDENTITY + "var n = 'x-${id.properties.clientId}'\n", 5, 16),
    "existing with a condition": (
        "resource s 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (on) {\n"
        "  name: 's'\n}\noutput a string = s.properties.primaryEndpoints.blob\n",
        4,
        20,
    ),
    "an index": (IDENTITY + "output a object = id['properties']\n", 5, 21),
    "condition false": (
        IDENTITY.replace("if (on)", "if (false)") + "output a object = id.properties\n",
        5,
        21,
    ),
    "child of a conditional parent": (
        "resource s 'Microsoft.Storage/storageAccounts@2023-05-01' = if (on) {\n  name: 's'\n"
        "  location: 'l'\n  resource b 'blobServices' = {\n    name: 'default'\n  }\n}\n"
        "output a object = s::b.properties\n",
        8,
        23,
    ),
}
SAYS_SO = [
    IDENTITY + "output a string = id!.properties.principalId\n",
    IDENTITY + "output a string = id.?properties.principalId ?? ''\n",
    IDENTITY + "#disable-next-line BCP318\noutput a string = id.properties.principalId\n",
    MODULE + "output a string = m!.outputs.x\n",
    "resource id 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {\n  name: 'x'\n"
    "  location: 'l'\n}\noutput a string = id.properties.principalId\n",  # not conditional
    IDENTITY + "resource r 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (on) {\n"
    "  name: 'r'\n  dependsOn: [\n    id\n  ]\n  scope: id\n}\n",  # the symbol alone
    # what ARM knows before deploying it (EmitConstants.ResourceInfoProperties)
    IDENTITY + "var n = guid(id.id, id.name, id.type, id.apiVersion)\n",
    IDENTITY + "var n = 'x-${id.name}'\n",
    MODULE + "output n string = m.name\n",
    IDENTITY.replace("if (on)", "if (true)") + "output a object = id.properties\n",
    # inside its own declaration: a child reading its conditional parent
    "resource s 'Microsoft.Storage/storageAccounts@2023-05-01' = if (on) {\n  name: 's'\n"
    "  location: 'l'\n  resource b 'blobServices' = {\n    name: 'default'\n"
    "    properties: {\n      cors: s.properties.primaryEndpoints\n    }\n  }\n}\n",
]


@pytest.mark.parametrize("case", sorted(POSSIBLY_NULL))
def test_access_to_a_conditional_resource_is_bcp318(case: str, tmp_path: Path):
    source, line, column = POSSIBLY_NULL[case]
    path = tmp_path / "main.bicep"
    path.write_text("param on bool\n" + source)
    found = check.semantic_problems(path, tmp_path)
    assert [(p.message.split(":")[0], p.line, p.column) for p in found] == [
        ("Bicep warning BCP318", line + 1, column)
    ], messages(found)
    assert "may be null at the start of the deployment" in found[0].message


@pytest.mark.parametrize("source", SAYS_SO)
def test_an_access_that_says_it_may_be_null_passes(source: str, tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text("param on bool\n" + source)
    assert messages(check.semantic_problems(path, tmp_path)) == []


def test_the_bootstraps_what_if_identity_was_read_without_saying_so():
    """The template before this rule: the compiler warned on its three reads of the
    identity's properties (not on its `.id`, which ARM knows before deploying it)."""
    from amlctl.checks.bicep_semantics import diagnostics

    text = (INFRA / "bootstrap" / "github-oidc.bicep").read_text().replace("!.", ".")
    assert len([d for d in diagnostics(text) if d.code == "BCP318"]) == 3


# (Bicep source, undefined name, line, column) where the compiler reports BCP057
UNDEFINED = {
    "expression": ("param a string\nvar b = toLower(c)\n", "c", 2, 17),
    "interpolation": ("param a string\nvar b = '${a}-${nope}'\n", "nope", 2, 17),
    "resource property": (
        "resource s 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n"
        "  name: storageName\n  location: 'l'\n}\n",
        "storageName",
        2,
        9,
    ),
    "ternary branch": ("param on bool\nvar b = on ? missing : 'x'\n", "missing", 2, 14),
    "misspelt symbol": ("param tags object\nvar all = union(tagz, {})\n", "tagz", 2, 17),
}
DEFINED = [
    "var b = [for (x, i) in range(0, 3): '${x}-${i}']\n",  # loop variables
    "var f = map([1, 2], n => n + 1)\nvar g = reduce([1], 0, (acc, v) => acc + v)\n",  # lambdas
    "var o = {\n  key: 'v'\n  other: o2\n}\nvar o2 = 'declared later'\n",  # keys, order
    "var s = sys.concat('a', 'b')\nvar r = resourceGroup().location\n",  # namespace, calls
    "@description('x')\nparam p string = 'a'\nvar q = p\n",  # decorator
    "\ufeffvar a = 'x'\nvar b = a\n",  # a byte-order mark before the first declaration
    "var t {\n  foo: string\n  bar: int\n} = {\n  foo: 'a'\n  bar: 1\n}\n",  # a typed variable
    "import * as shared from 'shared.bicep'\nvar v = shared.x\n",  # an alias
]


@pytest.mark.parametrize("case", sorted(UNDEFINED))
def test_an_undefined_name_is_bcp057(case: str, tmp_path: Path):
    source, name, line, column = UNDEFINED[case]
    path = tmp_path / "main.bicep"
    path.write_text(source)
    found = check.semantic_problems(path, tmp_path)
    assert [(p.message, p.line, p.column) for p in found] == [
        (
            f'Bicep error BCP057: The name "{name}" does not exist in the current context.',
            line,
            column,
        )
    ], messages(found)


@pytest.mark.parametrize("source", DEFINED)
def test_declared_names_pass(source: str, tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(source)
    assert messages(check.semantic_problems(path, tmp_path)) == []


# (Bicep source, [(code, name, line, column)]) where the compiler reports each duplicate
DUPLICATES = {
    "param and var": (
        "param location string\nvar location = 'westeurope'\n",
        [("BCP028", "location", 1, 7), ("BCP028", "location", 2, 5)],
    ),
    "two resources": (
        "resource st 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {\n  name: 'a'\n}\n"
        "resource st 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {\n  name: 'b'\n}\n",
        [("BCP028", "st", 1, 10), ("BCP028", "st", 4, 10)],
    ),
    "module and import": (
        "import {net} from 'types.bicep'\nmodule net 'net.bicep' = {\n  name: 'n'\n}\n",
        [("BCP028", "net", 1, 9), ("BCP028", "net", 2, 8)],
    ),
    "import alias": (
        "import {a as b} from 'x.bicep'\n@description('d')\nparam b int\n",
        [("BCP028", "b", 1, 14), ("BCP028", "b", 3, 7)],
    ),
    "two outputs": (
        "output id string = 'a'\noutput id string = 'b'\n",
        [("BCP145", "id", 1, 8), ("BCP145", "id", 2, 8)],
    ),
    "loop variables": (
        "var xs = [for (i, i) in range(0, 2): i]\n",
        [("BCP028", "i", 1, 16), ("BCP028", "i", 1, 19)],
    ),
}
UNIQUE = [
    "param name string\noutput name string = name\n",  # outputs have their own namespace
    "param a string\nparam A string\n",  # names are case-sensitive
    "resource p 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {\n  name: 'p'\n"
    "  resource blob 'blobServices' existing = {\n    name: 'default'\n  }\n}\n"
    "resource q 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {\n  name: 'q'\n"
    "  resource blob 'blobServices' existing = {\n    name: 'default'\n  }\n}\n",  # nested
    "var o = {\n  param: 'a'\n  var: 'b'\n}\nvar p = {\n  param: 'c'\n}\n",  # keys
    "targetScope = 'subscription'\n",
]


@pytest.mark.parametrize("case", sorted(DUPLICATES))
def test_a_name_declared_twice_is_bcp028(case: str, tmp_path: Path):
    source, expected = DUPLICATES[case]
    path = tmp_path / "main.bicep"
    path.write_text(source)
    found = check.semantic_problems(path, tmp_path)
    wording = {
        "BCP028": 'Identifier "{}" is declared multiple times. Remove or rename the duplicates.',
        "BCP145": 'Output "{}" is declared multiple times. Remove or rename the duplicates.',
    }
    assert [(p.message, p.line, p.column) for p in found] == [
        (f"Bicep error {code}: {wording[code].format(name)}", line, column)
        for code, name, line, column in expected
    ], messages(found)


@pytest.mark.parametrize("source", UNIQUE)
def test_names_declared_once_pass(source: str, tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(source)
    assert messages(check.semantic_problems(path, tmp_path)) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "targetScope = 'subscription'\ntargetScope = 'subscription'\n",
            [
                (1, 1, 'BCP112: The "targetScope" cannot be declared multiple times in one file.'),
                (2, 1, 'BCP112: The "targetScope" cannot be declared multiple times in one file.'),
            ],
        ),
        (
            "targetScope = 'resourcegroup'\n",
            [
                (
                    1,
                    15,
                    "BCP033: Expected a value of type \"'managementGroup' | 'resourceGroup' | "
                    "'subscription' | 'tenant'\" but the provided value is of type "
                    "\"'resourcegroup'\".",
                )
            ],
        ),
    ],
)
def test_a_wrong_target_scope_is_bcp112_or_bcp033(source, expected, tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(source)
    found = check.semantic_problems(path, tmp_path)
    assert [(p.line, p.column, p.message) for p in found] == [
        (line, column, f"Bicep error {message}") for line, column, message in expected
    ], messages(found)


def _module(symbol: str, name: str, rest: str = "") -> str:
    return f"module {symbol} 'mod.bicep' = {{\n  name: '{name}'\n{rest}}}\n"


@pytest.mark.parametrize(
    ("source", "lines"),
    [
        (_module("a", "deploy") + _module("b", "deploy"), [2, 5]),
        (
            _module("a", "d", "  scope: resourceGroup('rg')\n")
            + _module("b", "d", "  scope: resourceGroup('rg')\n")
            + _module("c", "d"),
            [2, 6],
        ),
        (_module("a", "d", "  scope: subscription()\n") + _module("b", "d"), [2, 6]),
    ],
)
def test_modules_of_one_name_at_one_scope_are_bcp122(source, lines, tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(source)
    found = check.semantic_problems(path, tmp_path)
    assert [(p.line, p.column) for p in found] == [(line, 9) for line in lines], messages(found)
    assert all(
        p.message == 'Bicep error BCP122: Modules: "a", "b" are defined with this same name and '
        "this same scope in a file. Rename them or split into different modules."
        for p in found
    ), messages(found)


@pytest.mark.parametrize(
    "source",
    [
        _module("a", "d") + _module("b", "e"),
        _module("a", "d", "  scope: resourceGroup('rg1')\n")
        + _module("b", "d", "  scope: resourceGroup('rg2')\n"),
        "param on bool\n" + _module("a", "d") + _module("b", "d").replace("= {", "= if (on) {"),
    ],
)
def test_modules_of_distinct_names_or_scopes_pass(source: str, tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(source)
    assert messages(check.semantic_problems(path, tmp_path)) == []


# (Bicep source, line, column of the `(` where the compiler reports BCP071, its message)
ARGUMENT_COUNTS = [
    ("var a = guid()\n", 1, 13, "Expected at least 1 argument, but got 0."),
    ("var a = toLower(uniqueString())\n", 1, 29, "Expected at least 1 argument, but got 0."),
    ("var a = toLower('A', 'B')\n", 1, 16, "Expected 1 argument, but got 2."),
    ("var a = substring('abc')\n", 1, 18, "Expected 2 to 3 arguments, but got 1."),
    ("var a = sys.union({})\n", 1, 18, "Expected at least 2 arguments, but got 1."),
    ("var a = contains('abc')\n", 1, 17, "Expected 2 arguments, but got 1."),
    ("@minLength()\nparam p string\n", 1, 11, "Expected 1 argument, but got 0."),
    ("@secure(true)\nparam p string\n", 1, 8, "Expected 0 arguments, but got 1."),
    ("type t = resourceInput<>\n", 1, 23, "Expected 1 argument, but got 0."),
]


@pytest.mark.parametrize(("source", "line", "column", "message"), ARGUMENT_COUNTS)
def test_a_wrong_argument_count_is_bcp071(source, line, column, message, tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(source)
    found = messages(check.semantic_problems(path, tmp_path))
    assert found == [f"main.bicep:{line}:{column}: Bicep error BCP071: {message}"], found


def test_argument_counts_an_overload_takes_pass(tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(
        "@minLength(1)\n@secure()\nparam p string\n"
        "var a = guid(resourceGroup().id, 'x', [1, 2][0] == 1 ? 'a' : 'b')\n"
        "var b = contains(['a'], 'a') && contains('abc', 'a') && contains({ a: 1 }, 'a')\n"
        "var c = resourceId('Microsoft.Storage/storageAccounts', 'a')\n"
        "var d = resourceId('sub', 'rg', 'Microsoft.Storage/storageAccounts', 'a')\n"
        "var e = union({}, {}, { f: substring('abc', 1) })\n"
        "var f = substring('abc', 1, 1)\nvar g = sys.concat('a', '${toLower(p)}-x')\n"
        "param now string = utcNow()\n"
        "var h = map([1, 2], x => x + 1)\nvar i = now == '' ? min(1, 2, 3) : max([1])\n"
        "type t = resourceInput<'Microsoft.Storage/storageAccounts@2023-05-01'>\n"
    )
    assert messages(check.semantic_problems(path, tmp_path)) == []


@pytest.mark.parametrize(
    ("source", "line", "column", "name"),
    [
        ("var stamp = utcNow()\n", 1, 13, "utcNow"),
        ("param p string\nvar n = '${p}-${newGuid()}'\n", 2, 17, "newGuid"),
        ("@description(utcNow())\nparam p string = 'x'\n", 1, 14, "utcNow"),
    ],
)
def test_utcnow_outside_a_parameter_default_is_bcp065(source, line, column, name, tmp_path):
    path = tmp_path / "main.bicep"
    path.write_text(source)
    assert messages(check.semantic_problems(path, tmp_path)) == [
        f'main.bicep:{line}:{column}: Bicep error BCP065: Function "{name}" is not valid at this '
        "location. It can only be used as a parameter default value."
    ]


def test_utcnow_in_a_parameter_default_passes(tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(
        "@description('when')\nparam stamp string = utcNow('yyyyMMdd')\n"
        "param id string = '${newGuid()}-${utcNow()}'\nparam o object = {\n  g: newGuid()\n}\n"
        "var v = '${stamp}${id}${o.g}'\n"
    )
    assert messages(check.semantic_problems(path, tmp_path)) == []


# (Bicep source, line, column, code) where the parser rejects a separator
SEPARATORS = [
    ("var a = ['abc' 'def']\n", 1, 16, "BCP236"),
    ("var o = { a: 'x' b: 'y' }\n", 1, 18, "BCP236"),
    ("var c = concat('a' 'b')\n", 1, 20, "BCP236"),
    ("var a = [\n  'a',\n  'b'\n]\n", 2, 7, "BCP238"),
    ("var o = {\n  a: 'x',\n  b: 'y'\n}\n", 2, 10, "BCP238"),
    ("var c = concat(\n  'a'\n  'b')\n", 2, 6, "BCP237"),
    ("var c = concat(\n  'a',\n  'b',\n)\n", 4, 1, "BCP009"),
    ("var a = ['a',, 'b']\n", 1, 14, "BCP009"),
]
SEPARATOR_MESSAGES = {
    "BCP009": "Expected a literal value, an array, an object, a parenthesized expression, or a "
    "function call at this location.",
    "BCP236": "Expected a new line or comma character at this location.",
    "BCP237": "Expected a comma character at this location.",
    "BCP238": "Unexpected new line character after a comma.",
}


@pytest.mark.parametrize(("source", "line", "column", "code"), SEPARATORS)
def test_a_separator_the_parser_rejects_fails(source, line, column, code, tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(source)
    assert messages(check.semantic_problems(path, tmp_path)) == [
        f"main.bicep:{line}:{column}: Bicep error {code}: {SEPARATOR_MESSAGES[code]}"
    ]


def test_separators_the_parser_accepts_pass(tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(
        "@description(\n  'n'\n)\nparam c bool\nvar a = [\n  'a'\n  'b'\n]\nvar b = ['a', 'b']\n"
        "var o = {\n  a: 'x'\n  b: c ? 'y' : 'z'\n  d: { e: 1, f: [1, 2] }\n}\n"
        "var m = concat('a',\n  'b')\nvar t = toLower(\n  'A'\n)\n"
        "var l = [for (x, i) in range(0, 2): { k: 'v${i}-${x}' }]\n"
        "func f(a string, b int) string => '${a}${b}'\nvar g = f('a', 1)\n"
        "var n = c\n  ? 'yes'\n  : 'no'\nvar s = a[0]\nvar u = string(length(b))\n"
    )
    assert messages(check.semantic_problems(path, tmp_path)) == []


# (Bicep source, column of the argument, its type, the parameter's) for BCP070
ARGUMENT_TYPES = [
    ("var a = toLower(1)\n", 17, "1", "string"),
    ("var a = take('abc', '1')\n", 21, "'1'", "int"),  # the overload failing last
    ("var a = range(0, true)\n", 18, "true", "int"),
    ("var a = split({}, ',')\n", 15, "object", "string"),
    (
        "var a = loadTextContent('a.txt', 'latin1')\n",
        34,
        "'latin1'",
        "'iso-8859-1' | 'us-ascii' | 'utf-16' | 'utf-16BE' | 'utf-8'",
    ),
]


@pytest.mark.parametrize(("source", "column", "actual", "expected"), ARGUMENT_TYPES)
def test_a_literal_argument_of_the_wrong_type_is_bcp070(
    source, column, actual, expected, tmp_path: Path
):
    path = tmp_path / "main.bicep"
    path.write_text(source)
    found = messages(check.semantic_problems(path, tmp_path))
    assert found == [
        f'main.bicep:1:{column}: Bicep error BCP070: Argument of type "{actual}" is not '
        f'assignable to parameter of type "{expected}".'
    ], found


def test_literal_arguments_an_overload_accepts_pass(tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(
        "var a = toLower('A')\nvar b = contains(['a'], 1)\nvar c = concat('a', 1, true)\n"
        "var d = length({})\nvar e = substring('abc', 1, 1)\nvar f = '${toUpper('x')}-${2}'\n"
        "var g = loadTextContent('a.txt', 'utf-16BE')\nvar h = empty([])\n"
    )
    assert messages(check.semantic_problems(path, tmp_path)) == []


CALLED = (
    "param name string\nparam count int = 1\nparam enabled bool\nparam tags object?\n"
    "@allowed(['a', 'b'])\nparam tier string\nparam items array = []\noutput id string = name\n"
)
GOOD_PARAMS = "    name: 'x'\n    enabled: true\n    tier: 'a'\n"
# (the calling file, [(line, column, message)]): each breaks a rule of module calls
MODULE_CALLS = {
    "no params": (
        "module m 'mod.bicep' = {\n  name: 'm'\n}\n",
        [
            (
                1,
                8,
                'BCP035: The specified "module" declaration is missing the following required '
                'properties: "params".',
            ),
        ],
    ),
    "required not passed": (
        "module m 'mod.bicep' = {\n  name: 'm'\n  params: {\n    name: 'x'\n  }\n}\n",
        [
            (
                3,
                3,
                'BCP035: The specified "object" declaration is missing the following required '
                'properties: "enabled", "tier".',
            ),
        ],
    ),
    "undeclared": (
        "module m 'mod.bicep' = {\n  params: {\n" + GOOD_PARAMS + "    colour: 'red'\n  }\n}\n",
        [
            (
                6,
                5,
                'BCP037: The property "colour" is not allowed on objects of type "params". '
                'Permissible properties include "count", "items", "tags".',
            ),
        ],
    ),
    "misspelt": (
        "module m 'mod.bicep' = {\n  params: {\n    name: 'x'\n    enabeld: true\n"
        "    tier: 'b'\n  }\n}\n",
        [
            (
                2,
                3,
                'BCP035: The specified "object" declaration is missing the following required '
                'properties: "enabled".',
            ),
            (
                4,
                5,
                'BCP089: The property "enabeld" is not allowed on objects of type "params". '
                'Did you mean "enabled"?',
            ),
        ],
    ),
    "string literal to an int": (
        "module m 'mod.bicep' = {\n  params: {\n" + GOOD_PARAMS + "    count: '3'\n  }\n}\n",
        [
            (
                6,
                12,
                'BCP036: The property "count" expected a value of type "int | null" but the '
                "provided value is of type \"'3'\".",
            ),
        ],
    ),
    "a string parameter to a bool": (
        "param flag string\nmodule m 'mod.bicep' = {\n  params: {\n    name: 'x'\n"
        "    enabled: flag\n    tier: 'a'\n  }\n}\n",
        [
            (
                5,
                14,
                'BCP036: The property "enabled" expected a value of type "bool" but the '
                'provided value is of type "string".',
            ),
        ],
    ),
    "a variable holding an int": (
        "var n = 42\nmodule m 'mod.bicep' = {\n  params: {\n    name: n\n    enabled: false\n"
        "    tier: 'a'\n  }\n}\n",
        [
            (
                4,
                11,
                'BCP036: The property "name" expected a value of type "string" but the '
                'provided value is of type "42".',
            ),
        ],
    ),
    "an object to an array": (
        "module m 'mod.bicep' = {\n  params: {\n" + GOOD_PARAMS + "    items: {}\n  }\n}\n",
        [
            (
                6,
                12,
                'BCP036: The property "items" expected a value of type "array | null" but '
                'the provided value is of type "object".',
            ),
        ],
    ),
    "an output the module does not declare": (
        "module m 'mod.bicep' = {\n  params: {\n" + GOOD_PARAMS + "  }\n}\n"
        "output o string = m.outputs.ids\n",
        [
            (
                8,
                29,
                'BCP053: The type "outputs" does not contain property "ids". Available '
                'properties include "id".',
            ),
        ],
    ),
}
GOOD_CALLS = [
    "module m 'mod.bicep' = {\n  params: {\n"
    + GOOD_PARAMS
    + "  }\n}\noutput o string = m.outputs.id\n",
    "param prefix string\nparam on bool\nvar three = 3\n"
    "module m 'mod.bicep' = if (on) {\n  params: {\n    name: '${prefix}-x'\n    enabled: on\n"
    "    tier: 'b'\n    count: three\n    tags: {\n      a: 'b'\n    }\n    items: [\n      1\n"
    "    ]\n  }\n}\noutput o string = m.?outputs.id ?? ''\n",
    "module ms 'mod.bicep' = [for i in range(0, 2): {\n  name: 'm${i}'\n  params: {\n"
    + GOOD_PARAMS.replace("'x'", "'x${i}'")
    + "  }\n}]\noutput o string = ms[0].outputs.id\n",
    "module j 'template.json' = {\n  params: {\n    anything: 1\n  }\n}\n",  # not read
]


def _module_problems(tmp_path: Path, source: str) -> list:
    (tmp_path / "mod.bicep").write_text(CALLED)
    path = tmp_path / "main.bicep"
    path.write_text(source)
    return check.module_problems(path, source, tmp_path)


def test_a_called_files_decorators_over_several_lines_are_read(tmp_path: Path):
    """Decorators spanning lines (`@allowed([...])`) do not hide the parameter they decorate."""
    (tmp_path / "mod.bicep").write_text(
        "@secure()\nparam token string\n@allowed([\n  1\n  2\n])\n@description(\n  'n'\n)\n"
        "param n int\n@minValue(1)\nparam m int\n"
    )
    path = tmp_path / "main.bicep"
    ok = "module x 'mod.bicep' = {\n  params: {\n    token: 'x'\n    n: 2\n    m: 1\n  }\n}\n"
    path.write_text(ok)
    assert messages(check.module_problems(path, ok, tmp_path)) == []
    missing = ok.replace("    token: 'x'\n", "").replace("m: 1", "m: '1'")
    path.write_text(missing)
    assert [p.message.split(":")[0] for p in check.module_problems(path, missing, tmp_path)] == [
        "Bicep error BCP035",
        "Bicep error BCP036",
    ]


def test_a_declaration_on_its_decorators_line_is_bcp019(tmp_path: Path):
    """The parser wants a new line after each decorator and skips the rest of the line: the
    parameter is not declared, so reading it is BCP057 too (the compiler also rejects the
    decorator, which now stands before `var`; that rule is not checked here)."""
    path = tmp_path / "main.bicep"
    path.write_text("@secure() param token string\nvar t = token\n")
    assert messages(check.semantic_problems(path, tmp_path)) == [
        "main.bicep:1:11: Bicep error BCP019: Expected a new line character at this location.",
        'main.bicep:2:9: Bicep error BCP057: The name "token" does not exist in the current '
        "context.",
    ]
    path.write_text("@secure()\nparam token string\n@sys.description('t')\nvar t = token\n")
    assert messages(check.semantic_problems(path, tmp_path)) == []


COUNTER = "param name string\noutput count int = length(name)\noutput id string = name\n"
TYPED = {
    "a default": ("param n int = 'x'\n", 1, 15, "int", "'x'"),
    "an output": ("output o string = 1\n", 1, 19, "string", "1"),
    "an output from a parameter": ("param b bool\noutput o object = b\n", 2, 19, "object", "bool"),
    "a module's output": (
        "module m 'counter.bicep' = {\n  params: {\n    name: 'x'\n  }\n}\n"
        "output o string = m.outputs.count\n",
        6,
        19,
        "string",
        "int",
    ),
}


@pytest.mark.parametrize("case", sorted(TYPED))
def test_a_value_of_the_wrong_type_is_bcp033(case: str, tmp_path: Path):
    source, line, column, expected, actual = TYPED[case]
    (tmp_path / "counter.bicep").write_text(COUNTER)
    path = tmp_path / "main.bicep"
    path.write_text(source)
    assert messages(check.module_problems(path, source, tmp_path)) == [
        f'main.bicep:{line}:{column}: Bicep error BCP033: Expected a value of type "{expected}" '
        f'but the provided value is of type "{actual}".'
    ]


def test_a_modules_output_of_the_wrong_type_for_a_parameter_is_bcp036(tmp_path: Path):
    (tmp_path / "counter.bicep").write_text(COUNTER)
    (tmp_path / "mod.bicep").write_text(CALLED)
    source = (
        "module c 'counter.bicep' = {\n  params: {\n    name: 'x'\n  }\n}\n"
        "module m 'mod.bicep' = {\n  params: {\n    name: c.outputs.count\n"
        "    enabled: true\n    tier: 'a'\n  }\n}\n"
    )
    path = tmp_path / "main.bicep"
    path.write_text(source)
    assert messages(check.module_problems(path, source, tmp_path)) == [
        'main.bicep:8:11: Bicep error BCP036: The property "name" expected a value of type '
        '"string" but the provided value is of type "int".'
    ]


def test_values_of_their_declared_types_pass(tmp_path: Path):
    (tmp_path / "counter.bicep").write_text(COUNTER)
    source = (
        "@description('n')\nparam n int = 1\nparam s string = '${n}'\nparam o object = {}\n"
        "param a array = []\nvar v = 'x'\noutput t string = v\noutput k int = -1\n"
        "module m 'counter.bicep' = {\n  params: {\n    name: s\n  }\n}\n"
        "output c int = m.outputs.count\noutput i string = m.outputs.id\n"
    )
    path = tmp_path / "main.bicep"
    path.write_text(source)
    assert messages(check.module_problems(path, source, tmp_path)) == []


def test_shapes_of_azure_verified_modules_pass(tmp_path: Path):
    """Shapes from Azure/bicep-registry-modules (which the compiler builds) that check-infra
    once flagged: multi-line ternaries and union types, a function's parameters in a body
    on the next line, a typed array under @maxLength, `.?name` equal to a resource's symbol,
    a method call on a conditional resource."""
    (tmp_path / "db.bicep").write_text(
        "@description('mode')\nparam createMode\n  | 'Default'\n  | 'Copy' = 'Default'\n"
        "param dnsZone string?\n"
    )
    source = (
        "param on bool\nparam hubs array\n@maxLength(5)\nparam thresholds int[] = [\n  50\n]\n"
        "func part(id string?, parts string[]) string =>\n  !empty(id) ? last(parts)! : id ?? ''\n"
        "resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = if (on) {\n  name: 'st'\n"
        "  location: 'l'\n  kind: 'StorageV2'\n  sku: {\n    name: 'Standard_LRS'\n  }\n}\n"
        "resource routingIntent 'Microsoft.Storage/storageAccounts@2023-05-01' = [\n"
        "  for hub in hubs: if (hub.?routingIntent != null) {\n    name: hub.name\n"
        "    location: 'l'\n    kind: 'StorageV2'\n    sku: {\n      name: 'Standard_LRS'\n    }\n"
        "  }\n]\n"
        "module db 'db.bicep' = {\n  params: {\n    createMode: 'Copy'\n    dnsZone: on\n"
        "      ? 'zone'\n      : ''\n  }\n}\n"
        "output key string = on ? st.listKeys().keys[0].value : ''\n"
        "output zone string = on\n  ? 'a'\n  : 'b'\n"
        "output p string = part('a/b', ['a', 'b'])\n"
    )
    path = tmp_path / "main.bicep"
    path.write_text(source)
    found = [
        *check.semantic_problems(path, tmp_path),
        *check.module_problems(path, source, tmp_path),
    ]
    assert messages(found) == []


@pytest.mark.parametrize("case", sorted(MODULE_CALLS))
def test_a_module_call_breaking_the_compilers_rules_fails(case: str, tmp_path: Path):
    source, expected = MODULE_CALLS[case]
    found = _module_problems(tmp_path, source)
    assert [(p.line, p.column, p.message) for p in found] == [
        (line, column, f"Bicep error {message}") for line, column, message in expected
    ], messages(found)


@pytest.mark.parametrize("source", GOOD_CALLS)
def test_module_calls_the_compiler_accepts_pass(source: str, tmp_path: Path):
    assert messages(_module_problems(tmp_path, source)) == []


@pytest.mark.parametrize(
    ("source", "decorator", "attachable", "target", "line"),
    [
        ("@minLength(3)\nparam n int\n", "minLength", "array | string", "int", 1),
        ("@description('d')\n@maxValue(\n  5\n)\nparam s string\n", "maxValue", "int", "string", 2),
        ("@secure()\nparam b bool\n", "secure", "object | string", "bool", 1),
        ("@sys.minValue(1)\noutput o string = 'x'\n", "minValue", "int", "string", 1),
    ],
)
def test_a_decorator_on_the_wrong_type_is_bcp124(
    source, decorator, attachable, target, line, tmp_path
):
    path = tmp_path / "main.bicep"
    path.write_text(source)
    found = messages(check.semantic_problems(path, tmp_path))
    assert found == [
        f'main.bicep:{line}:1: Bicep error BCP124: The decorator "{decorator}" can only be '
        f'attached to targets of type "{attachable}", but the target has type "{target}".'
    ], found


def test_decorators_on_their_types_pass(tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(
        "@minLength(1)\n@maxLength(3)\nparam a array\n@minValue(1)\nparam i int\n"
        "@secure()\nparam p string\n@secure()\nparam o object\n@minLength(2)\nparam s string\n"
    )
    assert messages(check.semantic_problems(path, tmp_path)) == []


ROLE = (
    "resource r 'Microsoft.Authorization/roleAssignments@2022-04-01' = {{\n"
    "  name: 'x'\n  scope: {}\n  properties: {{}}\n}}\n"
)


@pytest.mark.parametrize(
    "scope", ["resourceGroup('other')", "subscription()", "az.resourceGroup('s', 'g')"]
)
def test_a_resource_in_another_scope_is_bcp139(scope: str, tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(ROLE.format(scope))
    found = messages(check.semantic_problems(path, tmp_path))
    assert found == [
        "main.bicep:3:10: Bicep error BCP139: A resource's scope must match the scope of the "
        "Bicep file for it to be deployable. You must use modules to deploy resources to a "
        "different scope."
    ], found


@pytest.mark.parametrize(
    "source",
    [
        ROLE.format("resourceGroup()"),
        ROLE.format("tenant()"),
        "targetScope = 'subscription'\n" + ROLE.format("subscription()"),
        "resource s 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {\n"
        "  name: 's'\n  scope: resourceGroup('other')\n}\n",  # existing: any scope
        "module m 'm.bicep' = {\n  name: 'm'\n  scope: resourceGroup('other')\n}\n",
    ],
)
def test_a_resource_at_the_files_scope_passes(source: str, tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(source)
    assert messages(check.semantic_problems(path, tmp_path)) == []


STORE = (
    "resource store 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n"
    "  name: 'st'\n  location: 'l'\n  kind: 'StorageV2'\n"
    "  sku: {\n    name: 'Standard_LRS'\n  }\n}\n"
    "module idm 'id.bicep' = {\n  name: 'id'\n}\n"
)  # lines 1-11
RUNTIME = "calculated at the start of the deployment."
STORE_READS = (
    ' Properties of store which can be calculated at the start include "apiVersion", "id", '
    '"name", "type".'
)
IDM_READS = ' Properties of idm which can be calculated at the start include "name".'
FOR_BODY = (
    'BCP182: This expression is being used in the for-body of the variable "{}", which '
    "requires values that can be calculated at the start of the deployment."
)
ROLE_NAMED = (
    "resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {{\n"
    "  name: {}\n  properties: {{\n    principalId: 'p'\n    roleDefinitionId: 'r'\n  }}\n}}\n"
)  # its name on line 2
ASSIGNED = (
    'BCP120: This expression is being used in an assignment to the "name" property of the '
    '"Microsoft.Authorization/roleAssignments" type, which requires a value that can be ' + RUNTIME
)
# (source after STORE, line, column, message) where the compiler reports a runtime value
# in a deploy-time constant; the shapes of Azure/bicep's InvalidResources and
# InvalidRuntimeValueUsages samples, whose baselines expect these codes at these places
NOT_AT_THE_START = {
    "role name from a module output": (
        ROLE_NAMED.format("guid(store.id, idm.outputs.principalId, 'r')"),
        13,
        24,
        ASSIGNED + IDM_READS,
    ),
    "name from a resource property": (
        ROLE_NAMED.format("store.properties.accessTier"),
        13,
        9,
        ASSIGNED + STORE_READS,
    ),
    "location, by index": (
        ROLE_NAMED.format("'${store['location']}-x'"),
        13,
        12,
        ASSIGNED + STORE_READS,
    ),
    "through variables": (
        "var first = idm.outputs.name\nvar second = first\n" + ROLE_NAMED.format("second"),
        15,
        9,
        ASSIGNED
        + ' You are referencing a variable which cannot be calculated at the start ("second" '
        '-> "first" -> "idm").' + IDM_READS,
    ),
    "a list function": (
        ROLE_NAMED.format("store.listKeys().keys[0].value"),
        13,
        9,
        ASSIGNED,
    ),
    "module name": (
        "module other 'o.bicep' = {\n  name: store.properties.primaryEndpoints.blob\n}\n",
        13,
        9,
        'BCP120: This expression is being used in an assignment to the "name" property of the '
        '"module" type, which requires a value that can be ' + RUNTIME + STORE_READS,
    ),
    "condition": (
        "module other 'o.bicep' = if (idm.outputs.enabled) {\n  name: 'o'\n}\n",
        12,
        30,
        "BCP177: This expression is being used in the if-condition expression, which requires "
        "a value that can be " + RUNTIME + IDM_READS,
    ),
    "loop range": (
        "var names = [for i in range(0, length(store.properties.networkAcls.ipRules)): i]\n",
        12,
        39,
        "BCP178: This expression is being used in the for-expression, which requires a value "
        "that can be " + RUNTIME + STORE_READS,
    ),
    "a variable's loop body": (
        "var eps = [for i in range(0, 2): store.properties.primaryEndpoints]\n",
        12,
        34,
        FOR_BODY.format("eps")
        + ' The property "properties" of store cannot be calculated at the start.'
        + STORE_READS,
    ),
    "a whole resource in a variable's loop": (
        "var all = [for i in range(0, 2): {\n  s: store\n}]\n",
        13,
        6,
        FOR_BODY.format("all") + STORE_READS,
    ),
    "a folded index in a variable's loop": (
        "var key = 'prop${'erties'}'\nvar v = [for i in range(0, 2): store[i == 0 ? 'id' : key]]\n",
        13,
        32,
        FOR_BODY.format("v")
        + ' The property "properties" of store cannot be calculated at the start.'
        + STORE_READS,
    ),
}
AT_THE_START = [
    # a loop variable shadows the resource of the same name (Azure/bicep user_submitted
    # 301/automation-account-import-runbooks-and-modules, which the compiler compiles)
    "resource ras 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for store in ['a']: {\n"
    "  name: guid(store)\n  properties: {\n    principalId: 'p'\n    roleDefinitionId: 'r'\n"
    "  }\n}]\n",
    # an extension's resource (user_submitted extensibility/microsoftGraph): its own types
    "extension microsoftGraph\nresource appV1 'Microsoft.Graph/applications@v1.0' = {\n"
    "  displayName: 'TestAppV1'\n  uniqueName: 'testAppV1'\n"
    "  resource myTestFIC 'federatedIdentityCredentials' = {\n"
    "    name: '${appV1.uniqueName}/mytestfic'\n    audiences: ['audience']\n  }\n}\n",
    "var ids = [for i in range(0, 2): '${store.name}-${i}-${store.id}']\n",
    "var keys = ['id', 'name']\nvar k = keys[1]\n"
    "var ids = [for i in range(0, 2): {\n  a: store[first(keys)]\n  b: store[k]\n"
    "  c: store[keys[i]]\n}]\n",
    ROLE_NAMED.format("guid(store.id, store.name, idm.name, resourceGroup().id)"),
    ROLE_NAMED.format("'${store.type}-${store['apiVersion']}'"),
    "var n = store.name\nvar m = n\n" + ROLE_NAMED.format("m"),
    ROLE_NAMED.format("nameof(idm.outputs.x)"),  # nameof reads no value
    # anything may be read outside deploy-time constants
    "output o string = idm.outputs.x\nvar v = store.properties.accessTier\n",
    "resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {\n  name: 'x'\n"
    "  scope: store\n  properties: {\n    principalId: idm.outputs.principalId\n"
    "    roleDefinitionId: store.properties.accessTier\n  }\n}\n",
    # an existing resource's body is not a deploy-time constant check
    "resource ex 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {\n"
    "  name: idm.outputs.storageName\n}\n",
]


@pytest.mark.parametrize("case", sorted(NOT_AT_THE_START))
def test_a_runtime_value_where_a_constant_is_needed_fails(case: str, tmp_path: Path):
    source, line, column, message = NOT_AT_THE_START[case]
    path = tmp_path / "main.bicep"
    path.write_text(STORE + source)
    found = messages(check.semantic_problems(path, tmp_path))
    assert found == [f"main.bicep:{line}:{column}: Bicep error {message}"], found


@pytest.mark.parametrize("source", AT_THE_START)
def test_what_is_known_at_the_start_passes(source: str, tmp_path: Path):
    path = tmp_path / "main.bicep"
    path.write_text(STORE + source)
    assert messages(check.semantic_problems(path, tmp_path)) == []


def test_the_bootstraps_role_name_from_the_identitys_principal_id_fails(tmp_path: Path):
    """A one-line edit of the template: the role assignment named after a runtime value."""
    text = (INFRA / "bootstrap" / "github-oidc.bicep").read_text()
    line = "name: guid(resourceGroup().id, identity.id, contributor)"
    assert line in text
    path = tmp_path / "github-oidc.bicep"
    edited = line.replace("identity.id", "identity.properties.principalId")
    path.write_text(text.replace(line, edited))
    found = messages(check.semantic_problems(path, tmp_path))
    assert len(found) == 1 and "BCP120" in found[0] and "identity" in found[0], found


def test_a_module_with_a_lexical_error_fails_its_parent_too(project: Path):
    storage = project / "infra" / "modules" / "storage.bicep"
    text = storage.read_text()
    assert "  // checkov:skip=CKV_AZURE_35:" in text
    storage.write_text(text.replace("// checkov:skip=CKV_AZURE_35:", "#checkov:skip=CKV_AZURE_35:"))
    found = messages(check.check_bicep(project / "infra", project))
    assert len(found) == 2, found
    assert found[0].startswith("infra/modules/storage.bicep:")
    assert 'Bicep error BCP001: The following token is not recognized: "#"' in found[0]
    assert found[1].startswith("infra/main.bicep:")
    assert "BCP104" in found[1] and "modules/storage.bicep has errors" in found[1]


def test_every_resource_is_type_checked_and_passes():
    for path in check.bicep_files(INFRA):
        problems, notes = bicep_types.check_file(path, ROOT)
        assert messages(problems) == []
        assert notes == []  # every resource type and API version is in the bundled definitions


def test_the_bundled_definitions_name_their_source_and_licence():
    data = json.loads(bicep_types.DATA.read_text())
    assert data["source"] == "https://github.com/Azure/bicep-types-az"
    assert len(data["commit"]) == 40
    assert "MIT License" in (bicep_types.DATA.parent / "LICENSE-bicep-types-az").read_text()


def _storage_edit(project: Path, old: str, new: str) -> list[str]:
    storage = project / "infra" / "modules" / "storage.bicep"
    text = storage.read_text()
    assert old in text
    storage.write_text(text.replace(old, new, 1))
    return messages(check.check_bicep(project / "infra", project))


STORAGE = "resource storage 'Microsoft.Storage/storageAccounts@2023-05-01'"
TYPE_ERRORS = {
    "unknown property": (
        "    allowBlobPublicAccess: false\n",
        "    allowBlobPublicAccess: false\n    anonymousPullEnabled: false\n",
        "properties.anonymousPullEnabled: the type has no property 'anonymousPullEnabled'",
    ),
    "value not allowed": (
        "accessTier: 'Hot'",
        "accessTier: 'Warm'",
        "properties.accessTier: 'Warm' is not one of the allowed values",
    ),
    "wrong type": (
        "allowSharedKeyAccess: false",
        "allowSharedKeyAccess: 'false'",
        "properties.allowSharedKeyAccess: expects a bool, but the value is string",
    ),
    "parameter of the wrong type": (
        "supportsHttpsTrafficOnly: true",
        "supportsHttpsTrafficOnly: storageAccountName",
        "properties.supportsHttpsTrafficOnly: expects bool, but the value is string",
    ),
    "a branch of a condition": (
        "networkIsolation ? 'Deny' : 'Allow'",
        "networkIsolation ? 'Deny' : 'Open'",
        "properties.networkAcls.defaultAction: 'Open' is not one of the allowed values",
    ),
    "read-only property written": (
        "    accessTier: 'Hot'\n",
        "    accessTier: 'Hot'\n    provisioningState: 'Succeeded'\n",
        "properties.provisioningState: read-only; Azure sets it",
    ),
    "required property missing": (
        "    name: 'Standard_LRS'\n",
        "",
        "resource storage.sku: required property 'name' is missing",
    ),
    "misspelt property": (
        "accessTier: 'Hot'",
        "AccessTier: 'Hot'",
        "properties.AccessTier: the property is spelled 'accessTier'",
    ),
    "API version that does not exist": (
        STORAGE,
        STORAGE.replace("2023-05-01", "2023-05-02"),
        "API version 2023-05-02 does not exist for Microsoft.Storage/storageAccounts",
    ),
}


@pytest.mark.parametrize("case", sorted(TYPE_ERRORS))
def test_type_error_fails(project: Path, case: str):
    old, new, expected = TYPE_ERRORS[case]
    found = _storage_edit(project, old, new)
    assert len(found) == 1, found
    assert found[0].startswith("infra/modules/storage.bicep:"), found
    assert expected in found[0], found


def test_preview_api_version_while_ga_exists_fails(project: Path):
    versions = bicep_types.definitions()["Microsoft.Storage/storageAccounts"]["versions"]
    preview = next(version for version in versions if version.endswith("-preview"))
    found = _storage_edit(project, STORAGE, STORAGE.replace("2023-05-01", preview))
    assert any("preview API version while generally available ones exist" in f for f in found)


def test_discriminator_value_must_be_known(project: Path):
    cluster = project / "infra" / "modules" / "compute-cluster.bicep"
    text = cluster.read_text()
    cluster.write_text(text.replace("computeType: 'AmlCompute'", "computeType: 'Aml'"))
    found = messages(check.check_bicep(project / "infra", project))
    assert len(found) == 1 and "properties.computeType: 'Aml' is not one of" in found[0], found


def test_project_infra_is_consistent():
    assert messages(check.check_bicep(INFRA, ROOT)) == []


def test_main_bicep_declares_every_output_the_tooling_reads():
    parsed, _ = check.parse_bicep(INFRA / "main.bicep", ROOT)
    assert set(REQUIRED_OUTPUTS) <= set(parsed["outputs"])


def test_params_files_name_the_same_parameters():
    files = sorted((INFRA / "params").glob("*.parameters.json"))
    assert files, "no parameter files"
    names = [set(json.loads(path.read_text())["parameters"]) for path in files]
    assert all(found == names[0] for found in names)


def test_syntax_error_reports_file_line_and_column(project: Path):
    module = project / "infra" / "modules" / "storage.bicep"
    lines = module.read_text().splitlines()
    module.write_text("\n".join([*lines, "resource broken = {"]) + "\n")
    problems = check.check_bicep(project / "infra", project)
    syntax = [p for p in problems if "syntax error" in p.message]
    assert len(syntax) == 1
    assert syntax[0].file == "infra/modules/storage.bicep"
    assert syntax[0].line == len(lines) + 1
    assert syntax[0].column is not None
    assert str(syntax[0]).startswith(f"infra/modules/storage.bicep:{len(lines) + 1}:")


def test_undeclared_parameter_fails(project: Path):
    edit_params(project, lambda params: params.update(notDeclared={"value": 1}))
    found = messages(check.check_bicep(project / "infra", project))
    assert len(found) == 1
    assert "infra/params/dev.parameters.json:" in found[0]
    assert "'notDeclared' is not declared in infra/main.bicep" in found[0]


def test_missing_required_parameter_fails(project: Path):
    edit_params(project, lambda params: params.pop("workspaceName"))
    found = messages(check.check_bicep(project / "infra", project))
    assert found == [
        "infra/params/dev.parameters.json:1: required parameter 'workspaceName' "
        "of infra/main.bicep is not given"
    ]


def test_wrong_type_and_disallowed_value_fail(project: Path):
    def change(params):
        params["cpuMaxNodes"] = {"value": "4"}
        params["environmentName"] = {"value": "qa"}

    edit_params(project, change)
    found = " | ".join(messages(check.check_bicep(project / "infra", project)))
    assert "'cpuMaxNodes' is declared int" in found
    assert "'environmentName' = \"qa\" is not one of the allowed values" in found


def test_missing_module_file_fails(project: Path):
    (project / "infra" / "modules" / "keyvault.bicep").unlink()
    found = messages(check.check_bicep(project / "infra", project))
    assert any(
        "infra/main.bicep:" in item and "'modules/keyvault.bicep' does not exist" in item
        for item in found
    ), found


def test_module_call_must_match_the_module_parameters(project: Path):
    main = project / "infra" / "main.bicep"
    text = main.read_text()
    assert "    logAnalyticsName: logAnalyticsName\n" in text
    main.write_text(
        text.replace(
            "    logAnalyticsName: logAnalyticsName\n", "    logAnalyticName: logAnalyticsName\n"
        )
    )
    found = [p.message for p in check.check_bicep(project / "infra", project)]
    assert found == [
        'Bicep error BCP035: The specified "object" declaration is missing the following '
        'required properties: "logAnalyticsName".',
        'Bicep error BCP089: The property "logAnalyticName" is not allowed on objects of type '
        '"params". Did you mean "logAnalyticsName"?',
    ], found


def test_reading_an_undeclared_module_output_fails(project: Path):
    main = project / "infra" / "main.bicep"
    main.write_text(
        main.read_text().replace("storage.outputs.storageAccountId", "storage.outputs.accountId")
    )
    found = [p.message for p in check.check_bicep(project / "infra", project)]
    assert found
    assert all(
        item.startswith(
            'Bicep error BCP053: The type "outputs" does not contain property "accountId". '
            'Available properties include "'
        )
        for item in found
    ), found


@pytest.mark.parametrize("output", ["workspaceName", "computeIdentityClientId"])
def test_missing_required_output_fails(project: Path, output: str):
    main = project / "infra" / "main.bicep"
    lines = main.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(f"output {output} ")]
    assert len(kept) == len(lines) - 1
    main.write_text("".join(kept))
    found = messages(check.check_bicep(project / "infra", project))
    assert found == [
        f"infra/main.bicep: output '{output}' is missing: the project's tooling reads it "
        "after deployment"
    ]


def test_cli_exits_non_zero_with_the_problem(project: Path, monkeypatch, capsys):
    edit_params(project, lambda params: params.pop("cpuVmSize"))
    monkeypatch.chdir(project)
    code = guarded(check.main, argparse.Namespace(checkov=None, skip_checkov=True))
    err = capsys.readouterr().err
    assert code == 1
    assert "required parameter 'cpuVmSize'" in err


def test_cli_passes_on_the_project(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert guarded(check.main, argparse.Namespace(checkov=None, skip_checkov=True)) == 0
    assert "checkov: skipped" in capsys.readouterr().out


def test_cli_says_when_checkov_is_missing(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(check, "find_tool", lambda name: None)
    assert guarded(check.main, argparse.Namespace(checkov=None, skip_checkov=False)) == 0
    assert "checkov: SKIPPED" in capsys.readouterr().out


@pytest.fixture(scope="session")
def checkov(tmp_path_factory) -> str:
    """checkov at the version the projects' pre-commit hook pins, in its own environment
    (its dependencies would clash with the tool's), made once per test session."""
    import re
    import subprocess
    import sys

    hooks = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    pinned = re.search(r"checkov==([\w.]+)", hooks)
    assert pinned, ".pre-commit-config.yaml pins no checkov==VERSION"
    try:
        from uv import find_uv_bin  # the `uv` wheel from requirements-dev.txt
    except ImportError:
        pytest.fail("uv is needed to install checkov for these tests: pip install uv")
    uv = find_uv_bin()
    root = tmp_path_factory.mktemp("checkov")
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(root)], check=True)
    done = subprocess.run(
        [uv, "pip", "install", "-q", "-p", str(root / "bin" / "python"), pinned[0]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"cannot install {pinned[0]}:\n{done.stderr}"
    return str(root / "bin" / "checkov")


def test_checkov_finds_no_failed_check(checkov):
    assert messages(check.run_checkov(INFRA, ROOT, checkov)) == []


def test_checkov_reports_a_failed_check(project: Path, checkov):
    registry = project / "infra" / "modules" / "registry.bicep"
    text = registry.read_text()
    kept = [line for line in text.splitlines(keepends=True) if "CKV_AZURE_139" not in line]
    assert len(kept) < len(text.splitlines())
    registry.write_text("".join(kept))
    found = messages(check.run_checkov(project / "infra", project, checkov))
    assert len(found) == 1
    assert found[0].startswith("infra/modules/registry.bicep:")
    assert "CKV_AZURE_139" in found[0]
