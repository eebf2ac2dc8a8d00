// The Azure ML registry that carries what dev has tested to prod: the trained model, the
// components and their environment. One registry serves both environments; prod's main.bicep
// deploys it (deployMlRegistry in params/prod.parameters.json), in prod's resource group:
// prod's CI identity promotes into it (`amlctl promote`, behind prod's approval; its role is
// in bootstrap/github-oidc.bicep), prod reads from it. Azure ML
// creates the registry's own storage account and container registry, in a managed
// resource group, and grants the registry's system-assigned identity its roles there.

@description('Azure region of the registry; also its one replication region.')
param location string

@description('Name of the registry (3-33 letters, digits, - and _; unique in Azure).')
@minLength(3)
@maxLength(33)
param registryName string

@description('Disable the public endpoint (network isolation): reach the registry through private endpoints.')
param networkIsolation bool

@description('Principal (object) id of the compute identity, whose jobs use the registry\'s assets.')
param computePrincipalId string

@description('Tags applied to every resource.')
param tags object = {}

// Built-in role definition ids (the same in every tenant). The CI identity that deploys this
// may assign exactly these (registryRoles in bootstrap/github-oidc.bicep).
var reader = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'

resource registry 'Microsoft.MachineLearningServices/registries@2026-05-01' = {
  name: registryName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    regionDetails: [
      {
        location: location
        // Azure ML creates both in the registry's managed resource group.
        acrDetails: [
          {
            systemCreatedAcrAccount: {
              acrAccountSku: 'Premium'
            }
          }
        ]
        storageAccountDetails: [
          {
            systemCreatedStorageAccount: {
              storageAccountType: 'Standard_LRS'
              storageAccountHnsEnabled: false
              allowBlobPublicAccess: false
            }
          }
        ]
      }
    ]
  }
}

// Jobs on the clusters run the promoted components in their environment: read the registry
// and its assets, nothing more (Reader on the registry, as Azure ML documents for asset use).
resource useAssets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, computePrincipalId, reader)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', reader)
    principalId: computePrincipalId
    principalType: 'ServicePrincipal'
  }
}

output registryId string = registry.id
output registryName string = registry.name
