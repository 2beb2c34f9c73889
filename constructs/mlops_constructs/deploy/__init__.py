"""Deploy layer: endpoints for approved model versions."""

from mlops_constructs.deploy.endpoint import (
    EndpointRole,
    ModelEndpoint,
    RealtimeSettings,
    ServerlessSettings,
    capture_prefix,
)

__all__ = [
    "EndpointRole",
    "ModelEndpoint",
    "RealtimeSettings",
    "ServerlessSettings",
    "capture_prefix",
]
