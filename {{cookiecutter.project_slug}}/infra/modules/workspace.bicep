// The Azure Machine Learning workspace. Its system-assigned identity reaches
// storage, key vault and registry; Azure ML grants it those roles on creation.
// With network isolation the workspace gets a managed virtual network (computes
// run inside it, private endpoints to storage, key vault and registry are created
// by Azure ML) and its public endpoint is disabled.

@description('Azure region of the resources.')
param location string

@description('Name of the workspace.')
param workspaceName string

@description('Resource id of the storage account.')
param storageAccountId string

@description('Resource id of the key vault.')
param keyVaultId string

@description('Resource id of the Application Insights component.')
param appInsightsId string

@description('Resource id of the container registry.')
param containerRegistryId string

@description('Isolate the workspace in a managed network and disable its public endpoint.')
param networkIsolation bool

@description('Outbound rule of the managed network: any internet destination, or approved ones only.')
@allowed([
  'AllowInternetOutbound'
  'AllowOnlyApprovedOutbound'
])
param isolationMode string

@description('Compute cluster that builds environment images when the registry is private.')
param imageBuildComputeName string

@description('User-assigned identity attached to the workspace, which serverless Spark jobs with a managed identity run as (empty: none).')
param sparkIdentityId string = ''

{%- if cookiecutter.__model_registry == "yes" %}

@description('Resource id of the Azure ML registry this environment uses (empty: none). With isolation the managed network gets a private endpoint to it.')
param mlRegistryId string = ''
{%- endif %}

@description('Tags applied to every resource.')
param tags object = {}

resource workspace 'Microsoft.MachineLearningServices/workspaces@2025-09-01' = {
  // checkov:skip=CKV_AZURE_243:The workspace private endpoint is in network.bicep, deployed with network isolation; without isolation the public endpoint is used on purpose.
  name: workspaceName
  location: location
  tags: tags
  kind: 'Default'
  sku: {
    name: 'Basic'
    tier: 'Basic'
  }
  identity: empty(sparkIdentityId) ? {
    type: 'SystemAssigned'
  } : {
    type: 'SystemAssigned,UserAssigned'
    userAssignedIdentities: {
      '${sparkIdentityId}': {}
    }
  }
  properties: {
    friendlyName: workspaceName
    storageAccount: storageAccountId
    keyVault: keyVaultId
    applicationInsights: appInsightsId
    containerRegistry: containerRegistryId
    // Shared keys are disabled on the storage account: datastores use identities.
    systemDatastoresAuthMode: 'identity'
    hbiWorkspace: false
    v1LegacyMode: false
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    managedNetwork: {
      isolationMode: networkIsolation ? isolationMode : 'Disabled'
{%- if cookiecutter.__model_registry == "yes" %}
      // jobs use the registry's components, environments and models through it
      outboundRules: networkIsolation && !empty(mlRegistryId) ? {
        'ml-registry': {
          type: 'PrivateEndpoint'
          destination: {
            serviceResourceId: mlRegistryId
            subresourceTarget: 'amlregistry'
          }
        }
      } : {}
{%- endif %}
    }
    // A private registry cannot run ACR build tasks: build images on the cluster instead.
    imageBuildCompute: networkIsolation ? imageBuildComputeName : null
  }
}

output workspaceId string = workspace.id
output workspaceName string = workspace.name
output principalId string = workspace.identity.principalId
