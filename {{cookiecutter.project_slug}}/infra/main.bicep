// Azure ML environment of this project, one resource group per environment.
// Deploy: `amlctl provision --env dev` (or what-if with --what-if); the
// values come from params/<env>.parameters.json. Each module holds one concern.
targetScope = 'resourceGroup'

@description('Azure region of every resource.')
param location string = resourceGroup().location

@description('Environment the resources belong to.')
@allowed([
  'dev'
  'prod'
])
param environmentName string

@description('Name of the Azure ML workspace.')
param workspaceName string

@description('Name of the storage account (3-24 lowercase letters and digits).')
param storageAccountName string

@description('Name of the key vault.')
param keyVaultName string

@description('Name of the container registry.')
param containerRegistryName string

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param appInsightsName string

@description('Name of the user-assigned identity the compute clusters run jobs as.')
param computeIdentityName string

@description('Name of the CPU compute cluster.')
param cpuClusterName string

@description('VM size of the CPU cluster.')
param cpuVmSize string

@description('Fewest nodes of the CPU cluster (0 scales to zero).')
@minValue(0)
param cpuMinNodes int = 0

@description('Most nodes of the CPU cluster.')
@minValue(1)
param cpuMaxNodes int

@description('Idle time before CPU nodes are released, ISO 8601 duration (e.g. PT1800S).')
param cpuIdleTimeBeforeScaleDown string

@description('Deploy the GPU compute cluster.')
param deployGpuCluster bool = false

@description('Name of the GPU compute cluster (used when deployGpuCluster is true).')
param gpuClusterName string = ''

@description('VM size of the GPU cluster.')
param gpuVmSize string = ''

@description('Most nodes of the GPU cluster.')
@minValue(1)
param gpuMaxNodes int = 1

@description('Isolate the workspace: managed network, private endpoints, public endpoints disabled.')
param networkIsolation bool = false

@description('Outbound mode of the managed network when isolated.')
@allowed([
  'AllowInternetOutbound'
  'AllowOnlyApprovedOutbound'
])
param isolationMode string = 'AllowInternetOutbound'

@description('Name of the virtual network for inbound private endpoints (used with network isolation).')
param vnetName string = ''

@description('Address range of the VNet\'s private-endpoint subnet (with network isolation). Dev and prod must differ when their VNets are peered.')
param vnetAddressPrefix string = '10.0.0.0/24'

@description('Address range of the VNet\'s subnet for GitHub-hosted runners (with network isolation).')
param runnerSubnetPrefix string = '10.0.1.0/24'

@description('Database id of the GitHub organization or enterprise whose hosted runners join the network (used with network isolation; empty: the runner subnet is created, GitHub\'s networkSettings resource is not). See infra/README.md.')
param githubBusinessId string = ''

{%- if cookiecutter.__model_registry == "yes" %}

@description('Deploy the Azure ML registry that dev\'s assets are promoted into and prod reads from (true in prod only: one registry serves both).')
param deployMlRegistry bool = false

@description('Name of the Azure ML registry (used when deployMlRegistry is true).')
param mlRegistryName string = ''

@description('Grant promoterPrincipalId read on this workspace, which promotion copies from (true in dev).')
param deployPromotionSource bool = false

@description('Principal (object) id of prod\'s CI identity, which promotes from this workspace into the registry behind prod\'s approval: the output AZURE_PRINCIPAL_ID of prod\'s bootstrap. Empty: not granted yet.')
param promoterPrincipalId string = ''
{%- endif %}

@description('Tags applied to every resource.')
param tags object = {}

var allTags = union(tags, {
  environment: environmentName
})
{%- if cookiecutter.__model_registry == "yes" %}
// The registry's id, known before it exists, for the isolated workspace's outbound rule.
var mlRegistryId = deployMlRegistry ? resourceId('Microsoft.MachineLearningServices/registries', mlRegistryName) : ''
{%- endif %}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    logAnalyticsName: logAnalyticsName
    appInsightsName: appInsightsName
    tags: allTags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    storageAccountName: storageAccountName
    networkIsolation: networkIsolation
    tags: allTags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'key-vault'
  params: {
    location: location
    keyVaultName: keyVaultName
    networkIsolation: networkIsolation
    tags: allTags
  }
}

module registry 'modules/registry.bicep' = {
  name: 'container-registry'
  params: {
    location: location
    containerRegistryName: containerRegistryName
    networkIsolation: networkIsolation
    tags: allTags
  }
}

module workspace 'modules/workspace.bicep' = {
  name: 'workspace'
  params: {
    location: location
    workspaceName: workspaceName
    storageAccountId: storage.outputs.storageAccountId
    keyVaultId: keyVault.outputs.keyVaultId
    appInsightsId: monitoring.outputs.appInsightsId
    containerRegistryId: registry.outputs.containerRegistryId
    networkIsolation: networkIsolation
    isolationMode: isolationMode
    imageBuildComputeName: cpuClusterName
{%- if cookiecutter.spark_step %}
    // serverless Spark jobs (identity: managed) read and write the data as this identity,
    // which holds Storage Blob Data Contributor on the storage account (compute-roles.bicep)
    sparkIdentityId: computeIdentity.outputs.identityId
{%- endif %}
{%- if cookiecutter.__model_registry == "yes" %}
    // jobs in an isolated workspace reach the registry through a private endpoint
    mlRegistryId: mlRegistryId
{%- endif %}
    tags: allTags
  }
{%- if cookiecutter.__model_registry == "yes" %}
  dependsOn: [
    mlRegistry
  ]
{%- endif %}
}

