// Storage account behind the workspace's default datastores.
// Shared keys are disabled: the workspace uses identity-based access
// (systemDatastoresAuthMode 'identity'), jobs use the compute identity.

@description('Azure region of the resources.')
param location string

@description('Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param storageAccountName string

@description('Reach the account only through private endpoints (network isolation).')
param networkIsolation bool

@description('Tags applied to every resource.')
param tags object = {}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35:Without network isolation clients and compute nodes have no fixed addresses to allow, so access is RBAC-only (shared keys are off); with isolation the default action is Deny.
  // checkov:skip=CKV_AZURE_206:Locally redundant storage: the data here is reproducible from its sources; change the SKU to Standard_ZRS or Standard_GRS where the region offers it if it is not.
  // checkov:skip=CKV_AZURE_43:The name is a parameter checkov cannot resolve; the template's pre-generation hook validates it against the storage naming rules.
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: networkIsolation ? 'Deny' : 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
        file: {
          enabled: true
        }
      }
    }
  }
}

output storageAccountId string = storage.id
output storageAccountName string = storage.name
