"""The bundled Azure resource types cover the template's Bicep, and the script that
regenerates them prunes what it reads from an Azure/bicep-types-az checkout."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import update_bicep_types as script  # noqa: E402


def bundled() -> dict:
    path = script.package_data_dir() / "azure_resource_types.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_resource_type_and_api_version_of_the_template_is_bundled():
    data = bundled()["resources"]
    used = script.used_types(ROOT)
    assert "Microsoft.MachineLearningServices/workspaces" in used
    missing = sorted(
        f"{name}@{version}"
        for name, versions in used.items()
        for version in versions
        if version not in data.get(name, {}).get("bodies", {})
    )
    assert missing == [], "run: python scripts/update_bicep_types.py <bicep-types-az checkout>"


def test_the_licence_and_source_travel_with_the_data():
    data = bundled()
    assert data["source"] == script.SOURCE_URL
    licence = script.package_data_dir() / "LICENSE-bicep-types-az"
    assert "MIT License" in licence.read_text(encoding="utf-8")


def fake_checkout(root: Path) -> Path:
    """Two API versions of one resource type, in the layout of bicep-types-az."""
    types = [
        {"$type": "StringType"},
        {"$type": "StringLiteralType", "value": "Microsoft.Storage/storageAccounts"},
        {"$type": "StringLiteralType", "value": "2023-05-01"},
        {
            "$type": "ObjectType",
            "name": "Microsoft.Storage/storageAccounts",
            "properties": {
                "name": {"type": {"$ref": "#/0"}, "flags": 9, "description": "dropped"},
                "kind": {"type": {"$ref": "#/5"}, "flags": 1, "description": "dropped"},
                "id": {"type": {"$ref": "#/0"}, "flags": 10},
            },
        },
        {
            "$type": "ResourceType",
            "name": "Microsoft.Storage/storageAccounts@2023-05-01",
            "body": {"$ref": "#/3"},
            "flags": 0,
        },
        {"$type": "UnionType", "elements": [{"$ref": "#/6"}, {"$ref": "#/0"}]},
        {"$type": "StringLiteralType", "value": "StorageV2"},
        {"$type": "ObjectType", "name": "Unreachable", "properties": {}},
    ]
    for version in ("2022-09-01", "2023-05-01"):
        folder = root / "generated" / "storage" / "microsoft.storage" / version
        folder.mkdir(parents=True)
        body = json.dumps(types).replace("2023-05-01", version)
        (folder / "types.json").write_text(body, encoding="utf-8")
    (root / "LICENSE").write_text("MIT License\n", encoding="utf-8")
    return root


def test_build_prunes_to_what_the_check_reads(tmp_path, monkeypatch):
    source = fake_checkout(tmp_path / "bicep-types-az")
    monkeypatch.setattr(
        script, "used_types", lambda template: {"Microsoft.Storage/storageAccounts": {"2023-05-01"}}
    )
    resources, problems = script.build(source)
    assert problems == []
    entry = resources["Microsoft.Storage/storageAccounts"]
    assert entry["versions"] == ["2022-09-01", "2023-05-01"]
    body = entry["bodies"]["2023-05-01"]
    assert body["writable"] is True
    root = body["types"][0]
    assert root["properties"]["kind"] == {"type": 2, "flags": 1}  # renumbered, no description
    kinds = [node["$type"] for node in body["types"]]
    assert kinds == ["ObjectType", "StringType", "UnionType", "StringLiteralType"]
    assert "Unreachable" not in json.dumps(body)


def test_build_names_an_api_version_upstream_lacks(tmp_path, monkeypatch):
    source = fake_checkout(tmp_path / "bicep-types-az")
    monkeypatch.setattr(
        script, "used_types", lambda template: {"Microsoft.Storage/storageAccounts": {"2030-01-01"}}
    )
    _, problems = script.build(source)
    assert problems == [
        "Microsoft.Storage/storageAccounts@2030-01-01: not in https://github.com/Azure/bicep-types-az"
    ]
