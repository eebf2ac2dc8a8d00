// Identity GitHub Actions logs in as, through OpenID Connect: no client secret
// exists anywhere. Deploy once per environment into that environment's resource
// group (see infra/README.md); the outputs are the GitHub *variables*
// AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_SUBSCRIPTION_ID.
targetScope = 'resourceGroup'

@description('Azure region of the identity.')
param location string = resourceGroup().location

@description('Environment this identity deploys to; GitHub jobs of the environment of the same name may use it.')
@allowed([
  'dev'
  'prod'
])
param environmentName string

@description('Name of the user-assigned identity.')
param identityName string

@description('GitHub repository as owner/name.')
param githubRepository string

@description('Also trust pull-request workflows (infra what-if on PRs). Only for dev.')
param trustPullRequests bool = false

@description('Let CI deploy infra/main.bicep (Contributor plus a restricted role-assignment right on this resource group). False: CI may only use the workspace (AzureML Data Scientist); someone else deploys the infrastructure.')
param allowInfraDeployment bool = true

var issuer = 'https://token.actions.githubusercontent.com'
var audiences = [
  'api://AzureADTokenExchange'
]

// Built-in role definition ids (the same in every tenant).
var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'
var roleBasedAccessControlAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'
var azureMLDataScientist = 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
var owner = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635'
var userAccessAdministrator = '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9'

// CI may create and delete role assignments only for service principals (the compute
// identity, the workspace's identity) and never hand out Owner, User Access
// Administrator or RBAC Administrator: it cannot escalate its own rights.
var privilegedRoles = '${owner}, ${userAccessAdministrator}, ${roleBasedAccessControlAdministrator}'
var assignmentCondition = '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {${privilegedRoles}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'})) AND ((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {${privilegedRoles}}))'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
}

// Jobs that declare `environment: <environmentName>` (deploy, register, publish, submit).
resource environmentCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: identity
  name: 'github-environment-${environmentName}'
  properties: {
    issuer: issuer
    subject: 'repo:${githubRepository}:environment:${environmentName}'
    audiences: audiences
  }
}

// Pull-request jobs without an environment (infra what-if). GitHub gives no OIDC token
// to pull requests from forks, so only branches of this repository can use it.
resource pullRequestCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = if (trustPullRequests) {
  parent: identity
  name: 'github-pull-request'
  properties: {
    issuer: issuer
    subject: 'repo:${githubRepository}:pull_request'
    audiences: audiences
  }
  // Azure rejects concurrent writes of credentials on one identity.
  dependsOn: [
    environmentCredential
  ]
}

// Deploying main.bicep creates every resource of the environment: Contributor on this
// resource group (not the subscription). Trade-off: Contributor can also change resources
// main.bicep does not manage; the narrower alternative is allowInfraDeployment=false.
resource deployInfra 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (allowInfraDeployment) {
  name: guid(resourceGroup().id, identity.id, contributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// main.bicep assigns the compute identity its roles, and Azure ML assigns roles to the
// workspace identity on creation: both need roleAssignments/write, which Contributor lacks.
// The condition above limits it to non-privileged roles for service principals.
resource assignRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (allowInfraDeployment) {
  name: guid(resourceGroup().id, identity.id, roleBasedAccessControlAdministrator)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleBasedAccessControlAdministrator)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    condition: assignmentCondition
    conditionVersion: '2.0'
  }
}

// Without infrastructure rights CI still registers assets, publishes pipelines and submits
// jobs: AzureML Data Scientist on the resource group's workspaces (no compute or workspace
// management). Contributor already includes these rights.
resource useWorkspace 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!allowInfraDeployment) {
  name: guid(resourceGroup().id, identity.id, azureMLDataScientist)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', azureMLDataScientist)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

output AZURE_CLIENT_ID string = identity.properties.clientId
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_SUBSCRIPTION_ID string = subscription().subscriptionId
