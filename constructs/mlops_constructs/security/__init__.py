"""Security building blocks: customer-managed keys and cdk-nag acknowledgements."""

from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge,
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)

__all__ = [
    "PlatformKey",
    "acknowledge",
    "acknowledge_grant_actions",
    "acknowledge_inline_policy",
    "acknowledge_wildcard_resource",
]
