"""Build layer: training pipeline (SageMaker SDK), model registry, CI/CD and triggers."""

from mlops_constructs.build.cicd import GitSource, MlCiCd
from mlops_constructs.build.definition import (
    EntryPoints,
    PipelineImages,
    PipelineSpec,
    QualityGate,
    build_definition,
    resolve_images,
)
from mlops_constructs.build.pipeline import TrainingPipeline
from mlops_constructs.build.registry import ModelRegistry
from mlops_constructs.build.trigger import TrainingTrigger

__all__ = [
    "EntryPoints",
    "GitSource",
    "MlCiCd",
    "ModelRegistry",
    "PipelineImages",
    "PipelineSpec",
    "QualityGate",
    "TrainingPipeline",
    "TrainingTrigger",
    "build_definition",
    "resolve_images",
]
