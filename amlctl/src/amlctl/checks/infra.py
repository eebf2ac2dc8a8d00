"""`check-infra`: parse, cross-check and scan the Bicep in infra/, offline.

1. Every ``.bicep`` file passes the compiler's lexical rules (``bicep_lexer``: comments,
   ``#`` directives, strings and escapes, the BCP codes the compiler gives) and parses
   (pycep-parser); errors give file:line:col.
2. Consistency the parser does not check: each ``params/*.parameters.json`` gives only
   parameters main.bicep declares, every required one, with values of the declared
   type and among ``@allowed`` values; each local module path exists, and each module call
   holds to the compiler's rules (``bicep_modules``: BCP035 a required parameter not passed,
   BCP037/BCP089 one the module does not declare, BCP036 a value of the wrong type,
   BCP052/BCP053/BCP083 an output the module does not declare); main.bicep declares every
   output the tooling reads (REQUIRED_OUTPUTS).
3. Every resource body type-checks against Azure's published resource types
   (``bicep_types``: unknown property, wrong type or value, read-only property written,
   API version that does not exist or is preview while a GA one exists).
4. The permission model (``permissions``) holds: every identity has a role covering each
   thing it does in Azure, the least such role, ``principalType`` on every assignment.
5. checkov (``--framework bicep``) finds no failed check. checkov pins its own
   pycep-parser, so it lives in its own virtualenv (the pre-commit hook); it runs here only
   when a ``checkov`` executable is found, and says so when it is skipped.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..project import ProjectError, layout, project_root
from .bicep_lexer import lex
from .bicep_types import check_file as type_check
from .infra_outputs import REQUIRED_OUTPUTS
from .permissions import check_permissions
from .problems import Problem, find_tool, line_of, relative

MAIN = "main.bicep"
PARAMS_GLOB = "params/*.parameters.json"
PARAMS_SCHEMA_MARK = "deploymentParameters.json"
CHECKOV_HINT = "run it with `pre-commit run checkov-bicep --all-files` (CI does)"

# Bicep type -> Python types a parameter-file value may have.
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "securestring": (str,),
    "int": (int,),
    "bool": (bool,),
    "object": (dict,),
    "secureobject": (dict,),
    "array": (list,),
}


def bicep_files(infra: Path) -> list[Path]:
    return sorted(infra.rglob("*.bicep"))


@functools.cache
def _parser() -> Any:
    """One pycep parser (building its grammar is the slow part)."""
    try:
        from pycep import BicepParser
    except ImportError as exc:
        raise ProjectError(
            "pycep-parser is not installed: install the dev tools (pip install -e '.[dev]')"
        ) from exc
    return BicepParser()


def parse_bicep(path: Path, root: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The parsed file, or the syntax error with its position."""
    parser = _parser()
    from lark.exceptions import UnexpectedInput  # installed with pycep-parser

    text = path.read_text(encoding="utf-8")
    where = relative(path, root)
    try:
        return parser.parse(text=text), []
    except UnexpectedInput as exc:
        first = str(exc).strip().splitlines()[0]
        return None, [Problem(where, f"Bicep syntax error: {first}", exc.line, exc.column)]
    except Exception as exc:  # pycep raises plain errors for some inputs
        message = f"pycep-parser cannot parse it ({type(exc).__name__}: {exc})"
        return None, [Problem(where, message)]


def column_of(text: str, offset: int) -> int:
    """1-based column of a character offset."""
    return offset - max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset))


def lexical_problems(path: Path, root: Path) -> list[Problem]:
    """What the Bicep compiler's lexer rejects in the file (pycep accepts some of it)."""
    text = path.read_text(encoding="utf-8")
    return compiler_problems(path, root, text, lex(text).diagnostics)


def compiler_problems(
    path: Path, root: Path, text: str, found: Any, warnings: Any = frozenset()
) -> list[Problem]:
    """The diagnostics of a compiler rule (code, message, offset) as problems of ``path``,
    worded as the compiler words them; codes in ``warnings`` are warnings."""
    return [
        Problem(
            relative(path, root),
            f"Bicep {'warning' if each.code in warnings else 'error'} {each.code}: {each.message}",
            line_of(text, each.offset),
            column_of(text, each.offset),
        )
        for each in found
    ]


def semantic_problems(path: Path, root: Path) -> list[Problem]:
    """The compiler's semantic diagnostics in the file (bicep_semantics: BCP318...)."""
    from .bicep_semantics import WARNING_CODES, diagnostics

    text = path.read_text(encoding="utf-8")
    return compiler_problems(path, root, text, diagnostics(text), WARNING_CODES)


def _declaration_line(text: str, keyword: str, name: str) -> int | None:
    match = re.search(rf"^\s*{keyword}\s+{re.escape(name)}\b", text, re.MULTILINE)
    return line_of(text, match.start()) if match else None


