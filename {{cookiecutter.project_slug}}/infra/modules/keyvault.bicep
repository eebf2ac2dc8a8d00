// Key vault of the workspace. Access is Azure RBAC only (no access policies);
// soft delete and purge protection keep deleted secrets recoverable.

@description('Azure region of the resources.')
param location string

@description('Name of the key vault (3-24 characters).')
@minLength(3)
@maxLength(24)
param keyVaultName string

@description('Reach the vault only through the managed network (network isolation).')
param networkIsolation bool

@description('Tags applied to every resource.')
param tags object = {}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109:Without network isolation compute nodes have no fixed addresses to allow, so access is RBAC-only; with isolation the default action is Deny.
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: networkIsolation ? 'Deny' : 'Allow'
    }
  }
}

output keyVaultId string = keyVault.id
output keyVaultName string = keyVault.name
