"""Validate every answer before cookiecutter writes anything.

Each problem is printed on one line naming the field, the value given and the
rule; any problem exits 1, and cookiecutter then removes the output folder.
The answers arrive as JSON (the `tojson` filter into a raw string), never
pasted into Python source, so quotes, backslashes and newlines are data.
This file is importable unrendered: the tests call `validate()` directly.
"""

from __future__ import annotations

import json
import re
import sys

ANSWERS_JSON = r"""{{ cookiecutter | tojson }}"""

# Azure public-cloud regions (`az account list-locations --query "[].name"`), kept here on purpose:
# validation must work offline. Add a region when Azure opens one.
AZURE_REGIONS = frozenset(
    """
    australiacentral australiacentral2 australiaeast australiasoutheast austriaeast belgiumcentral
    brazilsouth brazilsoutheast canadacentral canadaeast centralindia centralus chilecentral
    denmarkeast eastasia eastus eastus2 francecentral francesouth germanynorth germanywestcentral
    indonesiacentral israelcentral italynorth japaneast japanwest jioindiacentral jioindiawest
    koreacentral koreasouth malaysiawest mexicocentral newzealandnorth northcentralus northeurope
    norwayeast norwaywest polandcentral qatarcentral southafricanorth southafricawest
    southcentralus southeastasia southindia spaincentral swedencentral switzerlandnorth
    switzerlandwest uaecentral uaenorth uksouth ukwest westcentralus westeurope westindia westus
    westus2 westus3
    """.split()
)

CHOICES = {
    "environments": ("dev-and-prod", "dev-only"),
    "model_registry": ("auto", "yes", "no"),
    "ml_task": ("classification", "regression"),
    "component_style": ("yaml", "python"),
    "python_version": ("3.13", "3.12", "3.11"),
}
BOOLEANS = (
    "gpu_cluster",
    "hyperparameter_sweep",
    "batch_scoring",
    "schedule",
    "online_endpoint",
    "network_isolation",
    "spark_step",
    "automl",
)

# Azure naming rules: (pattern, human-readable rule). Sources: "Naming rules and restrictions
# for Azure resources" (Microsoft.Storage, KeyVault, ContainerRegistry, MachineLearningServices,
# OperationalInsights, Insights, ManagedIdentity, Resources).
NAME_RULES = {
    "resource group": (r"[-\w.()]{0,89}[-\w()]", "1-90 letters, digits, '-', '_', '.', '()'"),
    "workspace": (r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}", "3-33 letters, digits, '-', '_'"),
    "storage account": (r"[a-z0-9]{3,24}", "3-24 lowercase letters and digits"),
    "key vault": (
        r"(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]",
        "3-24 letters, digits and single hyphens, starting with a letter",
    ),
    "container registry": (r"[a-zA-Z0-9]{5,50}", "5-50 letters and digits"),
    "log analytics workspace": (
        r"[a-zA-Z0-9][a-zA-Z0-9-]{2,61}[a-zA-Z0-9]",
        "4-63 letters, digits and hyphens",
    ),
    "application insights": (r"[^%&\\?/]{1,260}", "1-260 characters, none of %&\\?/"),
    "managed identity": (r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}", "3-128 letters, digits, '-', '_'"),
    "virtual network": (
        r"[a-zA-Z0-9](?:[a-zA-Z0-9._-]{0,62}[a-zA-Z0-9_])?",
        "2-64 letters, digits, '.', '_', '-', starting with a letter or digit",
    ),
    "batch endpoint": (
        r"[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]",
        "3-32 letters, digits and hyphens, starting with a letter",
    ),
    "online endpoint": (
        r"[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]",
        "3-32 letters, digits and hyphens, starting with a letter",
    ),
    "compute cluster": (
        r"[a-zA-Z](?:[a-zA-Z0-9-]{0,14}[a-zA-Z0-9])?",
        "2-16 letters, digits and hyphens, starting with a letter",
    ),
    "machine learning registry": (
        r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}",
        "3-33 letters, digits, '-', '_', starting with a letter or digit",
    ),
}

