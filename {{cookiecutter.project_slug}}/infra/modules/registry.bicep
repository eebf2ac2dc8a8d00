// Container registry for the images Azure ML builds from environments.
// The admin user is off: the workspace and the compute identity use RBAC.

@description('Azure region of the resources.')
param location string

@description('Name of the container registry (5-50 letters and digits).')
@minLength(5)
@maxLength(50)
param containerRegistryName string

@description('Reach the registry only through the managed network (network isolation).')
param networkIsolation bool

@description('Tags applied to every resource.')
param tags object = {}

resource registry 'Microsoft.ContainerRegistry/registries@2025-04-01' = {
  // checkov:skip=CKV_AZURE_139:Without network isolation image builds and pulls use the public endpoint; with isolation publicNetworkAccess is Disabled.
  // checkov:skip=CKV_AZURE_163:Vulnerability scanning is Microsoft Defender for Containers, enabled per subscription rather than per registry.
  // checkov:skip=CKV_AZURE_166:Quarantine needs a scanner that releases images; Azure ML builds the images from conda files in this repository.
  name: containerRegistryName
  location: location
  tags: tags
  sku: {
    // Private endpoints (managed network) need the Premium tier.
    name: networkIsolation ? 'Premium' : 'Basic'
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    networkRuleBypassOptions: 'AzureServices'
  }
}

output containerRegistryId string = registry.id
output containerRegistryName string = registry.name
