"""The platform's pipeline rules (mlops_constructs/security/pipeline_rules.py), which CI runs on a
team's own definition (``build.pipeline: custom``) and the MLOps rule pack's SM5 runs at synth:
the platform's standard definition complies with a matching context, each defect is found at its
step under its rule, the report says what and how to fix it, and the command's exits."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_constructs.security import pipeline_rules
from mlops_constructs.security.pipeline_rules import (
    PIPELINE,
    RULES,
    ContextError,
    DefinitionError,
    Finding,
    PipelineContext,
    check_definition,
    main,
    pipeline_steps,
    report,
)
from mlops_constructs.training.definition import (
    CHAMPION_PLACEHOLDER,
    FINGERPRINT_PLACEHOLDER,
    KEY_PLACEHOLDER,
    SECURITY_GROUP_PLACEHOLDER,
    SUBNETS_PLACEHOLDER,
    Attributions,
    PipelineImages,
    PipelineSpec,
    QualityGate,
    build_definition,
)
from tests.python_code import imported_modules

MODULE = Path(pipeline_rules.__file__)
ACCOUNT, REGION = "111111111111", "eu-west-1"
PREFIX = "mlops-dev-sales"
ARTIFACTS = f"{PREFIX}-artifacts-{ACCOUNT}"
CURATED = f"{PREFIX}-curated-{ACCOUNT}"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
CONTEXT: dict[str, Any] = {
    "format": 1,
    "project": "sales",
    "pipeline_name": f"{PREFIX}-training",
    "partition": "aws",
    "region": REGION,
    "account": ACCOUNT,
    "role_arn": f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-sagemaker-pipeline",
    "kms_key_arn": KEY,
    "artifacts_bucket": ARTIFACTS,
    "curated_bucket": CURATED,
    "input_data_url": f"s3://{CURATED}/sales/",
    "code_uri": f"s3://{ARTIFACTS}/ml/code",
    "monitoring_code_uri": f"s3://cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/abc.py",
    "model_package_group": f"{PREFIX}-models",
    "champion_function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}-champion",
    "fingerprint_function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}-fingerprint",
    "subnets": [],
    "security_groups": [],
    "processing_instance_type": "ml.m5.large",
    "training_instance_type": "ml.m5.large",
    "images": {"training": "t:1", "serving": "s:1", "processing": "p:1", "platform": "k:1"},
    "problem_type": "regression",
    "gate": {"metric": "rmse", "threshold": 10.0, "higher_is_better": False},
}
VPC_CONTEXT = {**CONTEXT, "subnets": ["subnet-aaa", "subnet-bbb"], "security_groups": ["sg-111"]}
IMAGES = PipelineImages(training="t:1", serving="s:1", processing="p:1", platform="k:1")


def _spec(**changes: Any) -> PipelineSpec:
    """The sales project's standard pipeline as stacks/build_stack.py's pipeline_spec and
    TrainingPipeline make it, but without the Track step: open monitoring baseline on, Clarify's
    model baselines off."""
    fields: dict[str, Any] = {
        "name": f"{PREFIX}-training",
        "region": REGION,
        "role_arn": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{PREFIX}-sagemaker-pipeline",
        "artifacts_bucket": ARTIFACTS,
        "input_data_uri": f"s3://{CURATED}/sales/",
        "model_package_group": f"{PREFIX}-models",
        "images": IMAGES,
        "problem_type": "regression",
        "gate": QualityGate(metric="rmse", threshold=10.0, higher_is_better=False),
        "description": f"Model of project sales, trained by {PREFIX}-training",
        "serving_columns": ("day_of_week", "price"),
        "monitoring_baseline": True,
        "model_baselines": False,
        "clarify_endpoint_prefix": f"{PREFIX}-clarify",
        # A team's definition has no Track step (ADR 0023: the platform's functions it may call
        # are the champion's and the fingerprint's).
        "experiment_tracking": False,
    }
    return PipelineSpec(**{**fields, **changes})


def _deployed(text: str, context: dict[str, Any]) -> dict[str, Any]:
    """The definition as CloudFormation's Fn::Sub deploys it (TrainingPipeline's variables)."""
    bucket, key = context["monitoring_code_uri"].removeprefix("s3://").split("/", 1)
    values = {
        KEY_PLACEHOLDER: context["kms_key_arn"],
        CHAMPION_PLACEHOLDER: context["champion_function_arn"],
        FINGERPRINT_PLACEHOLDER: context["fingerprint_function_arn"],
        "${AWS::Partition}": context["partition"],
        "${AWS::AccountId}": context["account"],
        "${MonitoringCodeBucket}": bucket,
        "${MonitoringCodeKey}": key,
        SUBNETS_PLACEHOLDER: '","'.join(context["subnets"]),
        SECURITY_GROUP_PLACEHOLDER: ",".join(context["security_groups"]),
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    assert "${" not in text
    definition: dict[str, Any] = json.loads(text)
    return definition


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    """The standard definitions (placeholders in), built once: the SDK takes seconds."""
    churn = {
        "problem_type": "binary_classification",
        "gate": QualityGate(metric="auc", threshold=0.75),
        "serving_columns": ("tenure_months", "monthly_charges", "contract_type"),
        "hyperparameters": {"num_round": "200", "max_depth": "4"},
        "attributions": Attributions(
            prediction_field="churned", probability_field="churn_probability"
        ),
    }
    return {
        "standard": build_definition(_spec()),
        "vpc": build_definition(_spec(vpc=True)),
        "churn": build_definition(_spec(**churn)),
        # Every option of the standard definition, Model Monitor's and Clarify's included.
        "options": build_definition(
            _spec(
                **churn,
                vpc=True,
                debugger_rules=("loss_not_decreasing", "overfit"),
                data_quality_baseline=True,
                model_quality_constraints=True,
                bias_baseline=True,
                model_baselines=True,
            )
        ),
    }


@pytest.fixture(scope="module")
def compliant(built: dict[str, str]) -> dict[str, Any]:
    return _deployed(built["standard"], CONTEXT)


@pytest.fixture(scope="module")
def compliant_vpc(built: dict[str, str]) -> dict[str, Any]:
    return _deployed(built["vpc"], VPC_CONTEXT)


def _context(**changes: Any) -> PipelineContext:
    return PipelineContext.from_json(json.dumps({**CONTEXT, **changes}))


def _found(findings: list[Finding]) -> list[tuple[str, str]]:
    return sorted((f.step, f.code) for f in findings)


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Name"]: s for s in pipeline_steps(definition)}


# --- the standard definition complies ---------------------------------------------------------


def test_the_standard_definition_complies_with_its_context(
    compliant: dict[str, Any], compliant_vpc: dict[str, Any]
) -> None:
    assert check_definition(compliant, PipelineContext.from_json(json.dumps(CONTEXT))) == []
    vpc = PipelineContext.from_json(json.dumps(VPC_CONTEXT))
    assert vpc.vpc
    assert check_definition(compliant_vpc, vpc) == []
    # Every kind of step the rules know is in it, also inside the condition branches.
    kinds = {s["Type"] for s in pipeline_steps(compliant)}
    assert kinds == {"Processing", "Training", "Lambda", "Condition", "Fail", "RegisterModel"}
    assert len(pipeline_steps(compliant)) == 13


def test_the_synthesized_definitions_pass_the_synth_time_rules(built: dict[str, str]) -> None:
    """What SM5 sees at synth (placeholders in, no context) passes, VPC mode included, for the
    churn project's defaults and every closed-service option (QualityCheck steps, Clarify)."""
    assert check_definition(json.loads(built["standard"])) == []
    assert check_definition(json.loads(built["churn"])) == []
    options = json.loads(built["options"])
    assert check_definition(options, vpc=True) == []
    kinds = {s["Type"] for s in pipeline_steps(options)}
    assert {"QualityCheck", "Model"} <= kinds


