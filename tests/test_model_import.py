"""Bring your own model (``build.model_import``, ADR 0021): the import pipeline, its function
and its wiring, as synthesized.

config/example.yaml's demand (scikit-learn) and fraud (its own images) import models
(example_synth); so does vpc_synth's churn, in VPC mode with every baseline option. The rule
packs, cfn-lint and checkov run over both syntheses elsewhere (tests/test_guardrails.py);
tests/test_governance.py simulates who may upload, start and run an import; the function's
own behaviour is lambda/model_import's tests, the packaging script's tests/test_package_model.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_constructs.security.pipeline_rules import check_definition
from mlops_constructs.training.definition import (
    FINGERPRINT_PLACEHOLDER,
    IMPORT_PLACEHOLDER,
    KEY_PLACEHOLDER,
    PACKAGE_CODE_PLACEHOLDER,
    SUBNETS_PLACEHOLDER,
)
from mlops_constructs.training.model_import import PACKAGE_SCRIPT, ImportedServing
from stacks.config import ConfigError, parse_config
from tests.conftest import Synthesized, churn
from tests.templates import pipeline_steps, sagemaker_pipeline


def _build(synth: Synthesized, project: str) -> dict[str, Any]:
    stack = synth.stages["dev"].projects[project].build
    assert stack is not None
    resources: dict[str, Any] = synth.template_json(stack)["Resources"]
    return resources


def _typed(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources.items() if v["Type"] == kind}


def _definition(resources: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    pipeline = sagemaker_pipeline(resources, "-import")
    body, variables = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    return json.loads(body), variables


def _function(resources: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, function)] = [
        (k, v)
        for k, v in _typed(resources, "AWS::Lambda::Function").items()
        if v.get("FunctionName") == name
    ]
    return logical_id, function


@pytest.fixture(scope="module")
def churn_vpc(vpc_synth: Synthesized) -> dict[str, Any]:
    return _build(vpc_synth, "churn")


def test_the_import_pipeline_runs_as_the_training_role_with_its_own_function(
    churn_vpc: dict[str, Any],
) -> None:
    pipeline = sagemaker_pipeline(churn_vpc, "-import")
    training = sagemaker_pipeline(churn_vpc, "-training")
    assert pipeline["PipelineName"] == "mlops-dev-churn-import"
    assert pipeline["RoleArn"] == training["RoleArn"]
    _, variables = _definition(churn_vpc)
    function_id, _ = _function(churn_vpc, "mlops-dev-churn-model-import")
    assert variables[IMPORT_PLACEHOLDER[2:-1]] == {"Fn::GetAtt": [function_id, "Arn"]}
    # The training definition's placeholders resolve to the same values (key, functions, VPC).
    trained = training["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][1]
    for name in (KEY_PLACEHOLDER, FINGERPRINT_PLACEHOLDER, SUBNETS_PLACEHOLDER):
        assert variables[name[2:-1]] == trained[name[2:-1]]
    assert {"PackageCodeBucket", "PackageCodeKey"} <= set(variables)


def test_check_then_the_standard_steps_then_a_sealed_pending_registration(
    churn_vpc: dict[str, Any],
) -> None:
    definition, _ = _definition(churn_vpc)
    assert [s["Name"] for s in definition["Steps"]] == ["CheckImport", "ImportAccepted"]
    accepted = definition["Steps"][1]["Arguments"]
    assert [s["Name"] for s in accepted["ElseSteps"]] == ["ImportRejected"]
    assert accepted["Conditions"][0]["RightValue"] == "ok"
    steps = pipeline_steps(definition)
    assert "Train" not in steps and "Tune" not in steps
    # churn's options: every baseline, after Package where they read the model.
    for name in ("Preprocess", "Package", "DataQualityBaseline", "BiasBaseline",
                 "MonitoringBaseline", "Evaluate", "Champion", "ModelBiasBaseline",
                 "ExplainabilityBaseline", "Fingerprint", "Register-RegisterModel"):  # fmt: skip
        assert name in steps, name
    parameters = {p["Name"] for p in definition["Parameters"]}
    assert parameters == {
        "InputDataUrl",
        "ProcessingInstanceType",
        "ImportManifestUrl",
        "CodeVersion",
        "TriggerReason",
    }
    # The rule pack's SM5 (the same rules as a team's definition, without a context).
    assert check_definition(definition, vpc=True) == []


def test_the_packaged_archive_is_what_evaluation_sees_and_the_seal_registers(
    churn_vpc: dict[str, Any],
) -> None:
    definition, _ = _definition(churn_vpc)
    steps = pipeline_steps(definition)
    package = steps["Package"]["Arguments"]
    [imported] = [i for i in package["ProcessingInputs"] if i["InputName"] == "import"]
    assert imported["S3Input"]["S3Uri"] == {
        "Get": "Steps.CheckImport.OutputParameters['model_uri']"
    }
    [code] = [i for i in package["ProcessingInputs"] if i["InputName"] == "code"]
    assert code["S3Input"]["S3Uri"] == PACKAGE_CODE_PLACEHOLDER  # the platform's script
    arguments = package["AppSpecification"]["ContainerArguments"]
    checked = arguments[arguments.index("--expected-sha256") + 1]
    assert checked == {"Get": "Steps.CheckImport.OutputParameters['artifact_sha256']"}
    assert package["NetworkConfig"]["EnableNetworkIsolation"] is True
    packaged = {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Steps.Package.ProcessingOutputConfig.Outputs['model'].S3Output.S3Uri"},
                "model.tar.gz",
            ],
        }
    }  # fmt: skip
    [model] = [i for i in steps["Evaluate"]["Arguments"]["ProcessingInputs"]
               if i["InputName"] == "model"]  # fmt: skip
    assert model["S3Input"]["S3Uri"] == packaged
    assert steps["Fingerprint"]["Arguments"]["model_uri"] == packaged
    register = steps["Register-RegisterModel"]["Arguments"]
    assert register["ModelApprovalStatus"] == "PendingManualApproval"
    metadata = register["CustomerMetadataProperties"]
    assert metadata["ImportManifestUrl"] == {"Get": "Parameters.ImportManifestUrl"}
    assert metadata["ImportedArtifactSha256"] == {
        "Get": "Steps.CheckImport.OutputParameters['artifact_sha256']"
    }
    assert register["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == {
        "Get": "Steps.Fingerprint.OutputParameters['model_uri']"
    }
    rejected = pipeline_steps(definition)["ImportRejected"]["Arguments"]["ErrorMessage"]
    assert {"Get": "Steps.CheckImport.OutputParameters['reason']"} in rejected["Std:Join"]["Values"]


def test_a_manifest_under_imports_invokes_the_function_with_retries_and_dead_letters(
    churn_vpc: dict[str, Any],
) -> None:
    function_id, function = _function(churn_vpc, "mlops-dev-churn-model-import")
    [rule] = [
        r
        for r in _typed(churn_vpc, "AWS::Events::Rule").values()
        if r["Targets"][0]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    assert rule["EventPattern"]["detail"]["object"] == {
        "key": [{"wildcard": "imports/*/import.json"}]
    }
    assert rule["EventPattern"]["detail"]["bucket"]["name"] == [
        "mlops-dev-churn-artifacts-123456789012"
    ]
    target = rule["Targets"][0]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert "DeadLetterConfig" in target and "DeadLetterConfig" in function
    assert function["VpcConfig"]["SubnetIds"]  # VPC mode: in the isolated subnets
    environment = function["Environment"]["Variables"]
    assert environment["PIPELINE_NAME"] == "mlops-dev-churn-import"
    assert environment["IMPORTS_PREFIX"] == "imports/"
    assert environment["MAX_ARTIFACT_BYTES"] == str(10 * 1024**3)
    assert environment["CODE_VERSION_PARAMETER"] == "/mlops-dev-churn/ml/code-version"
    assert (environment["EXPECTED_FRAMEWORK"], environment["EXPECTED_FRAMEWORK_VERSION"]) == (
        "xgboost",
        "1.7-1",
    )


def test_a_failed_or_rejected_import_notifies_like_a_failed_training(
    churn_vpc: dict[str, Any],
) -> None:
    rules = _typed(churn_vpc, "AWS::Events::Rule").values()
    [failed] = [r for r in rules if "execution failed" in r.get("Description", "")]
    arns = failed["EventPattern"]["detail"]["pipelineArn"]
    assert [a.rsplit("/", 1)[1] for a in arns] == [
        "mlops-dev-churn-training",
        "mlops-dev-churn-import",
    ]
    alarms = _typed(churn_vpc, "AWS::CloudWatch::Alarm").values()
    [alarm] = [a for a in alarms if a["AlarmName"] == "mlops-dev-churn-training-failed"]
    assert "import rejected" in alarm["AlarmDescription"]


def test_the_expected_serving_follows_the_project(example_synth: Synthesized) -> None:
    _, demand = _function(_build(example_synth, "demand"), "mlops-dev-demand-model-import")
    assert demand["Environment"]["Variables"]["EXPECTED_FRAMEWORK"] == "sklearn"
    assert demand["Environment"]["Variables"]["EXPECTED_FRAMEWORK_VERSION"] == "1.2-1"
    _, fraud = _function(_build(example_synth, "fraud"), "mlops-dev-fraud-model-import")
    variables = fraud["Environment"]["Variables"]
    assert variables["EXPECTED_IMAGE"].endswith("/fraud-serve:1.4.0")
    assert "EXPECTED_FRAMEWORK" not in variables
    # demand tunes its training; its import pipeline trains nothing, so tunes nothing.
    definition, _ = _definition(_build(example_synth, "demand"))
    assert not {"Tune", "Train"} & set(pipeline_steps(definition))
    assert "Tune" in pipeline_steps(
        json.loads(
            sagemaker_pipeline(_build(example_synth, "demand"))["PipelineDefinition"][
                "PipelineDefinitionBody"
            ]["Fn::Sub"][0]
        )
    )


def test_off_by_default(default_synth: Synthesized) -> None:
    resources = _build(default_synth, "churn")
    names = [p["PipelineName"] for p in _typed(resources, "AWS::SageMaker::Pipeline").values()]
    assert names == ["mlops-dev-churn-training"]
    assert not [k for k in resources if k.startswith("ModelImport")]


def test_the_packaging_script_ships_with_the_construct_library() -> None:
    assert PACKAGE_SCRIPT.is_file()
    assert PACKAGE_SCRIPT.parent.parent.name == "assets"


def test_imported_serving_is_a_framework_or_an_image() -> None:
    assert ImportedServing(image="i").environment() == {"EXPECTED_IMAGE": "i"}
    for bad in (
        {},
        {"framework": "sklearn"},
        {"framework": "f", "framework_version": "1", "image": "i"},
    ):
        with pytest.raises(ValueError, match="framework and its version, or the serving image"):
            ImportedServing(**bad)


def test_a_team_owned_pipeline_cannot_import() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(
            {"projects": [churn(build={"pipeline": "custom", "model_import": {"enabled": True}})]}
        )
    message = str(raised.value)
    assert "build.model_import" in message and "Fix:" in message


@pytest.mark.parametrize("size", [0, 101])
def test_the_artifact_limit_is_bounded(size: int) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"projects": [churn(build={"model_import": {"max_artifact_gib": size}})]})
    assert "max_artifact_gib" in str(raised.value)
