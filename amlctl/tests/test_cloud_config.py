"""Settings: config/<env>.yml with environment variable overrides, checked before any call."""

from __future__ import annotations

import pytest
from fakes.project import SUBSCRIPTION, make_project
from fakes.template import template_project

from amlctl.cloud.config import load_settings, registry_setting
from amlctl.project import ProjectError

TEMPLATE_CONFIG = template_project() / "config"


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project")


def test_reads_config_file(project):
    settings = load_settings("dev", project, environ={})

    assert settings.subscription_id == SUBSCRIPTION
    assert settings.resource_group == "rg-fixture-dev"
    assert settings.workspace_name == "mlw-fixture-dev"
    assert settings.location == "westeurope"
    assert settings.sources["workspace_name"] == "config/dev.yml (workspace_name)"


def test_environment_variables_override_the_file(project):
    environ = {
        "AZURE_SUBSCRIPTION_ID": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "AZURE_RESOURCE_GROUP": "rg-other",
        "AZUREML_WORKSPACE_NAME": "mlw-other",
        "AZURE_LOCATION": "eastus2",
    }
    settings = load_settings("dev", project, environ=environ)

    assert (settings.subscription_id, settings.resource_group) == (
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "rg-other",
    )
    assert (settings.workspace_name, settings.location) == ("mlw-other", "eastus2")
    assert settings.sources["resource_group"] == "environment variable AZURE_RESOURCE_GROUP"


def test_shipped_placeholder_subscription_is_refused_naming_where_to_fix(project):
    (project / "config" / "dev.yml").write_text(
        (TEMPLATE_CONFIG / "dev.yml").read_text(encoding="utf-8"), encoding="utf-8"
    )

    with pytest.raises(ProjectError) as error:
        load_settings("dev", project, environ={})

    message = str(error.value)
    assert "subscription_id" in message
    assert "placeholder" in message
    assert "config/dev.yml" in message
    assert "AZURE_SUBSCRIPTION_ID" in message


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("AZURE_SUBSCRIPTION_ID", "not-a-guid", "not a subscription id"),
        ("AZUREML_WORKSPACE_NAME", "a b", "not a valid workspace name"),
        ("AZURE_RESOURCE_GROUP", "rg/with/slash", "not a valid resource group name"),
        ("AZURE_LOCATION", "West Europe", "not an Azure region name"),
        ("AZUREML_REGISTRY_NAME", "my registry", "not an Azure ML registry name"),
    ],
)
def test_malformed_values_name_setting_and_source(project, variable, value, words):
    with pytest.raises(ProjectError) as error:
        load_settings("dev", project, environ={variable: value})

    assert words in str(error.value)
    assert f"environment variable {variable}" in str(error.value)


def test_the_registry_is_optional_and_overridable(project):
    assert load_settings("dev", project, environ={}).registry == ""  # dev registers its own

    with (project / "config" / "dev.yml").open("a") as config:
        config.write("registry: mlr-fixture\n")
    settings = load_settings("dev", project, environ={})
    assert settings.registry == "mlr-fixture"
    assert settings.sources["registry"] == "config/dev.yml (registry)"
    assert registry_setting("dev", project, environ={}) == (
        "mlr-fixture",
        "config/dev.yml (registry)",
    )
    overridden = {"AZUREML_REGISTRY_NAME": "mlr-other"}
    assert registry_setting("dev", project, environ=overridden) == (
        "mlr-other",
        "environment variable AZUREML_REGISTRY_NAME",
    )


def test_the_registry_alone_is_read_without_the_other_settings(project):
    # promote reads prod's registry from a dev job: prod's other settings are not its business
    (project / "config" / "prod.yml").write_text("registry: mlr-fixture\n")

    assert registry_setting("prod", project, environ={})[0] == "mlr-fixture"
    with pytest.raises(ProjectError, match=r"subscription_id = '' from config/prod\.yml"):
        load_settings("prod", project, environ={})
    (project / "config" / "prod.yml").write_text("registry: bad name!\n")
    with pytest.raises(ProjectError, match=r"registry = 'bad name!' from config/prod\.yml"):
        registry_setting("prod", project, environ={})


def test_missing_value_and_unknown_env(project):
    (project / "config" / "dev.yml").write_text(f"subscription_id: {SUBSCRIPTION}\n")
    with pytest.raises(ProjectError, match=r"resource_group = '' from config/dev\.yml"):
        load_settings("dev", project, environ={})

    with pytest.raises(
        ProjectError, match=r"unknown environment 'staging'.*environments with a config file: dev"
    ):
        load_settings("staging", project, environ={})


def test_shipped_config_files_are_complete():
    import yaml

    for path in sorted(TEMPLATE_CONFIG.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        # prod, and only prod, reads from the registry dev promotes into (the default bake has
        # dev and prod, so model_registry auto means yes)
        registry = {"registry"} if path.stem == "prod" else set()
        assert set(data) == {
            "subscription_id",
            "resource_group",
            "workspace_name",
            "location",
            "batch_endpoint",
            # the default bake has real-time serving (deploy --env reads these)
            "online_endpoint",
            "online_instance_type",
            "online_instance_count",
            *registry,
        }
        for setting in ("resource_group", "workspace_name", "batch_endpoint", "online_endpoint"):
            assert data[setting].endswith(path.stem), setting
        from amlctl.cloud.deploy import online_settings

        online = online_settings(path.stem, TEMPLATE_CONFIG.parent, environ={})
        assert online.endpoint == data["online_endpoint"]
        assert online.instance_count == data["online_instance_count"] >= 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"workspace_name: caf\xe9\n", "config/dev.yml is not UTF-8 text (byte 0xe9 at offset 19)"),
        (b"a:\n" + b"".join(b"  " * i + b"- \n" for i in range(1, 3000)), "nests too deeply"),
        (b"[1, 2]\n", "config/dev.yml must be a mapping of settings (name: value)"),
        (b"key: [unclosed\n", "config/dev.yml is not valid YAML: "),
    ],
    ids=["latin-1", "deeply nested", "a list", "broken YAML"],
)
def test_an_unreadable_config_file_is_one_line(project, content, message):
    (project / "config" / "dev.yml").write_bytes(content)
    with pytest.raises(ProjectError) as raised:
        load_settings("dev", project, environ={})
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_misspelt_setting_is_an_error_with_a_suggestion(project):
    config = project / "config" / "dev.yml"
    config.write_text(config.read_text() + "subscripton_id: x\n")
    with pytest.raises(ProjectError) as raised:
        load_settings("dev", project, environ={})
    assert str(raised.value) == (
        "config/dev.yml: unknown setting 'subscripton_id' (did you mean subscription_id?)"
    )


def test_the_templates_settings_are_all_known():
    """Every key the template writes (online settings included) is one amlctl reads."""
    import yaml

    from amlctl.cloud.config import KNOWN

    for file in TEMPLATE_CONFIG.glob("*.yml"):
        assert set(yaml.safe_load(file.read_text())) <= set(KNOWN), file