def test_without_a_context_only_the_synth_time_rules_run() -> None:
    def job(kind: str, name: str) -> dict[str, Any]:
        if kind == "Training":
            return {"Name": name, "Type": kind, "Arguments": {"ResourceConfig": {}}}
        outputs: dict[str, Any] = {"ProcessingOutputConfig": {"Outputs": []}}
        return {"Name": name, "Type": kind, "Arguments": outputs}

    register = {
        "Name": "Register",
        "Type": "RegisterModel",
        "Arguments": {"ModelApprovalStatus": "Approved", "ModelPackageGroupName": "other"},
    }
    definition = {
        "Steps": [
            job("Processing", "Prep"),
            job("QualityCheck", "Quality"),
            {
                "Name": "Gate",
                "Type": "Condition",
                "Arguments": {
                    "IfSteps": [job("Training", "Train"), register],
                    "ElseSteps": [job("ClarifyCheck", "Bias")],
                },
            },
            {"Name": "Shadow", "Type": "Transform", "Arguments": {}},
            {"Name": "Other", "Type": "Lambda", "FunctionArn": "arn:aws:lambda:x"},
        ]
    }
    codes = ["VolumeKmsKeyId", "OutputKmsKeyId", "InterContainerTrafficEncryption"]
    jobs = [(step, code) for step in ("Prep", "Quality", "Train", "Bias") for code in codes]
    assert _found(check_definition(definition)) == sorted(
        [*jobs, ("Register", "ModelApprovalStatus")]
    )
    in_vpc = _found(check_definition(definition, vpc=True))
    assert sorted(set(in_vpc) - set(jobs)) == sorted(
        [("Register", "ModelApprovalStatus")]
        + [(step, "VpcConfig") for step in ("Bias", "Prep", "Quality", "Train")]
    )
    # The order of the rule pack's finding ids (ml_pack SM5: "<StepName>:<Code>").
    assert [f.nag_id for f in check_definition(definition)][:3] == [
        "Prep:VolumeKmsKeyId",
        "Prep:OutputKmsKeyId",
        "Prep:InterContainerTrafficEncryption",
    ]


