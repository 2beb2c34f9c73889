"""Experiment tracking (issue 16, ADR 0023), as synthesized: project-scoped trials, the Track
step and its function, the optional MLflow tracking server, who may read the runs, and what
the option costs while idle.

The built-in default (``default_synth``: no MLflow) and the VPC-mode app (``vpc_synth``: churn
with MLflow, model imports and every baseline option; sales builds its own pipeline). The rule
packs, cfn-lint and checkov run over vpc_synth in tests/test_guardrails.py;
tests/test_governance.py and tests/test_isolation.py simulate who may write and read the runs;
the function's own behaviour is lambda/experiment_tracking's tests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_constructs.security.pipeline_rules import check_definition
from mlops_constructs.training.definition import TRACKING_OUTPUTS, TRACKING_PLACEHOLDER
from mlops_constructs.training.tracking import MLFLOW_READS, MLFLOW_WRITES, MlflowSettings
from stacks.config import ConfigError, parse_config
from tests.conftest import TEAM_PIPELINE, Synthesized, churn
from tests.templates import as_list, pipeline_steps, policy_statements, sagemaker_pipeline
from tools.idle_cost import report_for_templates

ACCOUNT, REGION = "123456789012", "us-east-1"
SM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
PREFIX = "mlops-dev-churn"
FUNCTION = f"{PREFIX}-experiment-tracking"
SERVER = f"{PREFIX}-mlflow"


def _stack(synth: Synthesized, layer: str, project: str = "churn") -> dict[str, Any]:
    stack = getattr(synth.stages["dev"].projects[project], layer)
    assert stack is not None
    resources: dict[str, Any] = synth.template_json(stack)["Resources"]
    return resources


def _typed(resources: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources.values() if r["Type"] == kind]


def _definition(resources: dict[str, Any], suffix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    body, variables = sagemaker_pipeline(resources, suffix)["PipelineDefinition"][
        "PipelineDefinitionBody"
    ]["Fn::Sub"]
    definition: dict[str, Any] = json.loads(body)
    return definition, variables


def _function(resources: dict[str, Any], name: str = FUNCTION) -> dict[str, Any]:
    [function] = [
        f for f in _typed(resources, "AWS::Lambda::Function") if f["FunctionName"] == name
    ]
    return function


def _actions(statements: Any) -> set[str]:
    return {a for s in statements for a in as_list(s["Action"])}


def _definitions(default_synth: Synthesized, vpc_synth: Synthesized) -> list[dict[str, Any]]:
    vpc = _stack(vpc_synth, "build")
    return [
        _definition(_stack(default_synth, "build"), "-training")[0],
        _definition(vpc, "-training")[0],
        _definition(vpc, "-import")[0],
    ]


# --- the definitions ----------------------------------------------------------------------------


def test_each_execution_is_a_project_scoped_trial(
    default_synth: Synthesized, vpc_synth: Synthesized
) -> None:
    """<pipeline>-<execution id> (e.g. mlops-dev-churn-training-k1ls9tc3wnw6): a name prefix
    IAM can grant, under SageMaker's 120-character limit (the prefix is at most 40: its
    artifacts bucket's limit)."""
    for definition in _definitions(default_synth, vpc_synth):
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
        }
    assert len("x" * 40 + "-training-" + "k1ls9tc3wnw6") <= 120


def test_the_track_step_records_every_evaluated_run_before_the_gates(
    default_synth: Synthesized, vpc_synth: Synthesized
) -> None:
    for definition in _definitions(default_synth, vpc_synth):
        steps = pipeline_steps(definition)
        track = steps["Track"]
        assert track["Type"] == "Lambda" and track["FunctionArn"] == TRACKING_PLACEHOLDER
        assert [o["OutputName"] for o in track["OutputParameters"]] == list(TRACKING_OUTPUTS)
        assert steps["QualityGate"]["DependsOn"] == ["Track"]
        arguments = track["Arguments"]
        assert arguments["champion_verdict"] == {
            "Get": "Steps.Champion.OutputParameters['verdict']"
        }
        assert arguments["evaluation_uri"]["Std:Join"]["Values"][1] == "evaluation.json"
        assert arguments["code_uri"]["Std:Join"]["Values"][1] == {"Get": "Parameters.CodeVersion"}
        # The MLOps pack's SM5 (the pipeline rules, without a context) holds with the step.
        assert check_definition(definition) == []
    training, imported = _definitions(default_synth, vpc_synth)[1:]
    assert pipeline_steps(training)["Track"]["Arguments"]["training_job"] == {
        "Get": "Steps.Train.TrainingJobName"
    }
    assert pipeline_steps(imported)["Track"]["Arguments"]["training_job"] == "none"
    assert pipeline_steps(imported)["Track"]["Arguments"]["import_manifest"] == {
        "Get": "Parameters.ImportManifestUrl"
    }
    hyperparameters = json.loads(pipeline_steps(training)["Track"]["Arguments"]["hyperparameters"])
    assert hyperparameters == {"eta": "0.1", "max_depth": "4", "num_round": "200"}


