// Inbound private access for an isolated workspace: a virtual network with one
// subnet for private endpoints, endpoints for the workspace and for the storage
// account's blob and file services (clients upload code and data there), and the
// private DNS zones that resolve them. Outbound isolation of computes is the
// workspace's managed network (see workspace.bicep). Deployed only with isolation.
// CI reaches the private endpoints from GitHub-hosted runners injected into a second
// subnet (GitHub's Azure private networking): the subnet is delegated to
// GitHub.Network/networkSettings, leaves through a NAT gateway, and the networkSettings
// resource ties it to the GitHub organization or enterprise (githubBusinessId). See
// infra/README.md for the steps on GitHub's side.

@description('Azure region of the resources.')
param location string

@description('Name of the virtual network.')
param vnetName string

@description('Address space of the virtual network.')
param addressPrefix string = '10.0.0.0/24'

@description('Address range of the runners\' subnet (GitHub recommends a /24: one address per concurrent job, plus headroom).')
param runnerSubnetPrefix string = '10.0.1.0/24'

@description('Database id of the GitHub organization or enterprise whose hosted runners join the runner subnet (GraphQL databaseId; see infra/README.md). Empty: the subnet is created, the networkSettings resource is not.')
param githubBusinessId string = ''

@description('Resource id of the workspace.')
param workspaceId string

@description('Name of the workspace (names its private endpoint).')
param workspaceName string

@description('Resource id of the storage account.')
param storageAccountId string

@description('Name of the storage account (names its private endpoints).')
param storageAccountName string

{%- if cookiecutter.__model_registry == "yes" %}

@description('Resource id of the Azure ML registry in this resource group (empty: none). It gets a private endpoint, so that clients in the network (self-hosted runners that promote and publish) reach it.')
param mlRegistryId string = ''
{%- endif %}

@description('Tags applied to every resource.')
param tags object = {}

var workspaceEndpoints = [
  {
    name: 'pe-${workspaceName}'
    target: workspaceId
    groupId: 'amlworkspace'
    zones: [
      'privatelink.api.azureml.ms'
      'privatelink.notebooks.azure.net'
    ]
  }
  {
    name: 'pe-${storageAccountName}-blob'
    target: storageAccountId
    groupId: 'blob'
    zones: [
      'privatelink.blob.${environment().suffixes.storage}'
    ]
  }
  {
    name: 'pe-${storageAccountName}-file'
    target: storageAccountId
    groupId: 'file'
    zones: [
      'privatelink.file.${environment().suffixes.storage}'
    ]
  }
]
{%- if cookiecutter.__model_registry == "yes" %}

// The registry's API shares the workspace's zone (privatelink.api.azureml.ms).
var registryEndpoints = empty(mlRegistryId) ? [] : [
  {
    name: 'pe-${last(split(mlRegistryId, '/'))}'
    target: mlRegistryId
    groupId: 'amlregistry'
    zones: [
      'privatelink.api.azureml.ms'
    ]
  }
]
var privateEndpoints = concat(workspaceEndpoints, registryEndpoints)
{%- else %}
var privateEndpoints = workspaceEndpoints
{%- endif %}

var zoneNames = [
  'privatelink.api.azureml.ms'
  'privatelink.notebooks.azure.net'
  'privatelink.blob.${environment().suffixes.storage}'
  'privatelink.file.${environment().suffixes.storage}'
]

resource nsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${vnetName}-pe'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

// The runners' subnet: outbound through a NAT gateway (GitHub's runners need
// github.com and the Actions service), inbound from nothing.
resource runnerNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${vnetName}-runners'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'DenyInternetInbound'
        properties: {
          priority: 4000
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: 'Internet'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource natIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: 'pip-${vnetName}-nat'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource natGateway 'Microsoft.Network/natGateways@2024-05-01' = {
  name: 'ng-${vnetName}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: 4
    publicIpAddresses: [
      {
        id: natIp.id
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
        runnerSubnetPrefix
      ]
    }
    subnets: [
      {
        name: 'snet-private-endpoints'
        properties: {
          addressPrefix: addressPrefix
          networkSecurityGroup: {
            id: nsg.id
          }
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
      {
        name: 'snet-github-runners'
        properties: {
          addressPrefix: runnerSubnetPrefix
          networkSecurityGroup: {
            id: runnerNsg.id
          }
          natGateway: {
            id: natGateway.id
          }
          delegations: [
            {
              name: 'github-network-settings'
              properties: {
                serviceName: 'GitHub.Network/networkSettings'
              }
            }
          ]
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2020-06-01' = [
  for zone in zoneNames: {
    name: zone
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [
  for (zone, i) in zoneNames: {
    parent: zones[i]
    name: vnetName
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

resource endpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for endpoint in privateEndpoints: {
    name: endpoint.name
    location: location
    tags: tags
    properties: {
      subnet: {
        id: vnet.properties.subnets[0].id
      }
      privateLinkServiceConnections: [
        {
          name: endpoint.name
          properties: {
            privateLinkServiceId: endpoint.target
            groupIds: [
              endpoint.groupId
            ]
          }
        }
      ]
    }
  }
]

resource dnsGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (endpoint, i) in privateEndpoints: {
    parent: endpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        for zone in endpoint.zones: {
          name: replace(zone, '.', '-')
          properties: {
            privateDnsZoneId: resourceId('Microsoft.Network/privateDnsZones', zone)
          }
        }
      ]
    }
    dependsOn: [
      zones
    ]
  }
]

// GitHub's side of the runners' network: its tag GitHubId is what GitHub asks for
// when the private network configuration is created (infra/README.md).
resource runnerNetwork 'GitHub.Network/networkSettings@2024-04-02' = if (!empty(githubBusinessId)) {
  name: 'ns-${vnetName}-runners'
  location: location
  tags: tags
  properties: {
    businessId: githubBusinessId
    subnetId: vnet.properties.subnets[1].id
  }
}

output vnetId string = vnet.id
output runnerSubnetId string = vnet.properties.subnets[1].id
output runnerNetworkSettingsId string = empty(githubBusinessId) ? '' : runnerNetwork!.id
