"""Azure clients with one retry policy: transient 429 and 5xx are retried with back-off.

azure-core's RetryPolicy does the retrying (it honours Retry-After); these keyword arguments
tune it and go to every client, so no command has a retry loop of its own. Tests pass extra
keyword arguments (base_url, authentication_policy, polling_interval) to reach loopback fakes.
"""

from __future__ import annotations

from typing import Any

from .config import Settings

ML_SCOPE = "https://ml.azure.com/.default"
TRANSIENT_STATUS_CODES = [408, 429, 500, 502, 503, 504]


def retry_settings() -> dict[str, Any]:
    """Keyword arguments of azure.core.pipeline.policies.RetryPolicy, shared by every client."""
    return {
        "retry_total": 6,
        "retry_backoff_factor": 1.0,
        "retry_backoff_max": 60,
        "retry_on_status_codes": TRANSIENT_STATUS_CODES,
    }


def credential() -> Any:
    """DefaultAzureCredential: OIDC via azure/login in GitHub Actions, `az login` on a laptop."""
    import logging

    from azure.identity import DefaultAzureCredential

    # a failed sign-in is reported once, by the command, with every reason
    logging.getLogger("azure.identity").setLevel(logging.ERROR)
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def resource_client(settings: Settings, cred: Any, **overrides: Any) -> Any:
    from azure.mgmt.resource.resources import ResourceManagementClient

    return ResourceManagementClient(
        cred, settings.subscription_id, **{**retry_settings(), **overrides}
    )


def deployments_client(settings: Settings, cred: Any, **overrides: Any) -> Any:
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    return DeploymentsMgmtClient(
        cred, settings.subscription_id, **{**retry_settings(), **overrides}
    )


def ml_client(settings: Settings, cred: Any | None = None, **overrides: Any) -> Any:
    """An MLClient for the environment's workspace; commands take its operation groups."""
    from azure.ai.ml import MLClient

    from ..project import quiet_azure_ml

    quiet_azure_ml()
    return MLClient(
        cred or credential(),
        subscription_id=settings.subscription_id,
        resource_group_name=settings.resource_group,
        workspace_name=settings.workspace_name,
        **{**retry_settings(), **overrides},
    )


def registry_client(registry: str, cred: Any | None = None, **overrides: Any) -> Any:
    """An MLClient for an Azure ML registry. The SDK asks Azure ML's registry discovery where
    the registry lives while it builds the client, so a registry that does not exist (or that
    the identity may not read) fails here; see `errors.describing_registry`."""
    from azure.ai.ml import MLClient

    from ..project import quiet_azure_ml

    quiet_azure_ml()
    return MLClient(
        cred or credential(), registry_name=registry, **{**retry_settings(), **overrides}
    )


def ml_pipeline(cred: Any, **overrides: Any) -> Any:
    """A plain azure-core pipeline with a bearer token for Azure ML (scope ml.azure.com)."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import (
        BearerTokenCredentialPolicy,
        HeadersPolicy,
        NetworkTraceLoggingPolicy,
        RetryPolicy,
        UserAgentPolicy,
    )

    class RepeatablePostRetryPolicy(RetryPolicy):
        """Also retry POSTs that carry a Repeatability-Request-ID: the service runs them once."""

        def _is_method_retryable(self, settings, request, response=None):
            if request.headers.get("Repeatability-Request-ID"):
                return True
            return super()._is_method_retryable(settings, request, response)

    policies = [
        HeadersPolicy(),
        UserAgentPolicy(),
        RepeatablePostRetryPolicy(**retry_settings()),
        BearerTokenCredentialPolicy(cred, ML_SCOPE),
        NetworkTraceLoggingPolicy(),
    ]
    return PipelineClient(base_url="", policies=policies, **overrides)
