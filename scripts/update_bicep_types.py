"""Regenerate the pruned Azure resource type definitions that `check-infra` checks Bicep with.

The Bicep compiler checks every resource body against Azure's published resource types,
generated in the public repository Azure/bicep-types-az (MIT licence). No Bicep compiler
installs offline, so the project's tooling carries a pruned copy of those definitions: for
each resource type the template's Bicep declares, every API version that exists, and the
full type of the body for the API versions the template uses. Run this after changing a
resource type or API version in the template's Bicep:

    git clone --depth 1 https://github.com/Azure/bicep-types-az /tmp/bicep-types-az
    python scripts/update_bicep_types.py /tmp/bicep-types-az

It writes `amlctl/src/amlctl/checks/data/azure_resource_types.json`, and the upstream
licence beside it. Descriptions are dropped; everything
the check reads (properties, their types and flags, enum values, discriminators) is kept.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from upstream import source_commit  # scripts/upstream.py

TEMPLATE = Path(__file__).resolve().parent.parent
SOURCE_URL = "https://github.com/Azure/bicep-types-az"
# Any provider namespace (Microsoft.Network, GitHub.Network, ...), as the compiler takes it.
RESOURCE = re.compile(
    r"'([A-Za-z][A-Za-z0-9]*\.[A-Za-z][A-Za-z0-9]*/[A-Za-z/]+)@(\d{4}-\d{2}-\d{2}(?:-[a-z]+)?)'"
)
KEEP = {
    "ObjectType": ("name", "properties", "additionalProperties", "sensitive"),
    "DiscriminatedObjectType": ("name", "discriminator", "baseProperties", "elements"),
    "ArrayType": ("itemType", "minLength", "maxLength"),
    "UnionType": ("elements",),
    "StringLiteralType": ("value",),
    "StringType": ("minLength", "maxLength", "pattern", "sensitive"),
    "IntegerType": ("minValue", "maxValue"),
    "BooleanType": (),
    "AnyType": (),
    "NullType": (),
}
JINJA = ("{{", "{%", "{#", "%}", "#}")  # the file is copied through the template engine


def package_data_dir() -> Path:
    return TEMPLATE / "amlctl" / "src" / "amlctl" / "checks" / "data"


def used_types(template: Path) -> dict[str, set[str]]:
    """Resource type -> API versions the template's Bicep declares."""
    used: dict[str, set[str]] = {}
    for path in (template / "{{cookiecutter.project_slug}}" / "infra").glob("**/*.bicep"):
        for match in RESOURCE.finditer(path.read_text(encoding="utf-8")):
            used.setdefault(match.group(1), set()).add(match.group(2))
    return used


def _ref(value: object) -> int:
    assert isinstance(value, dict) and str(value["$ref"]).startswith("#/"), value
    return int(str(value["$ref"])[2:])


def prune(types: list[dict], root: int) -> dict:
    """The type graph reachable from ``root``, renumbered, without descriptions."""
    order: dict[int, int] = {}
    queue = [root]
    while queue:
        index = queue.pop(0)
        if index in order:
            continue
        order[index] = len(order)
        node = types[index]
        kind = node["$type"]
        if kind == "ObjectType":
            queue += [_ref(p["type"]) for p in (node.get("properties") or {}).values()]
            if node.get("additionalProperties"):
                queue.append(_ref(node["additionalProperties"]))
        elif kind == "DiscriminatedObjectType":
            queue += [_ref(p["type"]) for p in (node.get("baseProperties") or {}).values()]
            queue += [_ref(ref) for ref in node["elements"].values()]
        elif kind == "ArrayType":
            queue.append(_ref(node["itemType"]))
        elif kind == "UnionType":
            queue += [_ref(ref) for ref in node["elements"]]
    pruned = []
    for index in sorted(order, key=order.get):
        node = types[index]
        kind = node["$type"]
        out: dict = {"$type": kind}
        for key in KEEP.get(kind, ()):
            if key not in node or node[key] is None:
                continue
            value = node[key]
            if key in ("properties", "baseProperties"):
                value = {
                    name: {"type": order[_ref(p["type"])], "flags": p.get("flags", 0)}
                    for name, p in value.items()
                }
            elif key in ("additionalProperties", "itemType"):
                value = order[_ref(value)]
            elif key == "elements" and kind == "UnionType":
                value = [order[_ref(ref)] for ref in value]
            elif key == "elements":
                value = {name: order[_ref(ref)] for name, ref in value.items()}
            out[key] = value
        if kind not in KEEP:
            out["$type"] = "AnyType"  # e.g. a function type: nothing to check
        pruned.append(out)
    return {"types": pruned}


def namespace_files(generated: Path, namespace: str) -> dict[str, list[Path]]:
    """API version -> types.json files of a provider namespace (it may span folders)."""
    versions: dict[str, list[Path]] = {}
    for path in generated.glob(f"*/{namespace.lower()}/*/types.json"):
        versions.setdefault(path.parent.name, []).append(path)
    return versions


def build(source: Path) -> tuple[dict, list[str]]:
    generated = source / "generated"
    if not generated.is_dir():
        raise SystemExit(f"{source} is not a checkout of {SOURCE_URL} (no generated/ folder)")
    used = used_types(TEMPLATE)
    resources: dict[str, dict] = {}
    problems: list[str] = []
    cache: dict[Path, list[dict]] = {}  # parsed types.json files of one type
    for namespace in sorted({name.split("/")[0] for name in used}):
        files = namespace_files(generated, namespace)
        for type_name in sorted(name for name in used if name.split("/")[0] == namespace):
            entry: dict = {"versions": [], "bodies": {}}
            for version in sorted(files):
                wanted = f"{type_name}@{version}".lower()
                for path in files[version]:
                    text = path.read_text(encoding="utf-8")
                    if f'"{wanted}"' not in text.lower():
                        continue
                    entry["versions"].append(version)
                    if version in used[type_name]:
                        types = cache.setdefault(path, json.loads(text))
                        for node in types:
                            if node["$type"] == "ResourceType" and node["name"].lower() == wanted:
                                body = prune(types, _ref(node["body"]))
                                body["writable"] = _writable(node)
                                entry["bodies"][version] = body
                    break
            for version in sorted(used[type_name] - set(entry["bodies"])):
                problems.append(f"{type_name}@{version}: not in {SOURCE_URL}")
            resources[type_name] = entry
            cache.clear()
    return resources, problems


def _writable(node: dict) -> bool:
    if "writableScopes" in node:
        return bool(node["writableScopes"])
    return not (node.get("flags", 0) & 1)  # ResourceFlags.ReadOnly


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help=f"a checkout of {SOURCE_URL}")
    parser.add_argument("--commit", help="the checkout's commit, when it is not a git clone")
    args = parser.parse_args(argv)
    resources, problems = build(args.source)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    data = {
        "source": SOURCE_URL,
        "commit": args.commit or source_commit(args.source),
        "licence": "MIT; see LICENSE-bicep-types-az beside this file",
        "resources": resources,
    }
    text = json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n"
    clash = [token for token in JINJA if token in text]
    if clash:
        print(f"the definitions hold {clash}, which Jinja would read", file=sys.stderr)
        return 1
    out = package_data_dir()
    out.mkdir(exist_ok=True)
    (out / "azure_resource_types.json").write_text(text, encoding="utf-8")
    shutil.copy(args.source / "LICENSE", out / "LICENSE-bicep-types-az")
    bodies = sum(len(entry["bodies"]) for entry in resources.values())
    print(f"{len(resources)} resource types, {bodies} bodies, {len(text) // 1024} KiB -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
