"""Hyperparameter tuning (``build.tuning``, ADR 0019): a tuning job replaces the training job
and its best candidate goes through the same evaluation, gates, sealing and registration.

config/example.yaml's demand project tunes (example_synth); churn trains one job. The rule
packs, cfn-lint and checkov run over example_synth elsewhere (tests/test_guardrails.py), and
tests/test_governance.py simulates who may create tuning jobs, with which settings.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_constructs.security.pipeline_rules import check_definition, pipeline_steps
from mlops_constructs.training.definition import (
    KEY_PLACEHOLDER,
    PipelineImages,
    PipelineSpec,
    QualityGate,
    Tuning,
    TuningRange,
    build_definition,
)
from tests.conftest import Synthesized
from tests.templates import sagemaker_pipeline


def _definition(synth: Synthesized, project: str) -> dict[str, Any]:
    stack = synth.stages["dev"].projects[project].build
    assert stack is not None
    resources = synth.template_json(stack)["Resources"]
    body = sagemaker_pipeline(resources)["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][
        0
    ]
    definition: dict[str, Any] = json.loads(body)
    return definition


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Name"]: s for s in pipeline_steps(definition)}


def _role_statements(synth: Synthesized, project: str) -> list[dict[str, Any]]:
    stack = synth.stages["dev"].projects[project].build
    assert stack is not None
    resources = synth.template_json(stack)["Resources"]
    return [
        statement
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy"
        and "TrainingRole" in json.dumps(r["Properties"]["Roles"])
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_a_tuning_project_tunes_instead_of_training(example_synth: Synthesized) -> None:
    steps = _steps(_definition(example_synth, "demand"))
    assert "Train" not in steps and steps["Tune"]["Type"] == "Tuning"
    config = steps["Tune"]["Arguments"]["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {
        "MetricName": "validation:rmse",  # the gate's metric, in the gate's direction
        "Type": "Minimize",
    }
    assert config["Strategy"] == "Bayesian"
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    assert config["ParameterRanges"]["ContinuousParameterRanges"] == [
        {"MaxValue": "100.0", "MinValue": "0.01", "Name": "alpha", "ScalingType": "Logarithmic"}
    ]
    assert "Train" in _steps(_definition(example_synth, "churn"))


def test_every_candidate_is_encrypted_isolated_and_the_best_is_gated(
    example_synth: Synthesized,
) -> None:
    steps = _steps(_definition(example_synth, "demand"))
    job = steps["Tune"]["Arguments"]["TrainingJobDefinition"]
    assert job["HyperParameterTuningResourceConfig"]["VolumeKmsKeyId"] == KEY_PLACEHOLDER
    assert job["OutputDataConfig"]["KmsKeyId"] == KEY_PLACEHOLDER
    assert job["EnableNetworkIsolation"] is True
    assert job["EnableInterContainerTrafficEncryption"] is True
    assert "alpha" not in job["StaticHyperParameters"]  # tuned, not fixed
    # Deterministic: the SDK's timestamped job name is not in the definition.
    assert "sagemaker_job_name" not in job["StaticHyperParameters"]
    best = {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3:/",
                json.dumps(job["OutputDataConfig"]["S3OutputPath"]).split("/")[2],
                "models",
                {"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"},
                "output/model.tar.gz",
            ],
        }
    }
    (model,) = [
        i["S3Input"]["S3Uri"]
        for i in steps["Evaluate"]["Arguments"]["ProcessingInputs"]
        if i["InputName"] == "model"
    ]
    assert model == best
    assert steps["Fingerprint"]["Arguments"]["model_uri"] == best
    # The synth-time rule (MLOps pack SM5) checks the tuning job like the others.
    assert check_definition(_definition(example_synth, "demand")) == []


def test_only_a_tuning_project_may_create_tuning_jobs(example_synth: Synthesized) -> None:
    for project, tunes in (("demand", True), ("churn", False)):
        statements = _role_statements(example_synth, project)
        (guarded,) = [s for s in statements if s.get("Sid") == "GuardedJobs"]
        assert ("sagemaker:CreateHyperParameterTuningJob" in guarded["Action"]) is tunes
        assert any(s.get("Sid") == "TuningJobs" for s in statements) is tunes
        # The guardrails of every job: the same conditions on the tuning job.
        if tunes:
            assert guarded["Condition"]["Bool"]["sagemaker:NetworkIsolation"] == "true"


IMAGES = PipelineImages(training="t:1", serving="s:1", processing="p:1", platform="k:1")


def _tuned(tuning: Tuning) -> dict[str, Any]:
    spec = PipelineSpec(
        name="p-training",
        region="eu-west-1",
        role_arn="arn:aws:iam::111111111111:role/p-sagemaker-pipeline",
        artifacts_bucket="p-artifacts-111111111111",
        input_data_uri="s3://p-curated-111111111111/t/",
        model_package_group="p-models",
        images=IMAGES,
        problem_type="binary_classification",
        gate=QualityGate(metric="auc", threshold=0.7),
        serving_columns=("a", "b"),
        tuning=tuning,
    )
    arguments: dict[str, Any] = _steps(json.loads(build_definition(spec)))["Tune"]["Arguments"]
    return arguments


@pytest.mark.parametrize("strategy", ["Random", "Grid"])
def test_the_other_strategies(strategy: str) -> None:
    grid = strategy == "Grid"
    ranges = (
        TuningRange(name="max_depth", kind="categorical", values=("3", "5")),
        *(() if grid else (TuningRange(name="eta", kind="continuous", low=0.05, high=0.3),)),
    )
    tuning = Tuning(strategy=strategy, objective="validation:auc", max_jobs=4, ranges=ranges)
    config = _tuned(tuning)["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == strategy
    assert config["HyperParameterTuningJobObjective"]["Type"] == "Maximize"
    # Grid tries every combination: no limit of jobs (SageMaker refuses one).
    assert ("MaxNumberOfTrainingJobs" in config["ResourceLimits"]) is not grid


def test_every_run_is_recorded_as_an_experiment_trial(example_synth: Synthesized) -> None:
    """Issue 16's experiment tracking (ADR 0023): each execution is the trial
    <pipeline>-<execution id> of the experiment named after the pipeline (SageMaker
    Experiments, no idle cost; project-scoped names, which IAM grants by prefix), whose trial
    components are the run's jobs and the Track step's record of the run."""
    for project in ("churn", "demand", "fraud"):
        definition = _definition(example_synth, project)
        assert definition["PipelineExperimentConfig"] == {
            "ExperimentName": {"Get": "Execution.PipelineName"},
            "TrialName": {
                "Std:Join": {
                    "On": "-",
                    "Values": [
                        {"Get": "Execution.PipelineName"},
                        {"Get": "Execution.PipelineExecutionId"},
                    ],
                }
            },
        }, project
        assert _steps(definition)["Track"]["Type"] == "Lambda", project
