"""The command-line entry point: every command is wired, and start-up stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from amlctl import cli


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_module_has_configure_and_main(name):
    module = importlib.import_module(cli.COMMANDS[name][0], "amlctl")
    assert callable(module.configure)
    assert callable(module.main)


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_help_says_what_amlctl_is(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "validate an Azure ML project offline" in out
    assert "thin table" not in out  # the module's docstring is for its readers, not users


def test_version_prints_the_package_version(capsys):
    from amlctl import __version__

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"amlctl {__version__}\n"


CHAIN_FAILURE = (
    "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
    "Attempted credentials:\n"
    "\tEnvironmentCredential: EnvironmentCredential authentication unavailable.\n"
    "\tManagedIdentityCredential: ManagedIdentityCredential authentication unavailable.\n"
    "\tAzureCliCredential: Please run 'az login' to set up an account\n"
    "To mitigate this issue, please refer to the troubleshooting guidelines here at "
    "https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot."
)


@pytest.mark.parametrize("verbose", [False, True])
def test_a_failed_sign_in_is_one_line_and_verbose_shows_the_chain(verbose, capsys, monkeypatch):
    from azure.core.exceptions import ClientAuthenticationError

    from amlctl.cloud.errors import describing

    monkeypatch.setenv(cli.VERBOSE_ENV, "")  # empty is off; restored after cli.main sets it

    def signs_in(args):
        with describing():
            raise ClientAuthenticationError(CHAIN_FAILURE)

    monkeypatch.setattr(
        cli,
        "_load",
        lambda name: type(
            "M",
            (),
            {"main": staticmethod(signs_in), "configure": staticmethod(lambda parser: None)},
        ),
    )
    code = cli.main([*(["--verbose"] if verbose else []), "submit"])
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err[0] == (
        "error: could not sign in to Azure (run `az login`, or azure/login with OIDC in GitHub "
        "Actions): DefaultAzureCredential failed to retrieve a token from the included "
        "credentials." + ("" if verbose else " (amlctl --verbose shows each credential's reason)")
    )
    if verbose:
        assert any("AzureCliCredential: Please run 'az login'" in line for line in err[1:])
    else:
        assert len(err) == 1


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["no-such-command"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["validate", "--help"], ["provision", "--help"]])
def test_help_does_not_import_heavy_sdks(argv):
    code = (
        "import sys\n"
        "from amlctl.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('azure.ai.ml', 'mlflow', 'sklearn', 'azure.mgmt.resource') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr


def test_public_api_resolves_lazily():
    code = (
        "import sys, amlctl\n"
        "heavy = [m for m in ('azure.ai.ml', 'mlflow') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
        "from amlctl import load_pipeline, load_pipeline_job, running_server\n"
        "print('API', load_pipeline.__module__, load_pipeline_job.__module__, "
        "running_server.__module__)\n"
        "try:\n"
        "    amlctl.no_such_name\n"
        "except AttributeError as exc:\n"
        "    print('MISSING', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr
    assert "API amlctl.pipeline.loader amlctl.pipeline.source amlctl.serving.local" in done.stdout
    assert "MISSING module 'amlctl' has no attribute 'no_such_name'" in done.stdout