module network 'modules/network.bicep' = if (networkIsolation) {
  name: 'network'
  params: {
    location: location
    vnetName: vnetName
    addressPrefix: vnetAddressPrefix
    runnerSubnetPrefix: runnerSubnetPrefix
    githubBusinessId: githubBusinessId
    workspaceId: workspace.outputs.workspaceId
    workspaceName: workspaceName
    storageAccountId: storage.outputs.storageAccountId
    storageAccountName: storageAccountName
{%- if cookiecutter.__model_registry == "yes" %}
    mlRegistryId: mlRegistryId
{%- endif %}
    tags: allTags
  }
{%- if cookiecutter.__model_registry == "yes" %}
  dependsOn: [
    mlRegistry
  ]
{%- endif %}
}

module computeIdentity 'modules/identity.bicep' = {
  name: 'compute-identity'
  params: {
    location: location
    identityName: computeIdentityName
    tags: allTags
  }
}

// Names of the resources the module finds as `existing` come from parameters, not module
// outputs, so a what-if can evaluate them before anything is deployed (the compiler's
// what-if-short-circuiting rule); dependsOn keeps the order the outputs gave.
module computeRoles 'modules/compute-roles.bicep' = {
  name: 'compute-roles'
  params: {
    principalId: computeIdentity.outputs.principalId
    storageAccountName: storageAccountName
    containerRegistryName: containerRegistryName
    keyVaultName: keyVaultName
  }
  dependsOn: [
    storage
    registry
    keyVault
  ]
}

{%- if cookiecutter.__model_registry == "yes" %}

// Prod's CI identity promotes dev's model, components and environment into this registry; prod's jobs and
// deployments use them from it. Only the environment that sets deployMlRegistry (prod) has it.
module mlRegistry 'modules/ml-registry.bicep' = if (deployMlRegistry) {
  name: 'ml-registry'
  params: {
    location: location
    registryName: mlRegistryName
    networkIsolation: networkIsolation
    computePrincipalId: computeIdentity.outputs.principalId
    tags: allTags
  }
}

// Prod's CI identity reads this workspace when it promotes from it (dev's deployment only).
module promotionSource 'modules/promotion-source.bicep' = if (deployPromotionSource) {
  name: 'promotion-source'
  params: {
    workspaceName: workspaceName
    promoterPrincipalId: promoterPrincipalId
  }
  dependsOn: [
    workspace
  ]
}
{%- endif %}

module cpuCluster 'modules/compute-cluster.bicep' = {
  name: 'cpu-cluster'
  params: {
    location: location
    workspaceName: workspaceName
    clusterName: cpuClusterName
    vmSize: cpuVmSize
    minNodes: cpuMinNodes
    maxNodes: cpuMaxNodes
    idleTimeBeforeScaleDown: cpuIdleTimeBeforeScaleDown
    identityId: computeIdentity.outputs.identityId
    networkIsolation: networkIsolation
    tags: allTags
  }
  dependsOn: [
    workspace
  ]
}

module gpuCluster 'modules/compute-cluster.bicep' = if (deployGpuCluster) {
  name: 'gpu-cluster'
  params: {
    location: location
    workspaceName: workspaceName
    clusterName: gpuClusterName
    vmSize: gpuVmSize
    // GPU nodes are expensive: never keep one running while idle.
    minNodes: 0
    maxNodes: gpuMaxNodes
    idleTimeBeforeScaleDown: cpuIdleTimeBeforeScaleDown
    identityId: computeIdentity.outputs.identityId
    networkIsolation: networkIsolation
    tags: allTags
  }
  dependsOn: [
    workspace
  ]
}

// The project's tooling reads these outputs (see REQUIRED_OUTPUTS in
// amlctl: checks/infra_outputs.py); check-infra fails if one goes missing.
output workspaceName string = workspace.outputs.workspaceName
output workspaceId string = workspace.outputs.workspaceId
output location string = location
output cpuClusterName string = cpuCluster.outputs.clusterName
output gpuClusterName string = deployGpuCluster ? gpuClusterName : ''
output computeIdentityId string = computeIdentity.outputs.identityId
output computeIdentityPrincipalId string = computeIdentity.outputs.principalId
output computeIdentityClientId string = computeIdentity.outputs.clientId
output storageAccountName string = storage.outputs.storageAccountName
output keyVaultName string = keyVault.outputs.keyVaultName
output containerRegistryName string = registry.outputs.containerRegistryName
output appInsightsName string = monitoring.outputs.appInsightsName
{%- if cookiecutter.__model_registry == "yes" %}
output mlRegistryName string = deployMlRegistry ? mlRegistryName : ''
{%- endif %}