def test_both_pipelines_call_the_tracking_function_which_their_role_may_invoke(
    vpc_synth: Synthesized,
) -> None:
    build = _stack(vpc_synth, "build")
    [function_id] = [
        k
        for k, r in build.items()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["FunctionName"] == FUNCTION
    ]
    for suffix in ("-training", "-import"):
        variables = _definition(build, suffix)[1]
        assert variables["TrackingFunctionArn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    [invoke] = [
        s
        for s in policy_statements(build, f"{PREFIX}-sagemaker-pipeline")
        if s.get("Sid") == "TrackStep"
    ]
    assert invoke["Action"] == "lambda:InvokeFunction"
    assert invoke["Resource"] == {"Fn::GetAtt": [function_id, "Arn"]}


def test_a_team_owned_pipeline_has_no_track_step_nor_function(vpc_synth: Synthesized) -> None:
    """ADR 0016's rules admit the champion and fingerprint functions only."""
    build = _stack(vpc_synth, "build", TEAM_PIPELINE)
    names = {f["FunctionName"] for f in _typed(build, "AWS::Lambda::Function")}
    assert f"mlops-dev-{TEAM_PIPELINE}-experiment-tracking" not in names
    statements = policy_statements(build, f"mlops-dev-{TEAM_PIPELINE}-sagemaker-pipeline")
    assert "TrackStep" not in {s.get("Sid") for s in statements}
    assert not _typed(build, "AWS::SageMaker::MlflowTrackingServer")


# --- the function ---------------------------------------------------------------------------------


def test_the_function_and_exactly_what_it_may_do(vpc_synth: Synthesized) -> None:
    build = _stack(vpc_synth, "build")
    function = _function(build)
    assert function["Environment"]["Variables"] == {
        "PROJECT_PREFIX": PREFIX,
        "ARTIFACTS_BUCKET": f"{PREFIX}-artifacts-{ACCOUNT}",
        "REPORT_SECTION": "binary_classification_metrics",
        "GATE_METRIC": "auc",
        "GATE_DIRECTION": "maximize",
        "GATE_THRESHOLD": "0.75",
        "MLFLOW_TRACKING_SERVER_ARN": f"{SM}:mlflow-tracking-server/{SERVER}",
        "MLFLOW_URL": f"https://{REGION}.experiments.sagemaker.aws",
    }
    assert (function["Timeout"], function["ReservedConcurrentExecutions"]) == (300, 2)
    assert function["VpcConfig"]["SubnetIds"]  # VPC mode
    statements = {s.get("Sid", "grant"): s for s in policy_statements(build, FUNCTION)}
    records = f"{SM}:experiment-trial-component/{PREFIX}-*"
    assert statements["RunRecords"]["Resource"] == records
    assert sorted(statements["RunRecords"]["Action"]) == [
        "sagemaker:CreateTrialComponent",
        "sagemaker:DescribeTrialComponent",
        "sagemaker:UpdateTrialComponent",
    ]
    assert statements["RunRecordTrials"]["Action"] == "sagemaker:AssociateTrialComponent"
    assert sorted(statements["RunRecordTrials"]["Resource"]) == [
        records,
        f"{SM}:experiment-trial/{PREFIX}-*",
    ]
    assert statements["MlflowRuns"]["Resource"] == f"{SM}:mlflow-tracking-server/{SERVER}"
    assert sorted(statements["MlflowRuns"]["Action"]) == sorted(MLFLOW_WRITES)
    reads = [s for s in policy_statements(build, FUNCTION) if "s3:GetObject*" in s["Action"]]
    assert [r for s in reads for r in s["Resource"] if "/" in r.split(":::")[-1]] == [
        f"arn:aws:s3:::{PREFIX}-artifacts-{ACCOUNT}/pipelines/*/evaluation/*"
    ]
    actions = _actions(statements.values())
    assert not {a for a in actions if a.startswith(("s3:Put", "s3:Delete", "sagemaker:Delete"))}


