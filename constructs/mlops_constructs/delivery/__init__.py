"""Delivering the platform itself: a self-mutating CDK Pipeline in the tooling account."""

from mlops_constructs.delivery.pipeline import PipelineSource, PlatformPipeline

__all__ = ["PipelineSource", "PlatformPipeline"]
