"""Outputs of infra/main.bicep that the project's tooling reads after a deployment.

`check-infra` fails when main.bicep stops declaring one of them, and the cloud
commands read the deployment outputs by these names, so the list lives here once.
"""

from __future__ import annotations

REQUIRED_OUTPUTS: tuple[str, ...] = (
    "workspaceName",
    "workspaceId",
    "location",
    "cpuClusterName",
    "gpuClusterName",
    "computeIdentityId",
    "computeIdentityPrincipalId",
    "computeIdentityClientId",
    "storageAccountName",
    "keyVaultName",
    "containerRegistryName",
    "appInsightsName",
)