# Private cookiecutter variable -> kind of Azure resource it names. All are derived from
# resource_prefix; the "prod" names are the longest, so checking them checks the dev ones too.
DERIVED_NAMES = {
    "__rg_dev": "resource group",
    "__rg_prod": "resource group",
    "__workspace_dev": "workspace",
    "__workspace_prod": "workspace",
    "__storage_dev": "storage account",
    "__storage_prod": "storage account",
    "__key_vault_dev": "key vault",
    "__key_vault_prod": "key vault",
    "__registry_dev": "container registry",
    "__registry_prod": "container registry",
    "__log_analytics_dev": "log analytics workspace",
    "__log_analytics_prod": "log analytics workspace",
    "__app_insights_dev": "application insights",
    "__app_insights_prod": "application insights",
    "__compute_identity_dev": "managed identity",
    "__compute_identity_prod": "managed identity",
    "__github_identity_dev": "managed identity",
    "__github_identity_prod": "managed identity",
    "__vnet_dev": "virtual network",
    "__vnet_prod": "virtual network",
    "__cpu_cluster": "compute cluster",
    "__gpu_cluster": "compute cluster",
    "__batch_endpoint_dev": "batch endpoint",
    "__batch_endpoint_prod": "batch endpoint",
    "__online_endpoint_dev": "online endpoint",
    "__online_endpoint_prod": "online endpoint",
    "__ml_registry": "machine learning registry",
}

# How cookiecutter.json derives each private name from resource_prefix (test_hooks checks that
# the two agree). The hook compares, because cookiecutter lets extra context override them.
DERIVED_FORMS = {
    **{
        f"__{name}_{env}": form.replace("{env}", env)
        for env in ("dev", "prod")
        for name, form in {
            "rg": "rg-{p}-{env}",
            "workspace": "mlw-{p}-{env}",
            "storage": "st{p}{env}",
            "key_vault": "kv-{p}-{env}",
            "registry": "cr{p}{env}",
            "log_analytics": "log-{p}-{env}",
            "app_insights": "appi-{p}-{env}",
            "compute_identity": "id-{p}-{env}-compute",
            "github_identity": "id-{p}-{env}-github",
            "vnet": "vnet-{p}-{env}",
            "batch_endpoint": "{p}-training-{env}",
            "online_endpoint": "{p}-online-{env}",
        }.items()
    },
    "__cpu_cluster": "{p}-cpu",
    "__gpu_cluster": "{p}-gpu",
    "__ml_registry": "mlr-{p}",
}
# The longest resource_prefix every derived name accepts: "<prefix>-cpu" is a compute
# cluster name, at most 16 characters.
PREFIX_LIMIT = 12