def _nullable_params(text: str) -> set[str]:
    """Parameters typed ``T?`` (optional without a default); pycep drops the marker."""
    return set(re.findall(r"^\s*param\s+(\w+)\s+[^=\n]*\?\s*$", text, re.MULTILINE))


def required_params(parsed: dict[str, Any], text: str) -> set[str]:
    nullable = _nullable_params(text)
    return {
        name
        for name, attrs in parsed.get("parameters", {}).items()
        if attrs.get("default") is None and name not in nullable
    }


def _allowed_values(attrs: dict[str, Any]) -> list[Any] | None:
    for decorator in attrs.get("decorators", []):
        if decorator.get("type") == "allowed":
            return list(decorator.get("argument") or [])
    return None


def _json_key_line(text: str, key: str) -> int | None:
    match = re.search(rf'"{re.escape(key)}"\s*:', text)
    return line_of(text, match.start()) if match else None


def check_params_file(
    path: Path, declared: dict[str, Any], required: set[str], root: Path
) -> list[Problem]:
    """One ARM JSON parameter file against main.bicep's parameters."""
    where = relative(path, root)
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [Problem(where, f"not valid JSON: {exc.msg}", exc.lineno, exc.colno)]
    if not isinstance(data, dict):
        return [Problem(where, "must be a JSON object (an ARM deployment parameters file)")]
    problems: list[Problem] = []
    if PARAMS_SCHEMA_MARK not in str(data.get("$schema", "")):
        problems.append(Problem(where, f"$schema must be the ARM {PARAMS_SCHEMA_MARK} schema", 1))
    if "contentVersion" not in data:
        problems.append(Problem(where, "contentVersion is missing", 1))
    params = data.get("parameters")
    if not isinstance(params, dict):
        return [*problems, Problem(where, "parameters must be an object", 1)]

    for name, entry in params.items():
        line = _json_key_line(text, name)
        if name not in declared:
            problems.append(
                Problem(where, f"parameter {name!r} is not declared in infra/{MAIN}", line)
            )
            continue
        if not isinstance(entry, dict) or not ({"value", "reference"} & entry.keys()):
            problems.append(Problem(where, f"parameter {name!r} needs a 'value'", line))
            continue
        if "value" not in entry:
            continue  # a Key Vault reference: resolved at deployment time
        value = entry["value"]
        bicep_type = declared[name].get("type")
        expected = JSON_TYPES.get(bicep_type.lower()) if isinstance(bicep_type, str) else None
        wrong_type = expected is not None and (
            not isinstance(value, expected) or (bool not in expected and isinstance(value, bool))
        )
        if wrong_type:
            problems.append(
                Problem(
                    where,
                    f"parameter {name!r} is declared {bicep_type} but the value is "
                    f"{json.dumps(value)}",
                    line,
                )
            )
            continue
        allowed = _allowed_values(declared[name])
        if allowed is not None and value not in allowed:
            problems.append(
                Problem(
                    where,
                    f"parameter {name!r} = {json.dumps(value)} is not one of the allowed "
                    f"values {allowed}",
                    line,
                )
            )
    for name in sorted(required - params.keys()):
        problems.append(
            Problem(where, f"required parameter {name!r} of infra/{MAIN} is not given", 1)
        )
    return problems


def check_modules(
    path: Path,
    parsed: dict[str, Any],
    text: str,
    root: Path,
    broken: frozenset[Path] = frozenset(),
) -> list[Problem]:
    """Local module paths exist; each call passes exactly what the module accepts."""
    where = relative(path, root)
    problems: list[Problem] = []
    for name, attrs in parsed.get("modules", {}).items():
        line = _declaration_line(text, "module", name)
        if attrs.get("type") != "local":
            continue  # registry or template-spec modules are resolved by the Bicep CLI
        target_name = str((attrs.get("detail") or {}).get("path", ""))
        target = (path.parent / target_name).resolve()
        if not target.is_file():
            problems.append(
                Problem(where, f"module {name!r}: file {target_name!r} does not exist", line)
            )
            continue
        if target in broken:
            problems.append(
                Problem(
                    where,
                    f"Bicep error BCP104: module {name!r}: the referenced module "
                    f"{target_name} has errors, so this file does not compile either",
                    line,
                )
            )
    problems.extend(module_problems(path, text, root))
    return problems


def module_problems(path: Path, text: str, root: Path) -> list[Problem]:
    """The compiler's rules on the file's module calls (bicep_modules: params and outputs)."""
    from .bicep_modules import module_diagnostics

    def load(module_path: str) -> str | None:
        target = path.parent / module_path
        try:
            return target.read_text(encoding="utf-8") if target.is_file() else None
        except (OSError, UnicodeDecodeError):
            return None  # reported by the module's own checks

    return compiler_problems(path, root, text, module_diagnostics(text, load))


