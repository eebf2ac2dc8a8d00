"""What this project does in Azure, as which identity: the permission model, in one place.

Per environment (``infra/params/<env>.parameters.json``: dev, prod), three identities act
in Azure for the project (people use their own accounts):

- ``<env> ci``: GitHub jobs that declare ``environment: <env>`` log in as the environment's
  identity (infra/bootstrap/github-oidc.bicep, federated credential
  ``github-environment-<env>``); it deploys main.bicep and registers, publishes and submits.
  Prod's also promotes dev's assets into the Azure ML registry prod deploys, from a job in
  prod's protected environment, reading dev's workspace (a cross-environment use: the only
  direction allowed; no dev identity may hold a role on a prod resource).
- ``dev what-if``: pull-request jobs log in as dev's read-only identity (federated credential
  ``github-pull-request``); it reads and runs what-if, never writes.
- ``<env> compute``: jobs on the compute clusters run as the user-assigned compute identity
  (infra/modules/identity.bicep, roles in infra/modules/compute-roles.bicep and, where the
  environment uses the registry, infra/modules/ml-registry.bicep).

The environments differ: main.bicep deploys a module only where its condition holds with
that environment's parameters (the registry in prod only), so each CI identity must be able
to assign exactly the roles its own environment's deployment assigns, and an action on the
registry is covered only by an assignment in the environment that holds it.

``COMMAND_USES`` lists what each project command does in Azure (control-plane actions and
data actions), ``COMPUTE_USES``, ``PARALLEL_USES`` and ``REGISTRY_READS`` what jobs on the
clusters do; what each workflow job does follows from the workflows themselves
(``workflow_jobs``): its identity from the client id its azure/login step uses and the
environment it declares, its uses from the amlctl commands it runs. ``ROLES`` holds the
built-in role definitions (from Azure's published built-in roles) the Bicep assigns and the
candidates a smaller role could be chosen from. The project's tests parse the Bicep role
assignments and prove that each identity holds a role covering each of its uses, that each
assignment is the least role that covers what it is there for (measured on the operations of
the resource it is assigned on), and that every assignment sets ``principalType``.
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
    "Microsoft.MachineLearningServices/registries": "mlRegistry",
}
ML_REGISTRY = SCOPE_OF_TYPE["Microsoft.MachineLearningServices/registries"]


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
    # the environment whose resource it acts on, when not the job's own: promotion, run in
    # prod behind prod's approval, reads dev's workspace
    env: str | None = None


STORAGE = "Microsoft.Storage/storageAccounts"
BLOBS = f"{STORAGE}/blobServices/containers/blobs"
ML = "Microsoft.MachineLearningServices/workspaces"
MLR = "Microsoft.MachineLearningServices/registries"

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
        "1823dd4f-9b8c-4ab6-ab4e-7397a3684615",
        "AzureML Registry User",
        (f"{MLR}/read", f"{MLR}/assets/*"),
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
    (f"{MLR}/write", False),
    (f"{MLR}/delete", False),
    (f"{MLR}/assets/write", False),
    (f"{MLR}/assets/delete", False),
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
    # dev's model, components and environment into the Azure ML registry (promote.yml, a job
    # in prod's environment: prod's identity reads dev's workspace and writes the registry)
    "promote": (
        Use(
            f"{ML}/read",
            "workspace",
            "the workspace's id and region, which the copy names",
            env="dev",
        ),
        Use(f"{ML}/models/read", "workspace", "find the model to promote", env="dev"),
        Use(f"{ML}/models/versions/read", "workspace", "read the model version", env="dev"),
        Use(
            f"{ML}/environments/versions/read",
            "workspace",
            "check that dev has the environment",
            env="dev",
        ),
        Use(
            f"{ML}/components/versions/read",
            "workspace",
            "check that dev has the components",
            env="dev",
        ),
        Use(f"{MLR}/read", ML_REGISTRY, "find the registry (discovery)"),
        Use(f"{MLR}/assets/read", ML_REGISTRY, "skip what the registry has already"),
        Use(f"{MLR}/assets/write", ML_REGISTRY, "copy the model, components and environment"),
    ),
}

# What an environment that uses the registry (`registry` in config/<env>.yml) reads from it:
# its register, publish, submit and deploy refer to the promoted assets, and its jobs run them.
REGISTRY_READS: tuple[Use, ...] = (
    Use(f"{MLR}/read", ML_REGISTRY, "find the registry (discovery)"),
    Use(f"{MLR}/assets/read", ML_REGISTRY, "use the promoted model, components and environment"),
)
READS_REGISTRY = ("register", "publish", "submit", "deploy")

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
    """An assignment at ``scope`` applies to a use at ``used_at`` (in the same environment)."""
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


def scope_universe(
    universe: frozenset[tuple[str, bool]], scope: str
) -> frozenset[tuple[str, bool]]:
    """What an assignment at ``scope`` can grant: the operations of that resource's type (a role
    on one resource grants nothing elsewhere) and the changes of access that apply on any
    resource (role assignments, locks; reading them changes nothing, so it does not count),
    or every operation on the resource group."""
    kind = next((kind for kind, name in SCOPE_OF_TYPE.items() if name == scope), None)
    if kind is None:
        return universe

    def counts(action: str) -> bool:
        action = action.lower()
        if action.startswith("microsoft.authorization/"):
            return not action.endswith("/read")
        return action.startswith(f"{kind.lower()}/")

    return frozenset(item for item in universe if counts(item[0]))


# --- conditions: which assignments and modules exist with which parameters -------------------


def _split_top(text: str, operator: str) -> list[str]:
    """``text`` split on ``operator`` outside parentheses and quotes."""
    parts, depth, quoted, start, index = [], 0, False, 0, 0
    while index < len(text):
        char = text[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and text.startswith(operator, index):
            parts.append(text[start:index])
            index += len(operator)
            start = index
            continue
        index += 1
    return [*parts, text[start:]]


def _closing(text: str) -> int:
    """Index of the parenthesis that closes the one ``text`` starts with (-1: none)."""
    depth = 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return index
    return -1


def _evaluate(text: str, values: dict[str, object]) -> bool | None:
    """True, False, or None when the model cannot tell (a function call, an unknown name)."""
    import re

    text = text.strip()
    while text.startswith("(") and _closing(text) == len(text) - 1:
        text = text[1:-1].strip()  # parentheses around the whole condition
    for operator, decisive in (("||", True), ("&&", False)):
        parts = _split_top(text, operator)
        if len(parts) > 1:
            results = [_evaluate(part, values) for part in parts]
            if decisive in results:
                return decisive
            return None if None in results else not decisive
    if text.startswith("!"):
        inner = _evaluate(text[1:], values)
        return None if inner is None else not inner
    compared = re.fullmatch(r"(\w+)\s*(==|!=)\s*'([^']*)'", text)
    if compared:
        value = values.get(compared[1])
        if value is None:
            return None
        return (str(value) == compared[3]) == (compared[2] == "==")
    value = values.get(text) if re.fullmatch(r"\w+", text) else None
    return value if isinstance(value, bool) else None


def holds(condition: str | None, values: dict[str, object]) -> bool:
    """Whether a Bicep ``if (...)`` condition holds with these parameter values. What the model
    cannot evaluate counts as true, so a condition it does not know never hides a missing role."""
    if condition is None:
        return True
    return _evaluate(condition, values) is not False


# --- the proof: the Bicep's role assignments against the uses above ---------------------------

BOOTSTRAP = "infra/bootstrap/github-oidc.bicep"
# The CI identity of the environment whose workflow jobs run `promote` (prod's).
PROMOTER = "promoter"
# Which identity a role assignment's principalId expression stands for, per Bicep file.
PRINCIPALS: dict[str, dict[str, str]] = {
    "infra/modules/compute-roles.bicep": {"principalId": "compute"},
    # promoterPrincipalId: the layout before promotion moved behind prod's approval, when
    # prod's deployment gave dev's identity the registry (the cross-environment rule fails it)
    "infra/modules/ml-registry.bicep": {
        "computePrincipalId": "compute",
        "promoterPrincipalId": PROMOTER,
    },
    "infra/modules/promotion-source.bicep": {"promoterPrincipalId": PROMOTER},
    BOOTSTRAP: {
        "identity.properties.principalId": "ci",
        "whatIfIdentity.properties.principalId": "what-if",
    },
}
# Files a project may lack: one without the registry option has no ml-registry.bicep.
OPTIONAL_FILES = ("infra/modules/ml-registry.bicep", "infra/modules/promotion-source.bicep")
# The bootstrap's list of the roles CI may assign, and the files whose assignments CI deploys
# through main.bicep (in the environments whose parameters deploy their module).
ASSIGNABLE_ROLES_VAR = "assignableRoles"
DEPLOYED_FILES = (
    "infra/modules/compute-roles.bicep",
    "infra/modules/ml-registry.bicep",
    "infra/modules/promotion-source.bicep",
)
# Settings of the bootstrap the proof covers: CI deploys infrastructure, or only uses it.
MODES = (
    {"allowInfraDeployment": True},
    {"allowInfraDeployment": False},
)
# The environment whose bootstrap trusts pull requests (trustPullRequests=true): the what-if
# identity exists there only (infra/README.md deploys prod's bootstrap without it).
WHAT_IF_ENV = "dev"


@dataclass(frozen=True)
class Environment:
    name: str
    deployed: frozenset[str]  # Bicep files main.bicep deploys with this environment's parameters
    types: frozenset[str]  # resource types those files create
    uses_registry: bool  # config/<env>.yml names an Azure ML registry to read from

    @property
    def holds_registry(self) -> bool:
        return MLR in self.types

    def bootstrap_values(self, mode: dict[str, bool]) -> dict[str, object]:
        """The bootstrap's parameters when deployed for this environment in ``mode``."""
        return {
            **mode,
            "trustPullRequests": self.name == WHAT_IF_ENV,
            "environmentName": self.name,
        }


