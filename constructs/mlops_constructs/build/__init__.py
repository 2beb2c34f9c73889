"""Build layer: training pipeline (SageMaker SDK), model registry, CI/CD and triggers.

The names are imported on first use (PEP 562): a process that only builds a pipeline definition
(``mlops_constructs.build.definition``, which needs the sagemaker SDK but not aws-cdk-lib) does
not start jsii for the constructs it never uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_constructs.build.cards import ModelCards
    from mlops_constructs.build.cicd import GitSource, MlCiCd, TeamDefinition
    from mlops_constructs.build.definition import (
        EntryPoints,
        PipelineImages,
        PipelineSpec,
        QualityGate,
        build_definition,
        resolve_images,
    )
    from mlops_constructs.build.model_import import ImportedServing, ModelImport
    from mlops_constructs.build.pipeline import TrainingPipeline
    from mlops_constructs.build.registry import ModelRegistry
    from mlops_constructs.build.tracking import ExperimentTracking, MlflowSettings
    from mlops_constructs.build.trigger import TrainingTrigger

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
