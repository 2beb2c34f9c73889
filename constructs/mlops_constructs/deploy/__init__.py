"""Deploy layer: endpoints for approved model versions."""

from mlops_constructs.deploy.endpoint import ModelEndpoint, RealtimeSettings, ServerlessSettings

__all__ = ["ModelEndpoint", "RealtimeSettings", "ServerlessSettings"]
