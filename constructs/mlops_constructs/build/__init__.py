"""Build layer: training pipeline (SageMaker SDK), model registry, CI/CD and triggers."""

from mlops_constructs.build.cicd import GitSource, MlCiCd
from mlops_constructs.build.definition import PipelineSpec, build_definition
from mlops_constructs.build.pipeline import TrainingPipeline
from mlops_constructs.build.registry import ModelRegistry
from mlops_constructs.build.trigger import TrainingTrigger

__all__ = [
    "GitSource",
    "MlCiCd",
    "ModelRegistry",
    "PipelineSpec",
    "TrainingPipeline",
    "TrainingTrigger",
    "build_definition",
]
