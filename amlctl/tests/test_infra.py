"""check-infra on the project's own Bicep, and on broken copies of it that must fail."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest
from fakes.template import template_project

from amlctl.checks import infra as check
from amlctl.checks.infra_outputs import REQUIRED_OUTPUTS
from amlctl.checks.problems import find_tool
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
    assert syntax[0].path == "infra/modules/storage.bicep"
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
    found = " | ".join(messages(check.check_bicep(project / "infra", project)))
    assert "module 'monitoring' passes 'logAnalyticName'" in found
    assert "module 'monitoring' does not pass required parameter 'logAnalyticsName'" in found


def test_reading_an_undeclared_module_output_fails(project: Path):
    main = project / "infra" / "main.bicep"
    main.write_text(
        main.read_text().replace("storage.outputs.storageAccountId", "storage.outputs.accountId")
    )
    found = messages(check.check_bicep(project / "infra", project))
    assert found
    assert all("module 'storage' has no output 'accountId'" in item for item in found)


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


def _checkov() -> str:
    checkov = find_tool("checkov")
    if checkov is None:
        pytest.skip("no checkov executable here; CI runs it via `pre-commit run checkov-bicep`")
    return checkov


def test_checkov_finds_no_failed_check():
    assert messages(check.run_checkov(INFRA, ROOT, _checkov())) == []


def test_checkov_reports_a_failed_check(project: Path):
    checkov = _checkov()
    registry = project / "infra" / "modules" / "registry.bicep"
    text = registry.read_text()
    kept = [line for line in text.splitlines(keepends=True) if "CKV_AZURE_139" not in line]
    assert len(kept) < len(text.splitlines())
    registry.write_text("".join(kept))
    found = messages(check.run_checkov(project / "infra", project, checkov))
    assert len(found) == 1
    assert found[0].startswith("infra/modules/registry.bicep:")
    assert "CKV_AZURE_139" in found[0]
