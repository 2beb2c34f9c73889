"""The build layer's constructs (package ``training``; the stacks are still ``<project>-build``):
training and import pipelines (SageMaker SDK), model registry, CI/CD, triggers, model cards and
experiment tracking.

The names are imported on first use (PEP 562): a process that only builds a pipeline definition
(``mlops_constructs.training.definition``, which needs the sagemaker SDK but not aws-cdk-lib) does
not start jsii for the constructs it never uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_constructs.training.cards import ModelCards
    from mlops_constructs.training.cicd import GitSource, MlCiCd, TeamDefinition
    from mlops_constructs.training.definition import (
        EntryPoints,
        PipelineImages,
        PipelineSpec,
        QualityGate,
        build_definition,
        resolve_images,
    )
    from mlops_constructs.training.model_import import ImportedServing, ModelImport
    from mlops_constructs.training.pipeline import TrainingPipeline
    from mlops_constructs.training.registry import ModelRegistry
    from mlops_constructs.training.tracking import ExperimentTracking, MlflowSettings
    from mlops_constructs.training.trigger import TrainingTrigger

# name -> the module of this package that defines it
_MODULES = {
    "EntryPoints": "definition",
    "ExperimentTracking": "tracking",
    "GitSource": "cicd",
    "ImportedServing": "model_import",
    "MlCiCd": "cicd",
    "MlflowSettings": "tracking",
    "ModelCards": "cards",
    "ModelImport": "model_import",
    "ModelRegistry": "registry",
    "PipelineImages": "definition",
    "PipelineSpec": "definition",
    "QualityGate": "definition",
    "TeamDefinition": "cicd",
    "TrainingPipeline": "pipeline",
    "TrainingTrigger": "trigger",
    "build_definition": "definition",
    "resolve_images": "definition",
}

__all__ = [
    "EntryPoints",
    "ExperimentTracking",
    "GitSource",
    "ImportedServing",
    "MlCiCd",
    "MlflowSettings",
    "ModelCards",
    "ModelImport",
    "ModelRegistry",
    "PipelineImages",
    "PipelineSpec",
    "QualityGate",
    "TeamDefinition",
    "TrainingPipeline",
    "TrainingTrigger",
    "build_definition",
    "resolve_images",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
