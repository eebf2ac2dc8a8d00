// User-assigned identity the compute clusters run jobs as.
// It outlives the clusters, so role assignments survive a cluster rebuild.

@description('Azure region of the resources.')
param location string

@description('Name of the user-assigned identity.')
param identityName string

@description('Tags applied to every resource.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

output identityId string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