def check_outputs(path: Path, parsed: dict[str, Any], root: Path) -> list[Problem]:
    declared = parsed.get("outputs", {})
    return [
        Problem(
            relative(path, root),
            f"output {name!r} is missing: the project's tooling reads it after deployment",
        )
        for name in REQUIRED_OUTPUTS
        if name not in declared
    ]


def check_bicep(infra: Path, root: Path, notes: list[str] | None = None) -> list[Problem]:
    """Syntax, types and consistency of the Bicep under ``infra`` (no checkov).

    What the type check could not check (a resource type or API version whose definitions
    are not bundled) is appended to ``notes``.
    """
    main_path = infra / MAIN
    if not main_path.is_file():
        return [Problem(relative(main_path, root), "file is missing")]
    problems: list[Problem] = []
    parsed_files: dict[Path, Any] = {}
    broken: set[Path] = set()
    for path in bicep_files(infra):
        lexical = lexical_problems(path, root)
        problems.extend(lexical)
        if not lexical:
            problems.extend(semantic_problems(path, root))
        parsed, errors = parse_bicep(path, root)
        problems.extend(errors)
        if lexical or errors:
            broken.add(path.resolve())
        else:
            typed, unchecked = type_check(path, root)
            problems.extend(typed)
            if notes is not None:
                notes.extend(unchecked)
        if parsed is not None:
            parsed_files[path.resolve()] = parsed

    for path, parsed in parsed_files.items():
        text = path.read_text(encoding="utf-8")
        problems.extend(check_modules(path, parsed, text, root, frozenset(broken)))

    main = parsed_files.get(main_path.resolve())
    if main is None:
        return problems
    problems.extend(check_outputs(main_path, main, root))
    declared = main.get("parameters", {})
    required = required_params(main, main_path.read_text(encoding="utf-8"))
    params_files = sorted(infra.glob(PARAMS_GLOB))
    if not params_files:
        problems.append(Problem(relative(infra, root), f"no {PARAMS_GLOB} file"))
    for params_file in params_files:
        problems.extend(check_params_file(params_file, declared, required, root))
    return problems


def run_checkov(infra: Path, root: Path, checkov: str) -> list[Problem]:
    """checkov's Bicep scan; every failed check becomes a problem."""
    command = [checkov, "--directory", str(infra), "--framework", "bicep", "--skip-download"]
    result = subprocess.run(
        [*command, "--output", "json", "--quiet", "--compact"],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    try:
        report = json.loads(result.stdout) if result.stdout.strip() else {}
    except json.JSONDecodeError:
        report = None
    if report is None or result.returncode not in (0, 1):
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        return [Problem(relative(infra, root), f"checkov did not run: {detail[0]}")]
    reports = report if isinstance(report, list) else [report]
    problems = []
    for item in reports:
        for failed in item.get("results", {}).get("failed_checks", []):
            file_path = (infra / str(failed.get("file_path", "")).lstrip("/")).resolve()
            lines = failed.get("file_line_range") or [None]
            problems.append(
                Problem(
                    relative(file_path, root),
                    f"checkov {failed.get('check_id')}: {failed.get('check_name')} "
                    f"({failed.get('resource')}); fix it or skip it inline with "
                    f"// checkov:skip=<ID>:<reason>",
                    lines[0],
                )
            )
    return problems


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkov",
        metavar="PATH",
        help="checkov executable to use (default: `checkov` on PATH or beside this Python)",
    )
    parser.add_argument(
        "--skip-checkov", action="store_true", help="only parse and cross-check the Bicep"
    )


def _report(problems: list[Problem]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    root = project_root()
    infra = layout(root).infra
    if not infra.is_dir():
        raise ProjectError(f"{infra} does not exist")
    notes: list[str] = []
    problems = check_bicep(infra, root, notes)
    if (root / ".github" / "workflows").is_dir() and not problems:
        problems += check_permissions(root)
    for note in notes:
        print(f"note: {note}")
    _report(problems)
    if problems:
        print(f"check-infra: {len(problems)} problem(s); checkov not run", file=sys.stderr)
        return 1
    print(
        f"check-infra: {len(bicep_files(infra))} Bicep files pass the compiler's lexical rules, "
        "parse, type-check against Azure's resource types, are consistent and grant each "
        "identity the roles it uses"
    )

    checkov = args.checkov or find_tool("checkov")
    if args.skip_checkov:
        print("checkov: skipped (--skip-checkov)")
    elif checkov is None:
        print(f"checkov: SKIPPED, no `checkov` executable found; {CHECKOV_HINT}")
    else:
        problems = run_checkov(infra, root, checkov)
        _report(problems)
        if problems:
            print(f"check-infra: checkov found {len(problems)} problem(s)", file=sys.stderr)
            return 1
        print("checkov: 0 failed checks")
    return 0
