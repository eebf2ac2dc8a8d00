"""What this project does in Azure, as which identity: the permission model, in one place.

Three identities act in Azure for the project (people use their own accounts):

- ``ci``: GitHub jobs that declare ``environment: <env>`` log in as the environment's
  identity (infra/bootstrap/github-oidc.bicep, federated credential
  ``github-environment-<env>``); it deploys main.bicep and registers, publishes and submits.
- ``what-if``: pull-request jobs log in as dev's read-only identity (federated credential
  ``github-pull-request``); it reads and runs what-if, never writes.
- ``compute``: jobs on the compute clusters run as the user-assigned compute identity
  (infra/modules/identity.bicep, roles in infra/modules/compute-roles.bicep).

``COMMAND_USES`` lists what each project command does in Azure (control-plane actions and
data actions), ``COMPUTE_USES`` and ``PARALLEL_USES`` what jobs on the clusters do; what
each workflow job does follows from the workflows themselves (``workflow_jobs``): its
identity from the client id its azure/login step uses, its uses from the amlctl commands
it runs. ``ROLES`` holds the built-in role definitions (from Azure's
published built-in roles) the Bicep assigns and the candidates a smaller role could be
chosen from. The project's tests parse the Bicep role assignments and prove that each
identity holds a role covering each of its uses, that each assignment is the least role
that covers what it is there for, and that every assignment sets ``principalType``.
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass

from .workflows import WHAT_IF_CLIENT_ID

# Scopes a role can be assigned at; an assignment on the resource group covers its resources.
RESOURCE_GROUP = "resourceGroup"
SCOPE_OF_TYPE = {
    "Microsoft.Storage/storageAccounts": "storage",
    "Microsoft.ContainerRegistry/registries": "registry",
    "Microsoft.KeyVault/vaults": "keyVault",
    "Microsoft.MachineLearningServices/workspaces": "workspace",
}


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()

    def allows(self, action: str, data: bool = False) -> bool:
        granted, denied = (
            (self.data_actions, self.not_data_actions) if data else (self.actions, self.not_actions)
        )

        def matches(patterns: tuple[str, ...]) -> bool:
            return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)

        return matches(granted) and not matches(denied)


@dataclass(frozen=True)
class Use:
    """One thing an identity does in Azure."""

    action: str
    scope: str  # RESOURCE_GROUP or a value of SCOPE_OF_TYPE
    why: str
    data: bool = False


STORAGE = "Microsoft.Storage/storageAccounts"
BLOBS = f"{STORAGE}/blobServices/containers/blobs"
ML = "Microsoft.MachineLearningServices/workspaces"

_ROLE_LIST = (
    Role("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", ("*",)),
    Role(
        "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "Contributor",
        ("*",),
        (
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
            "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
            "Microsoft.Subscription/cancel/action",
            "Microsoft.Subscription/enable/action",
        ),
    ),
    Role("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", ("*/read",)),
    Role(
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        "User Access Administrator",
        ("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"),
    ),
    Role(
        "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
        "Role Based Access Control Administrator",
        (
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "*/read",
            "Microsoft.Support/*",
        ),
    ),
    Role(
        "f6c7c914-8db3-469d-8ca1-694a8f32e121",
        "AzureML Data Scientist",
        (f"{ML}/*/read", f"{ML}/*/action", f"{ML}/*/delete", f"{ML}/*/write"),
        (
            f"{ML}/delete",
            f"{ML}/write",
            f"{ML}/computes/*/write",
            f"{ML}/computes/*/delete",
            f"{ML}/computes/listKeys/action",
            f"{ML}/listKeys/action",
            "Microsoft.MachineLearningServices/workspaces/hubs/write",
            "Microsoft.MachineLearningServices/workspaces/hubs/delete",
            "Microsoft.MachineLearningServices/workspaces/featurestores/write",
            "Microsoft.MachineLearningServices/workspaces/featurestores/delete",
        ),
    ),
    Role(
        "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        "Storage Blob Data Reader",
        (
            f"{STORAGE}/blobServices/containers/read",
            f"{STORAGE}/blobServices/generateUserDelegationKey/action",
        ),
        data_actions=(f"{BLOBS}/read",),
    ),
    Role(
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "Storage Blob Data Contributor",
        (
            f"{STORAGE}/blobServices/containers/delete",
            f"{STORAGE}/blobServices/containers/read",
            f"{STORAGE}/blobServices/containers/write",
            f"{STORAGE}/blobServices/generateUserDelegationKey/action",
        ),
        data_actions=(
            f"{BLOBS}/delete",
            f"{BLOBS}/read",
            f"{BLOBS}/write",
            f"{BLOBS}/move/action",
            f"{BLOBS}/add/action",
        ),
    ),
    Role(
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        "Storage Blob Data Owner",
        (
            f"{STORAGE}/blobServices/containers/*",
            f"{STORAGE}/blobServices/generateUserDelegationKey/action",
        ),
        data_actions=(f"{BLOBS}/*",),
    ),
    Role(
        "19e7f393-937e-4f77-808e-94535e297925",
        "Storage Queue Data Reader",
        (f"{STORAGE}/queueServices/queues/read",),
        data_actions=(f"{STORAGE}/queueServices/queues/messages/read",),
    ),
    Role(
        "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
        "Storage Queue Data Contributor",
        (
            f"{STORAGE}/queueServices/queues/delete",
            f"{STORAGE}/queueServices/queues/read",
            f"{STORAGE}/queueServices/queues/write",
        ),
        data_actions=(
            f"{STORAGE}/queueServices/queues/messages/delete",
            f"{STORAGE}/queueServices/queues/messages/read",
            f"{STORAGE}/queueServices/queues/messages/write",
            f"{STORAGE}/queueServices/queues/messages/add/action",
            f"{STORAGE}/queueServices/queues/messages/process/action",
        ),
    ),
    Role(
        "76199698-9eea-4c19-bc75-cec21354c6b6",
        "Storage Table Data Reader",
        (f"{STORAGE}/tableServices/tables/read",),
        data_actions=(f"{STORAGE}/tableServices/tables/entities/read",),
    ),
    Role(
        "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
        "Storage Table Data Contributor",
        (
            f"{STORAGE}/tableServices/tables/read",
            f"{STORAGE}/tableServices/tables/write",
            f"{STORAGE}/tableServices/tables/delete",
        ),
        data_actions=(
            f"{STORAGE}/tableServices/tables/entities/read",
            f"{STORAGE}/tableServices/tables/entities/write",
            f"{STORAGE}/tableServices/tables/entities/delete",
            f"{STORAGE}/tableServices/tables/entities/add/action",
            f"{STORAGE}/tableServices/tables/entities/update/action",
        ),
    ),
    Role(
        "69566ab7-960f-475b-8e7c-b3118f30c6bd",
        "Storage File Data Privileged Contributor",
        data_actions=(
            f"{STORAGE}/fileServices/fileshares/files/read",
            f"{STORAGE}/fileServices/fileshares/files/write",
            f"{STORAGE}/fileServices/fileshares/files/delete",
            f"{STORAGE}/fileServices/fileshares/files/modifypermissions/action",
            f"{STORAGE}/fileServices/readFileBackupSemantics/action",
            f"{STORAGE}/fileServices/writeFileBackupSemantics/action",
        ),
    ),
    Role(
        "7f951dda-4ed3-4680-a7ca-43fe172d538d",
        "AcrPull",
        ("Microsoft.ContainerRegistry/registries/pull/read",),
    ),
    Role(
        "8311e382-0749-4cb8-b61a-304f252e45ec",
        "AcrPush",
        (
            "Microsoft.ContainerRegistry/registries/pull/read",
            "Microsoft.ContainerRegistry/registries/push/write",
        ),
    ),
    Role(
        "4633458b-17de-408a-b874-0445c86b69e6",
        "Key Vault Secrets User",
        data_actions=(
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ),
    ),
    Role(
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "Key Vault Secrets Officer",
        (
            "Microsoft.Authorization/*/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.KeyVault/vaults/*/read",
        ),
        data_actions=("Microsoft.KeyVault/vaults/secrets/*",),
    ),
)
ROLES: dict[str, Role] = {role.id: role for role in _ROLE_LIST}

# Operations that wildcard roles grant and narrower ones do not; with the uses and the roles'
# own operations they are what "a smaller role" is measured on.
OTHER_OPERATIONS: tuple[tuple[str, bool], ...] = (
    (f"{BLOBS}/modifyPermissions/action", True),
    (f"{BLOBS}/manageOwnership/action", True),
    (f"{BLOBS}/runAsSuperUser/action", True),
    (f"{BLOBS}/tags/write", True),
    ("Microsoft.KeyVault/vaults/secrets/setSecret/action", True),
    ("Microsoft.KeyVault/vaults/secrets/delete", True),
    ("Microsoft.Authorization/roleDefinitions/write", False),
    ("Microsoft.Authorization/locks/write", False),
    (f"{STORAGE}/listKeys/action", False),
    (f"{ML}/computes/write", False),
    (f"{ML}/write", False),
)

# --- what the project's commands do ---------------------------------------------------------

_DEPLOYMENTS = (
    Use("Microsoft.Resources/subscriptions/resourceGroups/read", RESOURCE_GROUP, "find the group"),
    Use("Microsoft.Resources/deployments/read", RESOURCE_GROUP, "follow the deployment"),
    Use("Microsoft.Resources/deployments/operations/read", RESOURCE_GROUP, "print progress"),
)
_UPLOAD = (
    Use(f"{ML}/datastores/read", "workspace", "find the blob datastore to upload to"),
    Use(
        f"{BLOBS}/write",
        "storage",
        "upload component code and local data (identity-based datastore, shared keys off)",
        data=True,
    ),
    Use(f"{BLOBS}/read", "storage", "check what is uploaded already", data=True),
)

COMMAND_USES: dict[str, tuple[Use, ...]] = {
    # resource writes of every type main.bicep declares are added by `deployment_writes`
    "provision": (
        *_DEPLOYMENTS,
        Use(
            "Microsoft.Resources/subscriptions/resourceGroups/write",
            RESOURCE_GROUP,
            "create or update the resource group",
        ),
        Use("Microsoft.Resources/deployments/write", RESOURCE_GROUP, "run the deployment"),
        Use(
            "Microsoft.Authorization/roleAssignments/write",
            RESOURCE_GROUP,
            "assign the compute identity its roles (compute-roles.bicep)",
        ),
    ),
    # with validationLevel ProviderNoRbac Azure checks read, not write, rights of each
    # resource; the reads are added by `deployment_reads`
    "provision --what-if": (
        *_DEPLOYMENTS,
        Use("Microsoft.Resources/deployments/whatIf/action", RESOURCE_GROUP, "run what-if"),
        Use(
            "Microsoft.Resources/deployments/validate/action",
            RESOURCE_GROUP,
            "validate the template (what-if's first step)",
        ),
    ),
    "register": (
        *_UPLOAD,
        Use(f"{ML}/environments/versions/write", "workspace", "register environments"),
        Use(f"{ML}/data/versions/write", "workspace", "register data assets"),
        Use(f"{ML}/components/versions/write", "workspace", "register components"),
        Use(f"{ML}/components/versions/read", "workspace", "skip what exists already"),
    ),
    "publish": (
        *_UPLOAD,
        Use(f"{ML}/components/versions/write", "workspace", "register the pipeline component"),
        Use(f"{ML}/batchEndpoints/write", "workspace", "create the batch endpoint"),
        Use(f"{ML}/batchEndpoints/deployments/write", "workspace", "deploy the pipeline"),
        Use(f"{ML}/schedules/write", "workspace", "create the schedules"),
    ),
    "submit": (
        *_UPLOAD,
        Use(f"{ML}/jobs/write", "workspace", "submit the pipeline job"),
        Use(f"{ML}/jobs/read", "workspace", "follow it with --wait"),
        Use(f"{ML}/computes/read", "workspace", "resolve the compute"),
    ),
    # blue/green rollout to the managed online endpoint (deploy-online.yml)
    "deploy": (
        *_UPLOAD,  # the scoring code of the deployment
        Use(f"{ML}/environments/versions/read", "workspace", "skip an environment that exists"),
        Use(f"{ML}/environments/versions/write", "workspace", "register the environment"),
        Use(f"{ML}/models/read", "workspace", "find the latest registered model version"),
        Use(f"{ML}/models/versions/read", "workspace", "find the latest registered model version"),
        Use(f"{ML}/onlineEndpoints/read", "workspace", "read the endpoint and its traffic"),
        Use(f"{ML}/onlineEndpoints/write", "workspace", "create it; shift traffic"),
        Use(f"{ML}/onlineEndpoints/deployments/read", "workspace", "find the live deployment"),
        Use(f"{ML}/onlineEndpoints/deployments/write", "workspace", "create the new deployment"),
        Use(f"{ML}/onlineEndpoints/deployments/delete", "workspace", "delete the old one"),
        Use(f"{ML}/onlineEndpoints/listKeys/action", "workspace", "key for the smoke test"),
        Use(f"{ML}/onlineEndpoints/score/action", "workspace", "smoke-test the new deployment"),
        Use(f"{ML}/schedules/read", "workspace", "compare the model monitor"),
        Use(f"{ML}/schedules/write", "workspace", "create or update the model monitor"),
    ),
}

# What the online endpoint's system-assigned identity does (deploy/online/endpoint.yml). Azure
# ML assigns it these rights itself when it creates the endpoint (AcrPull on the workspace's
# registry, Storage Blob Data Reader on its storage), so no Bicep assigns them; they are
# listed so the model says everything the project does in Azure. Data collection writes
# through the workspace's datastore credentials, not this identity.
ENDPOINT_USES: tuple[Use, ...] = (
    Use(
        "Microsoft.ContainerRegistry/registries/pull/read",
        "registry",
        "pull the deployment's environment image",
    ),
    Use(f"{BLOBS}/read", "storage", "read the model and the scoring code", data=True),
)
# The roles Azure ML gives the endpoint's system-assigned identity, by scope.
ENDPOINT_ROLES: dict[str, str] = {"registry": "AcrPull", "storage": "Storage Blob Data Reader"}


# What jobs on the compute clusters do, as the compute identity.
COMPUTE_USES: tuple[Use, ...] = (
    Use(f"{BLOBS}/read", "storage", "read inputs from the blob datastores", data=True),
    Use(f"{BLOBS}/write", "storage", "write outputs to the blob datastores", data=True),
    Use(f"{BLOBS}/delete", "storage", "replace outputs of a re-run step", data=True),
    Use(
        "Microsoft.ContainerRegistry/registries/pull/read",
        "registry",
        "pull the environment image Azure ML built",
    ),
    Use(
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "keyVault",
        "read workspace connections and secrets",
        data=True,
    ),
)
# What a parallel step does besides (the batch-scoring pipeline): its work queue and progress.
PARALLEL_USES: tuple[Use, ...] = (
    Use(f"{STORAGE}/queueServices/queues/write", "storage", "create the work queue"),
    Use(f"{STORAGE}/queueServices/queues/messages/add/action", "storage", "queue work", True),
    Use(f"{STORAGE}/queueServices/queues/messages/read", "storage", "take work", True),
    Use(f"{STORAGE}/queueServices/queues/messages/process/action", "storage", "take work", True),
    Use(f"{STORAGE}/queueServices/queues/messages/delete", "storage", "finish work", True),
    Use(f"{STORAGE}/tableServices/tables/write", "storage", "create the progress table"),
    Use(f"{STORAGE}/tableServices/tables/entities/add/action", "storage", "record progress", True),
    Use(f"{STORAGE}/tableServices/tables/entities/read", "storage", "read progress", True),
    Use(
        f"{STORAGE}/tableServices/tables/entities/update/action",
        "storage",
        "update progress",
        True,
    ),
)


def deployment_writes(resource_types: set[str]) -> tuple[Use, ...]:
    """Deploying main.bicep writes each resource type it declares."""
    return tuple(
        Use(f"{kind}/write", RESOURCE_GROUP, "deploy main.bicep") for kind in sorted(resource_types)
    )


def deployment_reads(resource_types: set[str]) -> tuple[Use, ...]:
    """What-if with read checks reads each resource type main.bicep declares."""
    return tuple(
        Use(f"{kind}/read", RESOURCE_GROUP, "what-if reads the current state")
        for kind in sorted(resource_types)
    )


def covers(scope: str, used_at: str) -> bool:
    """An assignment at ``scope`` applies to a use at ``used_at``."""
    return scope in (used_at, RESOURCE_GROUP)


@functools.cache
def grants(role: Role, universe: frozenset[tuple[str, bool]]) -> frozenset[tuple[str, bool]]:
    return frozenset(item for item in universe if role.allows(*item))


def least_roles(
    needed: list[Use], candidates: list[Role], universe: frozenset[tuple[str, bool]]
) -> list[Role]:
    """The roles that cover ``needed`` and contain no smaller covering candidate."""
    covering = [r for r in candidates if all(r.allows(u.action, u.data) for u in needed)]
    return [
        role
        for role in covering
        if not any(grants(other, universe) < grants(role, universe) for other in covering)
    ]


# --- the proof: the Bicep's role assignments against the uses above ---------------------------

# Which identity a role assignment's principalId expression stands for, per Bicep file.
PRINCIPALS: dict[str, dict[str, str]] = {
    "infra/modules/compute-roles.bicep": {"principalId": "compute"},
    "infra/bootstrap/github-oidc.bicep": {
        "identity.properties.principalId": "ci",
        "whatIfIdentity.properties.principalId": "what-if",
    },
}
# The bootstrap's list of the roles CI may assign, and the files whose assignments CI deploys.
ASSIGNABLE_ROLES_VAR = "assignableRoles"
DEPLOYED_FILES = ("infra/modules/compute-roles.bicep",)
# Settings of the bootstrap the proof covers: CI deploys infrastructure, or only uses it.
MODES = (
    {"allowInfraDeployment": True, "trustPullRequests": True},
    {"allowInfraDeployment": False, "trustPullRequests": True},
)


@dataclass(frozen=True)
class Assignment:
    file: str
    symbol: str
    identity: str
    role: Role
    scope: str
    principal_type: str | None
    condition: str | None
    line: int

    def active(self, mode: dict[str, bool]) -> bool:
        if self.condition is None:
            return True
        negated = self.condition.startswith("!")
        value = mode.get(self.condition.lstrip("!"))
        if value is None:
            return True  # a condition the model does not know: count it as granted
        return value != negated


def _custom_role(resource) -> Role:
    body = resource.body.data if resource.body and resource.body.kind == "object" else {}
    properties = body.get("properties")
    permissions = properties.data.get("permissions") if properties else None
    actions: dict[str, list[str]] = {
        "actions": [],
        "notActions": [],
        "dataActions": [],
        "notDataActions": [],
    }
    for entry in permissions.data if permissions and permissions.kind == "array" else []:
        for key in actions:
            listed = entry.data.get(key) if entry.kind == "object" else None
            if listed is not None and listed.kind == "array":
                actions[key] += [item.data for item in listed.data if item.kind == "string"]
    return Role(
        f"custom:{resource.symbol}",
        f"custom role {resource.symbol}",
        tuple(actions["actions"]),
        tuple(actions["notActions"]),
        tuple(actions["dataActions"]),
        tuple(actions["notDataActions"]),
    )


def read_assignments(root) -> tuple[list[Assignment], list[str]]:
    """Every role assignment in the files of PRINCIPALS, and what cannot be read."""
    from .bicep_syntax import read
    from .problems import line_of

    found: list[Assignment] = []
    problems: list[str] = []
    for relative, principals in PRINCIPALS.items():
        path = root / relative
        if not path.is_file():
            problems.append(f"{relative}: missing (the permission model reads its roles)")
            continue
        bicep = read(path.read_text(encoding="utf-8"))
        for resource in bicep.resources.values():
            if resource.type != "Microsoft.Authorization/roleAssignments" or resource.existing:
                continue
            where = f"{relative}:{line_of(bicep.text, resource.offset)}"
            body = resource.body.data if resource.body and resource.body.kind == "object" else {}
            properties = body.get("properties")
            fields = properties.data if properties and properties.kind == "object" else {}
            principal = fields.get("principalId")
            identity = principals.get(principal.text.strip()) if principal else None
            if identity is None:
                problems.append(
                    f"{where}: {resource.symbol}: principalId "
                    f"{principal.text.strip() if principal else '(none)'!r} is not an identity "
                    "of the permission model"
                )
                continue
            role = _role_of(fields.get("roleDefinitionId"), bicep)
            if role is None:
                problems.append(f"{where}: {resource.symbol}: role is not a known definition")
                continue
            scope_value = body.get("scope")
            scope = RESOURCE_GROUP
            if scope_value is not None:
                target = bicep.resources.get(str(scope_value.data))
                scope = SCOPE_OF_TYPE.get(target.type, "?") if target else "?"
            principal_type = fields.get("principalType")
            found.append(
                Assignment(
                    relative,
                    resource.symbol,
                    identity,
                    role,
                    scope,
                    principal_type.data if principal_type else None,
                    resource.condition,
                    line_of(bicep.text, resource.offset),
                )
            )
    return found, problems


def _role_of(value, bicep) -> Role | None:
    if value is None:
        return None
    for name in value.idents():
        variable = bicep.variables.get(name)
        if variable is not None and variable.kind == "string" and variable.data in ROLES:
            return ROLES[variable.data]
        resource = bicep.resources.get(name)
        if resource is not None and resource.type == "Microsoft.Authorization/roleDefinitions":
            return _custom_role(resource)
    for text in value.strings():
        if text in ROLES:
            return ROLES[text]
    return None


@dataclass(frozen=True)
class Job:
    workflow: str
    job: str
    identity: str
    environment: str | None
    commands: tuple[str, ...]
    pull_request: bool = False  # the job can run for a pull request


def _runs_for_pull_requests(data: dict) -> dict[str, bool]:
    """Job id -> whether the job can run for a pull request (its `if` and `needs` count)."""
    import re

    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as True
    triggers = [triggers] if isinstance(triggers, str) else list(triggers or [])
    on_pull_request = any(str(trigger).startswith("pull_request") for trigger in triggers)
    jobs = {str(k): v for k, v in (data.get("jobs") or {}).items() if isinstance(v, dict)}
    excluded = (
        "github.event_name!='pull_request'",
        "github.event_name=='push'",
        "github.event_name=='workflow_dispatch'",
        "github.event_name=='schedule'",
    )
    found: dict[str, bool] = {}

    def runs(job_id: str, seen: frozenset[str] = frozenset()) -> bool:
        if job_id in found:
            return found[job_id]
        job = jobs.get(job_id, {})
        condition = re.sub(r"\s+", "", str(job.get("if", ""))).replace('"', "'")
        result = on_pull_request and not any(text in condition for text in excluded)
        needs = job.get("needs") or []
        needs = [needs] if isinstance(needs, str) else list(needs)
        forced = any(word in condition for word in ("always()", "failure()", "cancelled()"))
        if result and needs and not forced and job_id not in seen:
            result = all(runs(str(need), seen | {job_id}) for need in needs)
        found[job_id] = result
        return result

    return {job_id: runs(job_id) for job_id in jobs}


def workflow_jobs(root, cli: str) -> list[Job]:
    """Each workflow job that logs in to Azure: its identity, environment and commands."""
    import re

    import yaml

    command = re.compile(rf"(?<![\w-]){re.escape(cli)}\s+([a-z][a-z-]*)([^\n]*)")
    jobs = []
    for path in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for_pull_requests = _runs_for_pull_requests(data)
        for job_id, job in (data.get("jobs") or {}).items():
            steps = job.get("steps") or [] if isinstance(job, dict) else []
            logins = [
                step
                for step in steps
                if isinstance(step, dict) and str(step.get("uses", "")).startswith("azure/login@")
            ]
            if not logins:
                continue
            client_id = str((logins[0].get("with") or {}).get("client-id", ""))
            identity = "what-if" if WHAT_IF_CLIENT_ID in client_id else "ci"
            commands = []
            for step in steps:
                run = str(step.get("run", "")) if isinstance(step, dict) else ""
                for match in command.finditer(run):
                    what_if = " --what-if" if "--what-if" in match.group(2) else ""
                    commands.append(match.group(1) + what_if)
            environment = job.get("environment")
            jobs.append(
                Job(
                    path.name,
                    str(job_id),
                    identity,
                    str(environment) if environment else None,
                    tuple(commands),
                    for_pull_requests.get(str(job_id), False),
                )
            )
    return jobs


def deployed_types(root) -> set[str]:
    """Resource types infra/main.bicep and its modules create."""
    from .bicep_syntax import read

    files = [root / "infra" / "main.bicep", *sorted((root / "infra" / "modules").glob("*.bicep"))]
    return {
        resource.type
        for path in files
        if path.is_file()
        for resource in read(path.read_text(encoding="utf-8")).resources.values()
        if not resource.existing
    }


def has_parallel_step(root) -> bool:
    import re

    files = [*root.glob("pipelines/**/*.yml"), *root.glob("components/*/component.yml")]
    pattern = re.compile(r"^\s*type:\s*parallel\s*$", re.MULTILINE)
    return any(pattern.search(path.read_text(encoding="utf-8")) for path in files)


def identity_uses(
    root, cli: str, mode: dict[str, bool], jobs: list[Job] | None = None
) -> dict[str, list[tuple[Use, str]]]:
    """(use, who does it) for each identity, in one bootstrap mode."""
    types = deployed_types(root)
    uses: dict[str, list[tuple[Use, str]]] = {"ci": [], "what-if": [], "compute": []}
    for job in workflow_jobs(root, cli) if jobs is None else jobs:
        for name in job.commands:
            if name == "provision" and not mode["allowInfraDeployment"]:
                continue  # someone else deploys; CI only uses the workspace
            listed = COMMAND_USES.get(name, ())
            if name == "provision":
                listed = (*listed, *deployment_writes(types))
            elif name == "provision --what-if":
                listed = (*listed, *deployment_reads(types))
            who = f"{job.workflow} {job.job}: {cli} {name}"
            uses[job.identity] += [(use, who) for use in listed]
    uses["compute"] += [(use, "jobs on the clusters") for use in COMPUTE_USES]
    if has_parallel_step(root):
        uses["compute"] += [(use, "the parallel step") for use in PARALLEL_USES]
    return uses


def assignable_roles(root) -> tuple[set[str], list[str]]:
    """The role ids the CI identity's role-assignment condition lets it assign."""
    from .bicep_syntax import read

    relative = "infra/bootstrap/github-oidc.bicep"
    path = root / relative
    listed = read(path.read_text(encoding="utf-8")).variables.get(ASSIGNABLE_ROLES_VAR)
    if listed is None or listed.kind != "array":
        return set(), [f"{relative}: no `var {ASSIGNABLE_ROLES_VAR} = [...]` of role ids"]
    roles = {item.data for item in listed.data if item.kind == "string"}
    return roles, []


