// Promotion copies dev's model, components and environment into the Azure ML registry,
// server-side, as prod's CI identity: a job that runs only behind prod's protected GitHub
// environment (promote.yml). That identity reads this (dev's) workspace: Reader on the
// workspace alone, the read the copy needs on its source; it writes nothing here. Dev's
// identities hold no role on anything of prod's.

@description('Name of the existing workspace promotion copies from.')
param workspaceName string

@description('Principal (object) id of prod\'s CI identity (the output AZURE_PRINCIPAL_ID of prod\'s bootstrap). Empty: nobody is granted the read yet.')
param promoterPrincipalId string

// Built-in role definition id (the same in every tenant); dev's CI identity may assign it
// (assignableRoles in bootstrap/github-oidc.bicep).
var reader = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'

resource workspace 'Microsoft.MachineLearningServices/workspaces@2025-09-01' existing = {
  name: workspaceName
}

resource readSource 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(promoterPrincipalId)) {
  name: guid(workspace.id, promoterPrincipalId, reader)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', reader)
    principalId: promoterPrincipalId
    principalType: 'ServicePrincipal'
  }
}