CRON_FIELDS = (  # name, lowest, highest, names allowed in place of numbers
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, tuple("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())),
    ("day of week", 0, 6, tuple("SUN MON TUE WED THU FRI SAT".split())),
)


def _fullmatch(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def _single_line(value: str) -> bool:
    return not any(ch in value for ch in "\r\n\t\x00") and value == value.strip()


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a valid 5-field cron expression, or None."""
    fields = expression.split()
    if len(fields) != 5:
        return f"needs 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
    for text, (name, low, high, names) in zip(fields, CRON_FIELDS, strict=True):
        for part in text.split(","):
            base, _, step = part.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                return f"{name} field {text!r}: step {step!r} is not a positive number"
            if base == "*":
                continue
            for bound in base.split("-", 1):
                upper = bound.upper()
                number = names.index(upper) + low if upper in names else None
                if number is None and bound.isdigit():
                    number = int(bound)
                if number is None or not low <= number <= high:
                    return f"{name} field {text!r}: {bound!r} is not in {low}-{high}"
            if "-" in base:
                first, last = base.split("-", 1)
                as_number = {n: i + low for i, n in enumerate(names)}
                a = as_number.get(first.upper(), int(first) if first.isdigit() else 0)
                b = as_number.get(last.upper(), int(last) if last.isdigit() else 0)
                if a > b:
                    return f"{name} field {text!r}: range runs backwards"
    return None


def _as_int(value: object) -> int | None:
    text = str(value).strip()
    return int(text) if re.fullmatch(r"\d{1,6}", text) else None


def region_suggestion(given: str) -> str | None:
    """The region a display name or near miss means: `East US 2` -> eastus2, `westeu` -> ..."""
    import difflib

    compact = re.sub(r"[\s_-]+", "", given.strip().lower())
    if compact in AZURE_REGIONS:
        return compact
    close = difflib.get_close_matches(compact, sorted(AZURE_REGIONS), n=1, cutoff=0.75)
    return close[0] if close else None


def model_registry(answers: dict) -> str:
    """Whether the project promotes through an Azure ML registry ('yes'/'no'), as
    cookiecutter.json derives `__model_registry`: auto means yes with dev and prod."""
    wanted = answers.get("model_registry")
    two_environments = answers.get("environments") == "dev-and-prod"
    return "yes" if wanted == "yes" or (wanted == "auto" and two_environments) else "no"


def validate(answers: dict) -> list[str]:
    """Every problem with the answers, one message per problem (empty when all is well)."""
    problems: list[str] = []

    def bad(field: str, rule: str) -> None:
        problems.append(f"{field}={answers.get(field)!r}: {rule}")

    text_fields = ("project_name", "project_slug", "description", "author_name")
    for field in text_fields:
        value = answers.get(field)
        if not isinstance(value, str) or not value.strip():
            bad(field, "must not be empty")
        elif not _single_line(value):
            bad(field, "must be one line without tabs or leading/trailing spaces")
    if len(str(answers.get("project_name", ""))) > 100:
        bad("project_name", "must be at most 100 characters")
    if len(str(answers.get("description", ""))) > 2000:
        bad("description", "must be at most 2000 characters")

    slug = str(answers.get("project_slug", ""))
    if not _fullmatch(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*", slug) or len(slug) > 64:
        bad("project_slug", "must be 1-64 lowercase letters, digits and single inner hyphens")

    for field in ("author_email", "alert_email"):
        email = str(answers.get(field, ""))
        if email and not _fullmatch(r"[^@\s\"'<>,;]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", email):
            bad(field, "must be empty or an e-mail address like name@example.com")

    if answers.get("azure_location") not in AZURE_REGIONS:
        bad("azure_location", "must be an Azure region name such as westeurope or eastus2")
        suggestion = region_suggestion(str(answers.get("azure_location", "")))
        if suggestion:
            problems[-1] += f" (did you mean {suggestion}?)"

    prefix = str(answers.get("resource_prefix", ""))
    if not (2 <= len(prefix) <= PREFIX_LIMIT and _fullmatch(r"[a-z][a-z0-9]+", prefix)):
        bad(
            "resource_prefix",
            f"must be 2-{PREFIX_LIMIT} lowercase letters and digits, starting with a letter "
            f"(the longest that every derived resource name accepts)",
        )
    else:
        for variable, kind in DERIVED_NAMES.items():
            name = str(answers.get(variable, ""))
            expected = DERIVED_FORMS[variable].format(p=prefix)
            if name != expected:  # cookiecutter lets extra context override private names
                bad(variable, f"is derived from resource_prefix ({expected!r}) and cannot be set")
                continue
            pattern, rule = NAME_RULES[kind]
            if not _fullmatch(pattern, name):
                bad("resource_prefix", f"derived {kind} name {name!r} breaks the rule: {rule}")

    for field, choices in CHOICES.items():
        if answers.get(field) not in choices:
            bad(field, "must be one of " + ", ".join(choices))
    if answers.get("model_registry") == "yes" and answers.get("environments") != "dev-and-prod":
        bad(
            "model_registry",
            "needs environments=dev-and-prod (the registry carries models from dev to prod); "
            "answer auto or no",
        )
    if answers.get("__model_registry") != model_registry(answers):
        bad("__model_registry", "is derived from model_registry and environments; it cannot be set")
    for field in BOOLEANS:
        if not isinstance(answers.get(field), bool):
            bad(field, "must be a boolean (yes/no, true/false)")

    for field in ("cpu_vm_size", "gpu_vm_size"):
        if not _fullmatch(r"Standard_[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*", str(answers.get(field))):
            bad(field, "must be an Azure VM size of the form Standard_<size>, e.g. Standard_DS3_v2")

    counts = {}
    for field, low, high in (
        ("cpu_min_nodes", 0, 1000),
        ("cpu_max_nodes", 1, 1000),
        ("gpu_max_nodes", 1, 1000),
        ("cpu_idle_seconds_before_scaledown", 60, 604800),
    ):
        number = _as_int(answers.get(field))
        if number is None or not low <= number <= high:
            bad(field, f"must be a whole number from {low} to {high}")
        counts[field] = number
    low, high = counts["cpu_min_nodes"], counts["cpu_max_nodes"]
    if low is not None and high is not None and low > high:
        bad("cpu_min_nodes", f"must not exceed cpu_max_nodes ({high})")

    if isinstance(answers.get("schedule_cron"), str):
        reason = cron_problem(answers["schedule_cron"])
    else:
        reason = "must be a text cron expression"
    if reason:
        bad("schedule_cron", f"invalid cron expression: {reason}")

    owner = str(answers.get("github_owner", ""))
    if not _fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}", owner):
        bad("github_owner", "must be a GitHub user or organisation (1-39 letters, digits, hyphens)")
    repo = str(answers.get("github_repo", ""))
    if not _fullmatch(r"[A-Za-z0-9._-]{1,100}", repo) or repo in {".", ".."}:
        bad(
            "github_repo", "must be a GitHub repository name (1-100 letters, digits, '.', '_', '-')"
        )

    # lands in pyproject.toml's amlctl pin; cookiecutter lets extra context override it
    version = answers.get("_template_version")
    if version is not None and not _fullmatch(r"\d+(?:\.\d+){1,3}(?:(?:a|b|rc)\d+)?", str(version)):
        bad("_template_version", "must be a release version such as 1.2.3")

    return problems


def main() -> int:
    problems = validate(json.loads(ANSWERS_JSON))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} invalid answer(s); nothing was generated.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
