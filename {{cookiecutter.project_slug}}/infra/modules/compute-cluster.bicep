// One Azure ML compute cluster (AmlCompute). Used for the CPU cluster and,
// when deployed, the GPU cluster. Jobs run as the user-assigned identity;
// local (key) authentication and the public SSH port are off.

@description('Azure region of the resources.')
param location string

@description('Name of the existing workspace.')
param workspaceName string

@description('Name of the compute cluster.')
@minLength(2)
@maxLength(16)
param clusterName string

@description('VM size of the nodes, e.g. Standard_DS3_v2.')
param vmSize string

@description('Nodes kept running when idle (0 scales to zero).')
@minValue(0)
param minNodes int

@description('Most nodes the cluster scales to.')
@minValue(1)
param maxNodes int

@description('Idle time before a node is released, ISO 8601 duration (e.g. PT1800S).')
param idleTimeBeforeScaleDown string

@description('Resource id of the user-assigned identity jobs run as.')
param identityId string

@description('Nodes live in the managed network without public IP addresses.')
param networkIsolation bool

@description('Tags applied to every resource.')
param tags object = {}

resource workspace 'Microsoft.MachineLearningServices/workspaces@2025-09-01' existing = {
  name: workspaceName
}

resource cluster 'Microsoft.MachineLearningServices/workspaces/computes@2025-09-01' = {
  parent: workspace
  name: clusterName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    computeType: 'AmlCompute'
    disableLocalAuth: true
    properties: {
      vmSize: vmSize
      vmPriority: 'Dedicated'
      osType: 'Linux'
      // Without a managed network or VNet, Azure ML requires public node addresses.
      enableNodePublicIp: !networkIsolation
      remoteLoginPortPublicAccess: 'Disabled'
      scaleSettings: {
        minNodeCount: minNodes
        maxNodeCount: maxNodes
        nodeIdleTimeBeforeScaleDown: idleTimeBeforeScaleDown
      }
    }
  }
}

output clusterName string = cluster.name
