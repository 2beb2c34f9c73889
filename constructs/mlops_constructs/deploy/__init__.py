"""Deploy layer: endpoints for approved model versions."""

from mlops_constructs.deploy.batch import BatchScoring
from mlops_constructs.deploy.endpoint import (
    EndpointRole,
    ModelEndpoint,
    RealtimeSettings,
    ScaleToZeroSettings,
    ServerlessSettings,
    capture_prefix,
)
from mlops_constructs.deploy.front_door import FrontDoor, TrafficCapture
from mlops_constructs.deploy.pipeline import DeployPipeline
from mlops_constructs.deploy.templates import synthesize_endpoint_templates

__all__ = [
    "BatchScoring",
    "DeployPipeline",
    "EndpointRole",
    "FrontDoor",
    "ModelEndpoint",
    "RealtimeSettings",
    "ScaleToZeroSettings",
    "ServerlessSettings",
    "TrafficCapture",
    "capture_prefix",
    "synthesize_endpoint_templates",
]