def _parameter_values(root, name: str, main) -> dict[str, object]:
    """main.bicep's parameters for one environment: literal defaults, then its params file."""
    import json

    values: dict[str, object] = {
        key: value.data
        for key, value in main.defaults.items()
        if value.kind in ("bool", "string", "int")
    }
    path = root / "infra" / "params" / f"{name}.parameters.json"
    try:
        given = json.loads(path.read_text(encoding="utf-8")).get("parameters") or {}
    except (OSError, ValueError, AttributeError):
        given = {}
    for key, entry in given.items() if isinstance(given, dict) else ():
        if isinstance(entry, dict) and "value" in entry:
            values[key] = entry["value"]
    return values


def environments(root) -> list[Environment]:
    """Each environment with a parameter file (dev alone when there is none)."""
    import yaml

    from .bicep_syntax import read

    infra = root / "infra"
    main_path = infra / "main.bicep"
    main = read(main_path.read_text(encoding="utf-8")) if main_path.is_file() else None
    names = sorted(
        path.name.removesuffix(".parameters.json")
        for path in (infra / "params").glob("*.parameters.json")
    )
    found = []
    for name in names or ["dev"]:
        deployed: set[str] = set()
        types: set[str] = set()
        if main is not None:
            values = _parameter_values(root, name, main)
            deployed = {
                f"infra/{module.type}"
                for module in main.modules.values()
                if holds(module.condition, values)
            }
            files = [main_path, *(root / relative for relative in sorted(deployed))]
            types = {
                resource.type
                for path in files
                if path.is_file()
                for resource in read(path.read_text(encoding="utf-8")).resources.values()
                if not resource.existing
            }
        config = root / "config" / f"{name}.yml"
        try:
            settings = yaml.safe_load(config.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            settings = {}
        uses_registry = isinstance(settings, dict) and bool(settings.get("registry"))
        found.append(Environment(name, frozenset(deployed), frozenset(types), uses_registry))
    return found


@dataclass(frozen=True)
class Assignment:
    file: str
    symbol: str
    identity: str  # as read: ci, what-if, compute, promoter; per environment: "<env> ci", ...
    role: Role
    scope: str
    principal_type: str | None
    condition: str | None
    line: int
    env: str = ""  # the environment whose deployment creates it (and holds its scope)

    def active(self, values: dict[str, object]) -> bool:
        return holds(self.condition, values)


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
            if relative not in OPTIONAL_FILES:
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
            # `x!.properties` and `x.?properties` (a conditional identity) name the same one
            written = (
                principal.text.strip().replace("!.", ".").replace(".?", ".") if principal else ""
            )
            identity = principals.get(written) if principal else None
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


def per_environment(
    assignments: list[Assignment], envs: list[Environment], promoters: list[str]
) -> list[Assignment]:
    """The assignments each environment's bootstrap and deployment create, with the identity
    each one is for: the bootstrap's in every environment, a module's where main.bicep deploys
    it; the promoter's for the CI identity of each environment whose jobs run `promote`."""
    from dataclasses import replace

    found = []
    for env in envs:
        for item in assignments:
            if item.file != BOOTSTRAP and item.file not in env.deployed:
                continue
            if item.identity == PROMOTER:
                targets = [f"{name} ci" for name in promoters] or ["promoter (no job promotes)"]
            else:
                targets = [f"{env.name} {item.identity}"]
            found += [replace(item, env=env.name, identity=target) for target in targets]
    return found


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


def has_parallel_step(root) -> bool:
    import re

    files = [*root.glob("pipelines/**/*.yml"), *root.glob("components/*/component.yml")]
    pattern = re.compile(r"^\s*type:\s*parallel\s*$", re.MULTILINE)
    return any(pattern.search(path.read_text(encoding="utf-8")) for path in files)


def job_environments(job: Job, envs: list[Environment]) -> list[str]:
    """The environments a job acts in: the one it declares, every one when it declares an
    expression (run-training.yml's choice), dev's for pull-request what-if jobs."""
    if job.identity == "what-if":
        return [WHAT_IF_ENV]
    if not job.environment:
        return []  # reported: environment identities trust environment jobs only
    if "${{" in job.environment:
        return [env.name for env in envs]
    return [job.environment]


@dataclass(frozen=True)
class Need:
    identity: str  # "<env> ci", "<env> compute", ...
    use: Use
    env: str | None  # the environment holding the resource (None: no environment has it)
    who: str


def identity_needs(
    root, cli: str, mode: dict[str, bool], envs: list[Environment], jobs: list[Job]
) -> list[Need]:
    """What each identity does in Azure, in one bootstrap mode, and where."""
    by_name = {env.name: env for env in envs}
    registry_env = next((env.name for env in envs if env.holds_registry), None)
    needs: list[Need] = []

    def add(identity: str, env: str, uses: tuple[Use, ...], who: str) -> None:
        for use in uses:
            where = registry_env if use.scope == ML_REGISTRY else (use.env or env)
            needs.append(Need(identity, use, where, who))

    for job in jobs:
        for env_name in job_environments(job, envs):
            env = by_name.get(env_name)
            types = set(env.types) if env else set()
            for name in job.commands:
                if name == "provision" and not mode["allowInfraDeployment"]:
                    continue  # someone else deploys; CI only uses the workspace
                listed = COMMAND_USES.get(name, ())
                if name == "provision":
                    listed = (*listed, *deployment_writes(types))
                elif name == "provision --what-if":
                    listed = (*listed, *deployment_reads(types))
                if name in READS_REGISTRY and env is not None and env.uses_registry:
                    listed = (*listed, *REGISTRY_READS)
                who = f"{job.workflow} {job.job}: {cli} {name}"
                add(f"{env_name} {job.identity}", env_name, listed, who)
    parallel = has_parallel_step(root)
    for env in envs:
        identity = f"{env.name} compute"
        add(identity, env.name, COMPUTE_USES, "jobs on the clusters")
        if parallel:
            add(identity, env.name, PARALLEL_USES, "the parallel step")
        if env.uses_registry:
            add(identity, env.name, REGISTRY_READS, "jobs that run the promoted components")
    return needs


def _role_ids(value, bicep, values: dict[str, object], depth: int = 0) -> set[str] | None:
    """The role ids an array expression of the bootstrap holds for these parameter values: a
    list of ids, a variable, ``cond ? a : b`` or ``concat(a, b)``; None when unreadable."""
    if value is None or depth > 8:
        return None
    if value.kind == "array":
        return {item.data for item in value.data if item.kind == "string"}
    if value.kind == "ref":
        return _role_ids(bicep.variables.get(value.data), bicep, values, depth + 1)
    if value.kind == "ternary":
        condition, then, otherwise = value.data
        chosen = _evaluate(condition.text, values)
        if chosen is None:
            return None
        return _role_ids(then if chosen else otherwise, bicep, values, depth + 1)
    names = value.idents()
    if value.kind == "expr" and names[:1] == ["concat"]:
        found: set[str] = set()
        for name in names[1:]:
            part = _role_ids(bicep.variables.get(name), bicep, values, depth + 1)
            if part is None:
                return None
            found |= part
        return found
    return None


def assignable_roles(root, env: str = WHAT_IF_ENV) -> tuple[set[str], list[str]]:
    """The role ids the CI identity's role-assignment condition lets it assign in ``env``."""
    from .bicep_syntax import read

    bicep = read((root / BOOTSTRAP).read_text(encoding="utf-8"))
    listed = bicep.variables.get(ASSIGNABLE_ROLES_VAR)
    roles = _role_ids(listed, bicep, {"environmentName": env})
    if roles is None:
        return set(), [
            f"{BOOTSTRAP}: no readable `var {ASSIGNABLE_ROLES_VAR}` of role ids for {env} (a "
            "list, a variable, `environmentName == '<env>' ? a : b` or `concat(a, b)`)"
        ]
    return roles, []


def _names(role_ids: set[str]) -> list[str]:
    return sorted(ROLES[r].name if r in ROLES else r for r in role_ids)


def prove(root, cli: str) -> list[str]:
    """Problems with the Bicep's role assignments against the model; empty when it holds."""
    assignments, problems = read_assignments(root)
    envs = environments(root)
    jobs = workflow_jobs(root, cli)
    for env in envs:
        assignable, unreadable = assignable_roles(root, env.name)
        problems += unreadable
        assigned = {
            item.role.id
            for item in assignments
            if item.file in DEPLOYED_FILES and item.file in env.deployed
        }
        if not unreadable and assignable != assigned:
            problems.append(
                f"{BOOTSTRAP}: the {env.name} CI identity may assign exactly the roles main.bicep "
                f"assigns in {env.name} (params/{env.name}.parameters.json); remove "
                f"{_names(assignable - assigned) or 'nothing'}, add "
                f"{_names(assigned - assignable) or 'nothing'}"
            )
    for item in assignments:
        if item.principal_type != "ServicePrincipal":
            problems.append(
                f"{item.file}:{item.line}: {item.symbol}: set principalType: 'ServicePrincipal' "
                "(without it Azure looks the principal up and a new identity's first "
                "assignment can fail)"
            )
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
    promoters = sorted(
        {env for job in jobs if "promote" in job.commands for env in job_environments(job, envs)}
    )
    instances = per_environment(assignments, envs, promoters)
    # across environments: nothing of dev's may hold a role on a resource of prod's (a dev
    # job, anything merged to main, must not be able to change what prod deploys)
    for item in instances:
        if item.env == "prod" and item.identity.startswith("dev "):
            problems.append(
                f"{item.file}:{item.line}: {item.symbol}: {item.role.name} for the "
                f"{item.identity} identity on prod's {item.scope}: no dev identity may hold a "
                "role on a prod resource (promote from a job in prod's environment instead)"
            )
    by_mode = {id(mode): identity_needs(root, cli, mode, envs, jobs) for mode in MODES}
    universe = {(n.use.action, n.use.data) for n in by_mode[id(MODES[0])]}
    universe |= {(a, False) for role in ROLES.values() for a in role.actions if "*" not in a}
    universe |= {(a, True) for role in ROLES.values() for a in role.data_actions if "*" not in a}
    universe |= set(OTHER_OPERATIONS)
    universe = frozenset(universe)
    by_env = {env.name: env for env in envs}
    for mode in MODES:
        label = ", ".join(f"{key}={str(value).lower()}" for key, value in mode.items())
        needs = by_mode[id(mode)]
        active = []
        for item in instances:
            env = by_env[item.env]
            values = env.bootstrap_values(mode) if item.file == BOOTSTRAP else {}
            if item.active(values):
                active.append(item)

        def grant(item: Assignment, need: Need) -> bool:
            return (
                item.identity == need.identity
                and item.env == need.env
                and covers(item.scope, need.use.scope)
                and item.role.allows(need.use.action, need.use.data)
            )

        for need in needs:
            use = need.use
            if need.env is None:
                problems.append(
                    f"{need.identity} identity ({label}): {use.action} on the Azure ML registry, "
                    f"but no environment deploys one ({need.who}: {use.why})"
                )
            elif not any(grant(item, need) for item in active):
                kind = "data action" if use.data else "action"
                where = "" if need.identity.startswith(f"{need.env} ") else f" in {need.env}"
                problems.append(
                    f"{need.identity} identity ({label}): no role grants the {kind} {use.action} "
                    f"on the {use.scope}{where} ({need.who}: {use.why})"
                )
        for item in active:
            others = [other for other in active if other is not item]
            unique = [
                need.use
                for need in needs
                if grant(item, need) and not any(grant(other, need) for other in others)
            ]
            where = f"{item.file}:{item.line}: {item.symbol}"
            if not unique:
                problems.append(
                    f"{where}: {item.role.name} for the {item.identity} identity ({label}) "
                    "grants nothing it uses that its other roles do not"
                )
                continue
            candidates = [*ROLES.values()] + ([item.role] if item.role.id not in ROLES else [])
            least = least_roles(unique, candidates, scope_universe(universe, item.scope))
            if item.role not in least:
                problems.append(
                    f"{where}: {item.role.name} is more than the {item.identity} identity needs "
                    f"({label}); {', '.join(r.name for r in least)} suffices"
                )
    return list(dict.fromkeys(problems))


def check_permissions(root):
    """``prove`` as check problems (``where: message``)."""
    from ..cli import PROG
    from .problems import Problem

    return [Problem(*message.split(": ", 1)) for message in prove(root, PROG)]
