"""Regenerate amlctl's table of the Bicep compiler's built-in function overloads.

The compiler (github.com/Azure/bicep, MIT) declares each function's overloads in
`src/Bicep.Core/Semantics/Namespaces/SystemNamespaceType.cs` and `AzNamespaceType.cs`
(`new FunctionOverloadBuilder("name")...WithRequiredParameter(...)...Build()`). This reads
them from a clone at a pinned commit (`git show`; a bare mirror works) and writes, per
function, each overload's least and most argument count (None: no limit) and its parameter
types where they are a plain type (`LanguageConstants.String`...), to
`amlctl/src/amlctl/checks/bicep_functions.py`; the same for decorators (`DecoratorBuilder`):

    .venv/bin/python scripts/update_bicep_functions.py /tmp/bicep

Functions whose overloads depend on the file's target scope (resourceGroup, subscription,
managementGroup, tenant) or that only `.bicepparam` files may call are left out.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

COMMIT = "9beb0fee60"  # Azure/bicep main, 2026-12 (the same as bench_bicep_samples.py)
SOURCES = (
    "src/Bicep.Core/Semantics/Namespaces/SystemNamespaceType.cs",
    "src/Bicep.Core/Semantics/Namespaces/AzNamespaceType.cs",
)
CONSTANT_NAMES = {
    "LanguageConstants.AnyFunction": "any",
    "LanguageConstants.NameofFunctionName": "nameof",
    "ResourceIdFunctionName": "resourceId",
}
LEFT_OUT = {
    "resourceGroup", "subscription", "managementGroup", "tenant",  # per target scope
    "getSecret", "readEnvVar", "readCliArg", "externalInput", "readEnvironmentVariable",
}  # fmt: skip
PLAIN_TYPES = {
    "LanguageConstants.String": "string",
    "LanguageConstants.Int": "int",
    "LanguageConstants.Bool": "bool",
    "LanguageConstants.Array": "array",
    "LanguageConstants.Object": "object",
}
LANGUAGE_CONSTANTS = "src/Bicep.Core/LanguageConstants.cs"
TARGET = Path(__file__).resolve().parents[1] / "amlctl/src/amlctl/checks/bicep_functions.py"
PARAMETER = re.compile(r"\.With(Required|Optional|Variable)Parameter\(\s*\"\w+\",\s*([\w.]+)")


def overloads(text: str) -> dict[str, list[tuple[int, int | None, tuple[str | None, ...]]]]:
    found: dict[str, list[tuple[int, int | None, tuple[str | None, ...]]]] = {}
    for match in re.finditer(r"new FunctionOverloadBuilder\(([^)]*)\)(.*?)\.Build\(\)", text, re.S):
        raw, body = match.group(1).strip(), match.group(2)
        name = raw.strip('"') if raw.startswith('"') else CONSTANT_NAMES.get(raw)
        if name is None or name in LEFT_OUT or "new FunctionOverloadBuilder" in body:
            continue
        required = optional = 0
        least_variable: int | None = None
        types: list[str | None] = []
        for kind, type_name in PARAMETER.findall(body):
            types.append(PLAIN_TYPES.get(type_name))
            if kind == "Required":
                required += 1
            elif kind == "Optional":
                optional += 1
        variables = re.findall(r"\.WithVariableParameter\([^;]*?minimumCount:\s*(\d+)", body)
        if body.count(".WithVariableParameter(") != len(variables):
            continue  # a variable parameter this reader does not understand
        if variables:
            least_variable = sum(int(count) for count in variables)
        least = required + (least_variable or 0)
        most = None if variables else required + optional
        found.setdefault(name, []).append((least, most, tuple(types)))
    return found


DECORATOR_NAMES = {
    "LanguageConstants.MetadataDescriptionPropertyName": "description",
    "LanguageConstants.ParameterSecurePropertyName": "secure",
    "LanguageConstants.ParameterAllowedPropertyName": "allowed",
    "LanguageConstants.ParameterMinValuePropertyName": "minValue",
    "LanguageConstants.ParameterMaxValuePropertyName": "maxValue",
    "LanguageConstants.ParameterMinLengthPropertyName": "minLength",
    "LanguageConstants.ParameterMaxLengthPropertyName": "maxLength",
    "LanguageConstants.ParameterMetadataPropertyName": "metadata",
    "LanguageConstants.BatchSizePropertyName": "batchSize",
    "LanguageConstants.ParameterSealedPropertyName": "sealed",
    "LanguageConstants.TypeDiscriminatorDecoratorName": "discriminator",
    "LanguageConstants.ExportPropertyName": "export",
}
DECORATOR_PARAMETER = re.compile(
    r"\.WithParameter\(\s*\"\w+\",\s*([\w.]+),[^;]*?(FunctionParameterFlags\.\w+)"
)


def decorators(text: str) -> dict[str, list[tuple[int, int | None, tuple[str | None, ...]]]]:
    """Decorators are functions too (DecoratorBuilder ... WithParameter(..., flags))."""
    found: dict[str, list[tuple[int, int | None, tuple[str | None, ...]]]] = {}
    for match in re.finditer(r"new DecoratorBuilder\(([^)]*)\)(.*?)\.Build\(\)", text, re.S):
        name = DECORATOR_NAMES.get(match.group(1).strip())
        body = match.group(2)
        if name is None or "new DecoratorBuilder" in body or "WithVariableParameter" in body:
            continue
        parameters = DECORATOR_PARAMETER.findall(body)
        if body.count(".WithParameter(") != len(parameters):
            continue
        required = sum(1 for _, flags in parameters if flags.endswith("Required"))
        types = tuple(PLAIN_TYPES.get(type_name) for type_name, _ in parameters)
        found.setdefault(name, []).append((required, len(parameters), types))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bicep", type=Path, help="a clone of github.com/Azure/bicep")
    parser.add_argument("--commit", default=COMMIT)
    args = parser.parse_args(argv)
    constants = subprocess.run(
        ["git", "-C", str(args.bicep), "show", f"{args.commit}:{LANGUAGE_CONSTANTS}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    encodings = re.search(r"SupportedEncodings = new[^{]*\{(.*?)\}", constants, re.S)
    if encodings:  # a union of string literals, printed in the compiler's (ordinal) order
        names = sorted(f"'{name}'" for name in re.findall(r'\["([^"]+)"\]', encodings.group(1)))
        PLAIN_TYPES["LanguageConstants.LoadTextContentEncodings"] = " | ".join(names)
    table: dict[str, list[tuple[int, int | None, tuple[str | None, ...]]]] = {}
    decorator_table: dict[str, list[tuple[int, int | None, tuple[str | None, ...]]]] = {}
    for source in SOURCES:
        text = subprocess.run(
            ["git", "-C", str(args.bicep), "show", f"{args.commit}:{source}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for name, found in overloads(text).items():
            table.setdefault(name, []).extend(found)
        for name, found in decorators(text).items():
            decorator_table.setdefault(name, []).extend(found)
    lines = [
        '"""The Bicep compiler\'s built-in function overloads (generated: do not edit).',
        "",
        f"From Azure/bicep {args.commit} SystemNamespaceType.cs and AzNamespaceType.cs by",
        "scripts/update_bicep_functions.py: per function, each overload's (least argument count,",
        "most or None for no limit, parameter types where plain: string, int, bool, array,",
        "object, a union of string literals; None for any other type; a variable parameter's",
        "type last).",
        '"""',
        "",
        "OVERLOADS: dict[str, tuple[tuple[int, int | None, tuple[str | None, ...]], ...]] = {",
    ]
    for name in sorted(table):
        items = ", ".join(repr(item) for item in table[name])
        lines.append(f"    {name!r}: ({items},),")
    lines.append("}")
    lines.append(
        "DECORATORS: dict[str, tuple[tuple[int, int | None, tuple[str | None, ...]], ...]] = {"
    )
    for name in sorted(decorator_table):
        items = ", ".join(repr(item) for item in decorator_table[name])
        lines.append(f"    {name!r}: ({items},),")
    lines.append("}")
    TARGET.write_text("\n".join(lines) + "\n")
    print(f"{TARGET}: {len(table)} functions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