def prove(root, cli: str) -> list[str]:
    """Problems with the Bicep's role assignments against the model; empty when it holds."""
    assignments, problems = read_assignments(root)
    assignable, unreadable = assignable_roles(root)
    problems += unreadable
    assigned = {item.role.id for item in assignments if item.file in DEPLOYED_FILES}
    if not unreadable and assignable != assigned:
        extra = sorted(ROLES[r].name if r in ROLES else r for r in assignable - assigned)
        missing = sorted(ROLES[r].name if r in ROLES else r for r in assigned - assignable)
        problems.append(
            "infra/bootstrap/github-oidc.bicep: the CI identity may assign exactly the roles "
            f"main.bicep assigns; remove {extra or 'nothing'}, add {missing or 'nothing'}"
        )
    for item in assignments:
        if item.principal_type != "ServicePrincipal":
            problems.append(
                f"{item.file}:{item.line}: {item.symbol}: set principalType: 'ServicePrincipal' "
                "(without it Azure looks the principal up and a new identity's first "
                "assignment can fail)"
            )
    jobs = workflow_jobs(root, cli)
    by_mode = {id(mode): identity_uses(root, cli, mode, jobs) for mode in MODES}
    for job in jobs:
        where = f".github/workflows/{job.workflow}: {job.job}"
        if job.identity == "what-if" and job.environment:
            problems.append(
                f"{where}: the read-only what-if identity is for jobs without an environment"
            )
        if job.identity == "ci" and not job.environment:
            problems.append(
                f"{where}: logs in as the environment's identity without `environment:`; "
                "its federated credential trusts environment jobs only"
            )
        if job.identity == "ci" and job.pull_request:
            problems.append(
                f"{where}: runs for pull requests with the environment's identity, which writes; "
                "pull-request jobs log in as the read-only what-if identity"
            )
        if job.identity == "what-if" and any(not c.endswith("--what-if") for c in job.commands):
            problems.append(f"{where}: the what-if identity runs `provision --what-if` only")
    universe = {(r.action, r.data) for u in by_mode[id(MODES[0])].values() for r, _ in u}
    universe |= {(a, False) for role in ROLES.values() for a in role.actions if "*" not in a}
    universe |= {(a, True) for role in ROLES.values() for a in role.data_actions if "*" not in a}
    universe |= set(OTHER_OPERATIONS)
    universe = frozenset(universe)
    for mode in MODES:
        label = ", ".join(f"{key}={str(value).lower()}" for key, value in mode.items())
        active = [item for item in assignments if item.active(mode)]
        for identity, uses in by_mode[id(mode)].items():
            mine = [item for item in active if item.identity == identity]
            for use, who in uses:
                if not any(
                    covers(item.scope, use.scope) and item.role.allows(use.action, use.data)
                    for item in mine
                ):
                    kind = "data action" if use.data else "action"
                    problems.append(
                        f"{identity} identity ({label}): no role grants the {kind} {use.action} "
                        f"on the {use.scope} ({who}: {use.why})"
                    )
            for item in mine:
                others = [other for other in mine if other is not item]
                unique = [
                    use
                    for use, _ in uses
                    if covers(item.scope, use.scope)
                    and item.role.allows(use.action, use.data)
                    and not any(
                        covers(o.scope, use.scope) and o.role.allows(use.action, use.data)
                        for o in others
                    )
                ]
                where = f"{item.file}:{item.line}: {item.symbol}"
                if not unique:
                    problems.append(
                        f"{where}: {item.role.name} for the {identity} identity ({label}) "
                        "grants nothing it uses that its other roles do not"
                    )
                    continue
                candidates = [*ROLES.values()] + ([item.role] if item.role.id not in ROLES else [])
                least = least_roles(unique, candidates, universe)
                if item.role not in least:
                    problems.append(
                        f"{where}: {item.role.name} is more than the {identity} identity needs "
                        f"({label}); {', '.join(r.name for r in least)} suffices"
                    )
    return list(dict.fromkeys(problems))


def check_permissions(root):
    """``prove`` as check problems (``where: message``)."""
    from ..cli import PROG
    from .problems import Problem

    return [Problem(*message.split(": ", 1)) for message in prove(root, PROG)]