def test_without_mlflow_the_function_logs_to_experiments_only(default_synth: Synthesized) -> None:
    build = _stack(default_synth, "build")
    variables = _function(build)["Environment"]["Variables"]
    assert "MLFLOW_URL" not in variables and "MLFLOW_TRACKING_SERVER_ARN" not in variables
    assert "MlflowRuns" not in {s.get("Sid") for s in policy_statements(build, FUNCTION)}
    assert not _typed(build, "AWS::SageMaker::MlflowTrackingServer")
    data = default_synth.template_json(default_synth.stages["dev"].data)["Resources"]
    assert not _typed(data, "AWS::EC2::VPCEndpoint")


# --- MLflow ------------------------------------------------------------------------------------


def test_the_mlflow_server_keeps_its_artifacts_in_the_project_bucket(
    vpc_synth: Synthesized,
) -> None:
    build = _stack(vpc_synth, "build")
    [server] = _typed(build, "AWS::SageMaker::MlflowTrackingServer")
    [role_id] = [
        k
        for k, r in build.items()
        if r["Type"] == "AWS::IAM::Role" and r["Properties"]["RoleName"] == SERVER
    ]
    assert {k: v for k, v in server.items() if k != "Tags"} == {
        "TrackingServerName": SERVER,
        "TrackingServerSize": "Small",
        "ArtifactStoreUri": f"s3://{PREFIX}-artifacts-{ACCOUNT}/mlflow",
        "AutomaticModelRegistration": False,
        "RoleArn": {"Fn::GetAtt": [role_id, "Arn"]},
    }
    assert build[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
        }
    ]
    statements = {s["Sid"]: s for s in policy_statements(build, SERVER)}
    assert set(statements) == {"ArtifactStore", "ArtifactStoreListing", "ArtifactStoreKey"}
    assert statements["ArtifactStore"]["Resource"] == (
        f"arn:aws:s3:::{PREFIX}-artifacts-{ACCOUNT}/mlflow/*"
    )
    assert statements["ArtifactStoreListing"]["Condition"] == {
        "StringLike": {"s3:prefix": ["mlflow/*"]}
    }
    assert statements["ArtifactStoreKey"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    }


def test_vpc_mode_adds_mlflows_endpoint_and_lets_the_server_reach_its_store(
    vpc_synth: Synthesized,
) -> None:
    """The function reaches MLflow through aws.sagemaker.<region>.experiments; SageMaker runs
    the server outside the VPC, so the artifacts bucket exempts its role (exact ARN) from the
    S3-endpoint-only statement (its own policy limits it to mlflow/)."""
    data = vpc_synth.template_json(vpc_synth.stages["dev"].data)["Resources"]
    services = [json.dumps(e["ServiceName"]) for e in _typed(data, "AWS::EC2::VPCEndpoint")]
    assert sum("experiments" in s for s in services) == 1
    project = _stack(vpc_synth, "data")
    [policy] = [
        p["PolicyDocument"]
        for p in _typed(project, "AWS::S3::BucketPolicy")
        if "LakeArtifacts" in json.dumps(p["Bucket"])
    ]
    [vpc_only] = [s for s in policy["Statement"] if s.get("Sid") == "OnlyThroughVpcEndpoint"]
    assert vpc_only["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{ACCOUNT}:role/{SERVER}"
    ]