def test_with_a_context_vpc_mode_is_the_contexts(compliant: dict[str, Any]) -> None:
    assert check_definition(compliant, _context(), vpc=True) == []


# --- one defect, one finding ------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(step: str, *path: str | int, value: Any) -> Mutation:
    def mutate(definition: dict[str, Any]) -> None:
        node: Any = _steps(definition)[step]["Arguments"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _delete(step: str, *path: str) -> Mutation:
    def mutate(definition: dict[str, Any]) -> None:
        node: Any = _steps(definition)[step]["Arguments"]
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


def _set_step(step: str, key: str, value: Any) -> Mutation:
    def mutate(definition: dict[str, Any]) -> None:
        _steps(definition)[step][key] = value

    return mutate


def _parameter_default(name: str, value: Any) -> Mutation:
    def mutate(definition: dict[str, Any]) -> None:
        (parameter,) = [p for p in definition["Parameters"] if p["Name"] == name]
        parameter["DefaultValue"] = value

    return mutate


def _drop_parameter(name: str) -> Mutation:
    def mutate(definition: dict[str, Any]) -> None:
        definition["Parameters"] = [p for p in definition["Parameters"] if p["Name"] != name]

    return mutate


def _status_from_a_parameter(definition: dict[str, Any]) -> None:
    definition["Parameters"].append(
        {"Name": "ApprovalStatus", "Type": "String", "DefaultValue": "PendingManualApproval"}
    )
    register = _steps(definition)["Register-RegisterModel"]["Arguments"]
    register["ModelApprovalStatus"] = {"Get": "Parameters.ApprovalStatus"}


def _add_step(step: dict[str, Any]) -> Mutation:
    def mutate(definition: dict[str, Any]) -> None:
        definition["Steps"].append(step)

    return mutate


def _nested_job(definition: dict[str, Any]) -> None:
    """A processing step without a volume key in the champion gate's else branch."""
    steps = _steps(definition)
    diagnose = copy.deepcopy(steps["Evaluate"])
    diagnose["Name"] = "Diagnose"
    del diagnose["Arguments"]["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"]
    steps["ChampionGate"]["Arguments"]["ElseSteps"].insert(0, diagnose)


def _code_join(first: str) -> Mutation:
    """Evaluate's code input from ``first`` + CodeVersion + ``/src/evaluate.py``."""
    code = ("ProcessingInputs", 3, "S3Input", "S3Uri", "Std:Join", "Values", 0)
    return _set("Evaluate", *code, value=first)


OTHER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/99999999-2222-3333-4444-555555555555"
OUTPUTS = ("ProcessingOutputConfig", "Outputs", 0, "S3Output", "S3Uri", "Std:Join", "Values", 0)
CASES: dict[str, tuple[Mutation, list[tuple[str, str]], str]] = {
    # name: (defect, expected (step, code), a phrase the message or the fix says)
    "volume key missing": (
        _delete("Train", "ResourceConfig", "VolumeKmsKeyId"),
        [("Train", "VolumeKmsKeyId")],
        "ResourceConfig.VolumeKmsKeyId is not set",
    ),
    "output key another key": (
        _set("Evaluate", "ProcessingOutputConfig", "KmsKeyId", value=OTHER_KEY),
        [("Evaluate", "OutputKmsKeyId")],
        "another key",
    ),
    "volume key an alias": (
        _set(
            "Preprocess",
            "ProcessingResources",
            "ClusterConfig",
            "VolumeKmsKeyId",
            value="alias/mlops-dev-data",
        ),
        [("Preprocess", "VolumeKmsKeyId")],
        "sagemaker:VolumeKmsKeyArn compares (an alias or a key id is refused at run time)",
    ),
    "output key a key id": (
        _set("Train", "OutputDataConfig", "KmsKeyId", value=KEY.rsplit("/", 1)[1]),
        [("Train", "OutputKmsKeyId")],
        "is the key id",
    ),
    "inter-container encryption off": (
        _set(
            "MonitoringBaseline",
            "NetworkConfig",
            "EnableInterContainerTrafficEncryption",
            value=False,
        ),
        [("MonitoringBaseline", "InterContainerTrafficEncryption")],
        "is not true",
    ),
    "network isolation off": (
        _set("Train", "EnableNetworkIsolation", value=False),
        [("Train", "NetworkIsolation")],
        "EnableNetworkIsolation is not true",
    ),
    "another role": (
        _set("Evaluate", "RoleArn", value=f"arn:aws:iam::{ACCOUNT}:role/admin"),
        [("Evaluate", "RoleArn")],
        "role/admin",
    ),
    "output to a foreign bucket": (
        _set("Train", "OutputDataConfig", "S3OutputPath", value="s3://elsewhere/models"),
        [("Train", "S3Location")],
        "OutputDataConfig.S3OutputPath writes to s3://elsewhere/models",
    ),
    "output to the curated bucket": (
        _set("Preprocess", *OUTPUTS, value=f"s3://{CURATED}/pipelines"),
        [("Preprocess", "S3Location")],
        "the curated bucket, which pipelines only read",
    ),
    "code from SageMaker's default bucket": (
        _code_join(f"s3://sagemaker-{REGION}-{ACCOUNT}/{PREFIX}-training/code/"),
        [("Evaluate", "S3Location")],
        "explicit S3 URI under s3://mlops-dev-sales-artifacts-111111111111/ml/code/",
    ),
    "a bucket name completed at run time": (
        _set(
            "Evaluate",
            "ProcessingInputs",
            3,
            "S3Input",
            "S3Uri",
            value={
                "Std:Join": {
                    "On": "",
                    "Values": [
                        f"s3://{ARTIFACTS}",
                        {"Get": "Execution.PipelineExecutionId"},
                        "/evaluate.py",
                    ],
                }
            },
        ),
        [("Evaluate", "S3Location")],
        "a bucket not known before the run",
    ),
    "a parameter's default elsewhere": (
        _parameter_default("InputDataUrl", "s3://another-teams-data/sales/"),
        [("Preprocess", "S3Location")],
        "reads s3://another-teams-data/sales/ (the default value of parameter InputDataUrl)",
    ),
    "a Lambda step to a foreign function": (
        _set_step("Champion", "FunctionArn", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:x"),
        [("Champion", "Function")],
        "not one of the platform's functions",
    ),
    "registered as Approved": (
        _set("Register-RegisterModel", "ModelApprovalStatus", value="Approved"),
        [("Register-RegisterModel", "ModelApprovalStatus")],
        "skip the approval",
    ),
    "approval status from a parameter": (
        _status_from_a_parameter,
        [("Register-RegisterModel", "ModelApprovalStatus")],
        "whoever starts a run could set it",
    ),
    "another model package group": (
        _set("Register-RegisterModel", "ModelPackageGroupName", value="mlops-dev-other-models"),
        [("Register-RegisterModel", "ModelPackageGroupName")],
        "not the project's group mlops-dev-sales-models",
    ),
    "model data not from the fingerprint step": (
        _set(
            "Register-RegisterModel",
            "InferenceSpecification",
            "Containers",
            0,
            "ModelDataUrl",
            value={"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
        ),
        [("Register-RegisterModel", "Sealed")],
        "The release check refuses",
    ),
    "a fingerprint from another step": (
        _set(
            "Register-RegisterModel",
            "CustomerMetadataProperties",
            "ModelArtifactSha256",
            value={"Get": "Steps.Champion.OutputParameters['model_sha256']"},
        ),
        [("Register-RegisterModel", "Sealed")],
        "CustomerMetadataProperties.ModelArtifactSha256",
    ),
    "a Transform step": (
        _add_step({"Name": "Score", "Type": "Transform", "Arguments": {}}),
        [("Score", "StepType")],
        "not granted sagemaker:CreateTransformJob",
    ),
    "a Model step": (
        _add_step({"Name": "MakeModel", "Type": "Model", "Arguments": {}}),
        [("MakeModel", "StepType")],
        "not granted sagemaker:CreateModel",
    ),
    "no CodeVersion parameter": (
        _drop_parameter("CodeVersion"),
        [(PIPELINE, "Parameters")],
        "no String parameter CodeVersion",
    ),
    "a finding in a nested condition branch": (
        _nested_job,
        [("Diagnose", "VolumeKmsKeyId")],
        "is not set",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_each_defect_is_found_at_its_step(compliant: dict[str, Any], case: str) -> None:
    mutate, expected, says = CASES[case]
    definition = copy.deepcopy(compliant)
    mutate(definition)
    findings = check_definition(definition, _context())
    assert _found(findings) == sorted(expected)
    assert any(says in f"{f.message} Fix: {f.fix}" for f in findings), findings
    for finding in findings:
        assert RULES[finding.rule].code == finding.code


VPC_CASES: dict[str, tuple[Mutation, list[tuple[str, str]]]] = {
    "no VpcConfig": (_delete("Train", "VpcConfig"), [("Train", "VpcConfig")]),
    "a foreign subnet": (
        _set(
            "Preprocess",
            "NetworkConfig",
            "VpcConfig",
            "Subnets",
            value=["subnet-aaa", "subnet-evil"],
        ),
        [("Preprocess", "VpcConfig")],
    ),
    "another security group": (
        _set("Train", "VpcConfig", "SecurityGroupIds", value=["sg-222"]),
        [("Train", "VpcConfig")],
    ),
}


@pytest.mark.parametrize("case", VPC_CASES)
def test_vpc_mode_defects(compliant_vpc: dict[str, Any], case: str) -> None:
    mutate, expected = VPC_CASES[case]
    definition = copy.deepcopy(compliant_vpc)
    mutate(definition)
    vpc = PipelineContext.from_json(json.dumps(VPC_CONTEXT))
    assert _found(check_definition(definition, vpc)) == expected
    # The synth-time rule sees a missing VpcConfig only.
    missing = expected if case == "no VpcConfig" else []
    assert _found(check_definition(definition, vpc=True)) == missing


def test_without_open_monitoring_the_version_needs_no_monitoring_baseline(
    compliant: dict[str, Any],
) -> None:
    definition = copy.deepcopy(compliant)
    metadata = _steps(definition)["Register-RegisterModel"]["Arguments"]
    del metadata["CustomerMetadataProperties"]["MonitoringBaseline"]
    assert _found(check_definition(definition, _context())) == [
        ("Register-RegisterModel", "Sealed")
    ]
    # (The open monitoring baseline's step reads the monitoring script: here it is foreign.)
    off = check_definition(definition, _context(monitoring_code_uri=None))
    assert _found(off) == [("MonitoringBaseline", "S3Location")]


def test_rules_have_stable_ids_and_say_the_fix() -> None:
    assert list(RULES) == [f"PL{i}" for i in range(1, 14)]
    assert len({r.code for r in RULES.values()}) == len(RULES)
    for rule in RULES.values():
        assert rule.requires.endswith(".") and rule.fix.endswith(".")


# --- the context ------------------------------------------------------------------------------


def test_the_context_parses_and_ignores_unknown_fields() -> None:
    context = PipelineContext.from_json(json.dumps({**CONTEXT, "added_later": {"x": 1}}))
    assert context.kms_key_arn == KEY and context.subnets == () and not context.vpc
    assert context.gate.threshold == 10.0 and context.gate.higher_is_better is False
    assert context.images["platform"] == "k:1"
    assert _context(monitoring_code_uri=None).monitoring_code_uri is None


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"kms_key_arn": None}, "'kms_key_arn'"),
        ({"subnets": "subnet-aaa"}, "'subnets'"),
        (
            {"gate": {"metric": "rmse", "threshold": "10", "higher_is_better": False}},
            "'gate.threshold'",
        ),
        ({"kms_key_arn": "alias/data"}, "'kms_key_arn'"),
        ({"code_uri": "mlops-dev-sales-artifacts/ml/code"}, "'code_uri'"),
        ({"format": 2}, "format is 2"),
        ({"format": True}, "format is true"),
    ],
)
def test_a_bad_context_names_its_field(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(ContextError) as raised:
        _context(**changes)
    assert named in str(raised.value)


def test_a_missing_field_is_named() -> None:
    for field in ("role_arn", "monitoring_code_uri", "gate"):
        data = {k: v for k, v in CONTEXT.items() if k != field}
        with pytest.raises(ContextError, match=f"no field '{field}'"):
            PipelineContext.from_json(json.dumps(data))
    with pytest.raises(ContextError, match="not valid JSON"):
        PipelineContext.from_json("{")


@pytest.mark.parametrize("definition", [[], {}, {"Steps": "Train"}, {"Steps": [1]}])
def test_what_is_not_a_pipeline_definition_is_an_input_error(definition: Any) -> None:
    with pytest.raises(DefinitionError):
        check_definition(definition, _context())


# --- the report and the command ---------------------------------------------------------------


def test_the_report_names_step_rule_and_fix(compliant: dict[str, Any]) -> None:
    definition = copy.deepcopy(compliant)
    _delete("Train", "ResourceConfig", "VolumeKmsKeyId")(definition)
    _set("Register-RegisterModel", "ModelApprovalStatus", value="Approved")(definition)
    _drop_parameter("TriggerReason")(definition)
    text = report(check_definition(definition, _context()), f"{PREFIX}-training")
    assert text.splitlines() == [
        "Pipeline mlops-dev-sales-training: 3 findings, not upserted. Fix every finding and run"
        " the build again.",
        "",
        "(pipeline):",
        "  PL13 Parameters: no String parameter TriggerReason: the platform's trigger starts"
        " every execution with InputDataUrl, CodeVersion, TriggerReason. Fix: Declare"
        " ParameterString InputDataUrl, CodeVersion and TriggerReason and use them.",
        "",
        "Train:",
        "  PL1 VolumeKmsKeyId: ResourceConfig.VolumeKmsKeyId is not set: the job's data would"
        f" not be encrypted with the project's key. Fix: Pass volume_kms_key='{KEY}' to the"
        " estimator: the key's full ARN, which the pipeline role's IAM condition"
        " sagemaker:VolumeKmsKeyArn compares (an alias or a key id is refused at run time).",
        "",
        "Register-RegisterModel:",
        '  PL9 ModelApprovalStatus: ModelApprovalStatus is "Approved": the version would skip'
        ' the approval. Fix: Register with approval_status="PendingManualApproval".',
    ]
    assert (
        report([], "p", steps=13)
        == "Pipeline p complies with the platform's rules (13 steps checked).\n"
    )


def _files(tmp_path: Path, definition: Any, context: Any = CONTEXT) -> list[str]:
    (tmp_path / "definition.json").write_text(
        definition if isinstance(definition, str) else json.dumps(definition)
    )
    (tmp_path / "context.json").write_text(
        context if isinstance(context, str) else json.dumps(context)
    )
    return ["--definition", str(tmp_path / "definition.json"),
            "--context", str(tmp_path / "context.json")]  # fmt: skip


def test_the_command_exits_0_when_it_complies_and_1_with_findings(
    compliant: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main(_files(tmp_path, compliant)) == 0
    assert capsys.readouterr().out == (
        "Pipeline mlops-dev-sales-training complies with the platform's rules (13 steps checked).\n"
    )
    # The context defaults to the environment variable CI sets.
    monkeypatch.setenv("MLOPS_PIPELINE_CONTEXT", json.dumps(CONTEXT))
    assert main(["--definition", str(tmp_path / "definition.json")]) == 0
    capsys.readouterr()
    bad = copy.deepcopy(compliant)
    _set("Train", "EnableNetworkIsolation", value=False)(bad)
    assert main(_files(tmp_path, bad)) == 1
    out, err = capsys.readouterr()
    assert "1 finding, not upserted" in out and "  PL4 NetworkIsolation: " in out and not err


@pytest.mark.parametrize(
    ("definition", "context", "says"),
    [
        (None, CONTEXT, "cannot read the definition"),
        ("{not json", CONTEXT, "is not valid JSON: Expecting property name"),
        ({"Version": "2020-12-01"}, CONTEXT, "has no Steps list"),
        (
            {"Steps": []},
            {k: v for k, v in CONTEXT.items() if k != "kms_key_arn"},
            "context.json: the context has no field 'kms_key_arn'",
        ),
        ({"Steps": []}, {**CONTEXT, "format": 2}, "format is 2"),
        ({"Steps": []}, "[1,", "context.json: the context is not valid JSON"),
    ],
)
def test_a_bad_input_exits_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    definition: Any,
    context: Any,
    says: str,
) -> None:
    argv = _files(tmp_path, definition if definition is not None else {}, context)
    if definition is None:
        (tmp_path / "definition.json").unlink()
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("pipeline_rules: ")
    assert says in err


def test_no_context_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPS_PIPELINE_CONTEXT", raising=False)
    (tmp_path / "d.json").write_text('{"Steps": []}')
    assert main(["--definition", str(tmp_path / "d.json")]) == 2
    assert capsys.readouterr().err == (
        "pipeline_rules: no context: pass --context FILE or set MLOPS_PIPELINE_CONTEXT\n"
    )
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("pipeline_rules: the following arguments")


def test_the_module_runs_standalone_on_the_standard_library(
    compliant: dict[str, Any], tmp_path: Path
) -> None:
    """CI runs the shipped file alone: no site-packages (-S), no platform on the path (-I)."""
    assert imported_modules(MODULE.read_text()) <= set(sys.stdlib_module_names)
    bad = copy.deepcopy(compliant)
    _set("Register-RegisterModel", "ModelApprovalStatus", value="Approved")(bad)
    (tmp_path / "definition.json").write_text(json.dumps(bad))
    run = subprocess.run(
        [sys.executable, "-I", "-S", str(MODULE), "--definition", "definition.json"],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "MLOPS_PIPELINE_CONTEXT": json.dumps(CONTEXT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (run.returncode, run.stderr) == (1, "")
    assert run.stdout.startswith("Pipeline mlops-dev-sales-training: 1 finding, not upserted.")
    assert "Register-RegisterModel:\n  PL9 ModelApprovalStatus: " in run.stdout


def test_a_tuning_step_is_checked_like_a_training_job() -> None:
    """SM5 (no context) checks a tuning job's training job definition; a team's definition
    (with a context) may not tune: its role is not granted tuning jobs."""
    tuning = {
        "Name": "Tune",
        "Type": "Tuning",
        "Arguments": {
            "TrainingJobDefinition": {
                "HyperParameterTuningResourceConfig": {"InstanceType": "ml.m5.large"},
                "OutputDataConfig": {"KmsKeyId": KEY, "S3OutputPath": f"s3://{ARTIFACTS}/m"},
                "EnableInterContainerTrafficEncryption": False,
                "EnableNetworkIsolation": True,
                "RoleArn": CONTEXT["role_arn"],
            }
        },
    }
    findings = check_definition({"Steps": [tuning]})
    assert [(f.step, f.code) for f in findings] == [
        ("Tune", "VolumeKmsKeyId"),
        ("Tune", "InterContainerTrafficEncryption"),
    ]
    contextual = check_definition({"Steps": [tuning]}, PipelineContext.from_dict(CONTEXT))
    assert ("Tune", "PL12") in {(f.step, f.rule) for f in contextual}
