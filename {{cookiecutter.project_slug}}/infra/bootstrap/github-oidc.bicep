// Identities GitHub Actions logs in as, through OpenID Connect: no client secret
// exists anywhere. Deploy once per environment into that environment's resource
// group (see infra/README.md); the outputs are the GitHub *variables*
// AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID (and, for dev, AZURE_WHAT_IF_CLIENT_ID).
// What each identity does, and the roles that cover it, are listed and tested in the
// permission model of the project tooling (checks/permissions.py).
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

@description('Also create the read-only what-if identity that pull-request workflows log in as (infra what-if on PRs). Only for dev.')
param trustPullRequests bool = false

@description('Name of the read-only identity pull-request workflows log in as (used with trustPullRequests).')
param whatIfIdentityName string = '${identityName}-what-if'

@description('Let CI deploy infra/main.bicep (Contributor plus a restricted role-assignment right on this resource group). False: CI may only use the workspace (AzureML Data Scientist); someone else deploys the infrastructure.')
param allowInfraDeployment bool = true

var issuer = 'https://token.actions.githubusercontent.com'
var audiences = [
  'api://AzureADTokenExchange'
]

// Built-in role definition ids (the same in every tenant).
var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'
var reader = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
var roleBasedAccessControlAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'
var azureMLDataScientist = 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
{%- if cookiecutter.__model_registry == "yes" %}
var azureMLRegistryUser = '1823dd4f-9b8c-4ab6-ab4e-7397a3684615'
{%- endif %}
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

// The roles infra/main.bicep assigns in every environment (to the compute identity,
// modules/compute-roles.bicep){% if cookiecutter.__model_registry == "yes" %}, and in prod, which deploys the Azure ML registry
// (modules/ml-registry.bicep), the registry's roles{% endif %}: CI may create or delete
// assignments of these roles only, only for service principals, and never for itself. It
// cannot hand out Owner, an administrator role, or anything else.
var workspaceRoles = [
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Contributor
{%- if cookiecutter.batch_scoring %}
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
{%- endif %}
  '7f951dda-4ed3-4680-a7ca-43fe172d538d' // AcrPull
  '4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Secrets User
]
{%- if cookiecutter.__model_registry == "yes" %}
// Reader: in prod, the compute identity on the registry (it uses the promoted assets); in
// dev, prod's CI identity on dev's workspace (promotion reads it, modules/promotion-source.bicep)
var registryRoles = [
  'acdd72a7-3385-48ef-bd42-f606fba81ae7' // Reader
]
var assignableRoles = concat(workspaceRoles, registryRoles)
{%- else %}
var assignableRoles = workspaceRoles
{%- endif %}
var roleList = join(assignableRoles, ', ')
var ciPrincipalId = identity.properties.principalId
var assignmentCondition = '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${roleList}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidNotEquals {${ciPrincipalId}})) AND ((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${roleList}} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidNotEquals {${ciPrincipalId}}))'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
}

// Only jobs that declare `environment: <environmentName>` (deploy, register, publish, submit).
// Protect the GitHub environment (`amlctl github-environments`): anyone who can
// run a job in it gets this identity's token.
resource environmentCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: identity
  name: 'github-environment-${environmentName}'
  properties: {
    issuer: issuer
    subject: 'repo:${githubRepository}:environment:${environmentName}'
    audiences: audiences
  }
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

// main.bicep assigns the compute identity its roles, which needs roleAssignments/write;
// Contributor lacks it. The condition above limits it to the roles main.bicep assigns.
// (Azure ML grants the workspace's own identity its roles itself, on creation.)
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

{%- if cookiecutter.__model_registry == "yes" %}

// Prod's CI identity promotes into the Azure ML registry prod's main.bicep deploys in this
// resource group: AzureML Registry User (asset read, write, delete; not the registry itself)
// on the group, given here because CI may not assign roles to itself (with infrastructure
// rights, Contributor covers it). Only prod's identity, whose federated credential trusts
// only jobs in prod's protected GitHub environment (with required reviewers): promotion
// happens behind prod's approval, never from a dev job. It also covers prod's register,
// publish and deploy reading the registry.
resource promoteRegistry 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (environmentName == 'prod' && !allowInfraDeployment) {
  name: guid(resourceGroup().id, identity.id, azureMLRegistryUser)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', azureMLRegistryUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

{% endif -%}
// register, publish and submit upload component code and local data to the workspace's
// blob datastores with CI's own token: shared keys are off and the datastores are
// identity-based, and Contributor grants no data access. On the resource group because the
// storage account does not exist yet when this runs; the group holds only this environment.
resource uploadData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, identity.id, storageBlobDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Pull-request jobs (infra what-if) get their own identity that can read and run what-if,
// never write: Reader plus this role, and `provision --what-if` asks Azure to check read
// rights instead of write rights (validationLevel ProviderNoRbac). GitHub gives no OIDC
// token to pull requests from forks, so only branches of this repository can use it.
resource whatIfIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (trustPullRequests) {
  name: whatIfIdentityName
  location: location
}

resource pullRequestCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = if (trustPullRequests) {
  parent: whatIfIdentity
  name: 'github-pull-request'
  properties: {
    issuer: issuer
    subject: 'repo:${githubRepository}:pull_request'
    audiences: audiences
  }
}

resource whatIfRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (trustPullRequests) {
  name: guid(resourceGroup().id, 'deployment-what-if')
  properties: {
    // unique in the tenant, as custom role names must be: the same group name may be
    // bootstrapped in another subscription
    roleName: 'Deployment what-if (${resourceGroup().name} in ${subscription().subscriptionId})'
    description: 'Run ARM what-if and validation of deployments; no write.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Resources/deployments/whatIf/action'
          'Microsoft.Resources/deployments/validate/action'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource whatIfRead 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (trustPullRequests) {
  name: guid(resourceGroup().id, whatIfIdentity!.id, reader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', reader)
    principalId: whatIfIdentity!.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource whatIfRun 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (trustPullRequests) {
  name: guid(resourceGroup().id, whatIfIdentity!.id, 'deployment-what-if')
  properties: {
    roleDefinitionId: whatIfRole!.id
    principalId: whatIfIdentity!.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

output AZURE_CLIENT_ID string = identity.properties.clientId
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_SUBSCRIPTION_ID string = subscription().subscriptionId
{%- if cookiecutter.__model_registry == "yes" %}
// The identity's object id. Prod's goes into infra/params/dev.parameters.json
// (promoterPrincipalId): dev's workspace lets it read what it promotes.
output AZURE_PRINCIPAL_ID string = identity.properties.principalId
{%- endif %}
// GitHub variable AZURE_WHAT_IF_CLIENT_ID: the identity of pull-request what-if jobs.
output AZURE_WHAT_IF_CLIENT_ID string = trustPullRequests ? whatIfIdentity!.properties.clientId : ''