def test_data_scientists_read_their_projects_runs_operators_their_records(
    vpc_synth: Synthesized,
) -> None:
    access = _stack(vpc_synth, "access")
    scientist = policy_statements(access, f"{PREFIX}-data-scientist")
    granted = {(a, json.dumps(s["Resource"])) for s in scientist for a in _actions([s])}
    for action, resource in (
        ("sagemaker:DescribeExperiment", f"{SM}:experiment/{PREFIX}-*"),
        ("sagemaker:DescribeTrial", f"{SM}:experiment-trial/{PREFIX}-*"),
        ("sagemaker:DescribeTrialComponent", f"{SM}:experiment-trial-component/{PREFIX}-*"),
        (
            "sagemaker:CreatePresignedMlflowTrackingServerUrl",
            f"{SM}:mlflow-tracking-server/{SERVER}",
        ),
        *((a, f"{SM}:mlflow-tracking-server/{SERVER}") for a in MLFLOW_READS),
        ("sagemaker-mlflow:AccessUI", "*"),
    ):
        assert (action, json.dumps(resource)) in granted, action
    writes = {a for a in MLFLOW_WRITES if a.split(":")[1].startswith(("Create", "Log", "Update"))}
    assert len(writes) == 4 and not {a for a, _ in granted} & writes
    # No list or search: those would show every project's runs.
    assert not {a for a, _ in granted} & {
        "sagemaker:Search",
        "sagemaker:ListTrialComponents",
        "sagemaker:ListTrials",
        "sagemaker:ListExperiments",
    }
    operator = _actions(policy_statements(access, f"{PREFIX}-operator"))
    assert "sagemaker:DescribeTrialComponent" in operator
    assert not {a for a in operator if "mlflow" in a.lower()}


# --- configuration -------------------------------------------------------------------------------


def test_mlflow_is_off_by_default_and_configurable() -> None:
    project = parse_config({"projects": [churn()]}).projects[0]
    assert project.build.experiments.mlflow.enabled is False
    configured = parse_config(
        {
            "projects": [
                churn(
                    build={
                        "experiments": {
                            "mlflow": {"enabled": True, "size": "Medium", "version": "2.16"}
                        }
                    }
                )
            ]
        }
    ).projects[0]
    mlflow = configured.build.experiments.mlflow
    assert (mlflow.enabled, mlflow.size, mlflow.version) == (True, "Medium", "2.16")
    with pytest.raises(ValueError, match="Small, Medium or Large"):
        MlflowSettings(size="Huge")


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"build": {"pipeline": "custom", "experiments": {"mlflow": {"enabled": True}}}},
            "build.experiments.mlflow",
        ),
        (
            {"build": {"experiments": {"mlflow": {"enabled": True, "size": "Huge"}}}},
            "build.experiments.mlflow.size",
        ),
        (
            {"build": {"experiments": {"mlflow": {"enabled": True, "version": "latest"}}}},
            "not an MLflow version",
        ),
        ({"build": {"experiments": {"mlfow": {"enabled": True}}}}, "mlfow"),
    ],
    ids=["custom-pipeline", "size", "version", "misspelt"],
)
def test_configuration_errors_name_the_field_and_the_fix(
    settings: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"projects": [churn(**settings)]})
    assert expected in str(raised.value)


def test_mlflow_is_refused_in_the_china_regions() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(
            {
                "environments": [{"name": "dev", "account": ACCOUNT, "region": "cn-north-1"}],
                "projects": [churn(build={"experiments": {"mlflow": {"enabled": True}}})],
            }
        )
    message = str(raised.value)
    assert "cn-north-1" in message and "Fix: set build.experiments.mlflow.enabled: false" in message


# --- idle cost -------------------------------------------------------------------------------------


def test_make_cost_prices_the_server_and_not_the_function(
    default_synth: Synthesized, vpc_synth: Synthesized
) -> None:
    vpc = {"Resources": _stack(vpc_synth, "build")}
    default = {"Resources": _stack(default_synth, "build")}
    report = report_for_templates({"vpc": vpc, "default": default})
    by_id = {(line.stack, line.logical_id): line for line in report.lines}
    [server] = [
        line
        for line in report.lines
        if line.resource_type == "AWS::SageMaker::MlflowTrackingServer"
    ]
    assert server.stack == "vpc" and server.monthly_usd == pytest.approx(0.642 * 730)
    for stack in ("vpc", "default"):
        [function_id] = [
            k
            for k, r in (vpc if stack == "vpc" else default)["Resources"].items()
            if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["FunctionName"] == FUNCTION
        ]
        assert by_id[(stack, function_id)].monthly_usd == 0.0
        assert by_id[(stack, function_id)].kind == "free"
