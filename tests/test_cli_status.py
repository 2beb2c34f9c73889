"""``mlops status`` against moto: the registry, pipelines, endpoints and alarms it reads are
created in moto as the platform's stacks and functions name them, and the command is run as
``mlops_cli.main.main([...])`` (exit code, stdout, stderr).

The fixtures and helpers at the top (fake credentials, moto, configurations, the ``Cloud``
builder, AWS errors injected on the command's own clients) are shared with
``tests/test_cli_release.py`` and ``tests/test_cli_run.py``. No CDK synthesis: mlops_cli never
imports aws_cdk.

moto 5.2.5 runs no pipeline steps: every SageMaker pipeline execution it starts is
``Succeeded`` at once, so a failed or running execution is set in moto's own state
(:meth:`Cloud.set_run`). It runs one account, 123456789012: a configuration whose environments
are in other accounts shows what the command does with resources it cannot reach.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
import yaml
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from mlops_cli import session
from mlops_cli.main import main

ACCOUNT = "123456789012"  # moto's
REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "example.yaml"
LAMBDA = ROOT / "lambda"
CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_REGION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "CONFIG",
    "CDK_DEFAULT_ACCOUNT",
    "CDK_DEFAULT_REGION",
)
CODEPIPELINE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codepipeline.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
CONTAINER = {
    "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgb:1",
    "ModelDataUrl": "s3://b/m",
}


# --------------------------------------------------------------------------------------------
# Shared: running the command, credentials, moto


@dataclass
class Result:
    code: int
    out: str
    err: str


def mlops(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """Runs ``mlops <argv>``; its exit code and what it printed."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def failed(result: Result, code: int, *fragments: str) -> None:
    """The command failed with ``code`` and one line on stderr holding every fragment."""
    assert result.code == code, result
    assert result.err.startswith("mlops: ") and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err + result.out
    for fragment in fragments:
        assert fragment in result.err, (fragment, result.err)


@pytest.fixture(name="no_credentials")
def no_credentials_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials anywhere: no variables, credential and config files that do not exist,
    no instance metadata."""
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture(name="cloud")
def cloud_fixture(no_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    """Fake credentials and moto (the other CLI test modules import the fixtures by their
    function names: a test's parameter then shadows no imported name)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield Cloud()


def inject_error(
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
    code: str = "AccessDeniedException",
    parsed: dict[str, Any] | None = None,
) -> list[str]:
    """Every client the command makes answers ``operation`` (e.g. ``sagemaker.UpdateModelPackage``)
    with the error ``code`` (or with ``parsed`` as a 200 response) instead of calling moto, as
    IAM would refuse it; returns the operations answered so."""
    answered: list[str] = []
    original = session.Aws.client

    def answer(model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        answered.append(model.name)
        if parsed is not None:
            return AWSResponse("https://aws", 200, {}, None), parsed
        error = {"Code": code, "Message": f"User is not authorized to perform {model.name}"}
        body = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return AWSResponse("https://aws", 400, {}, None), body

    def client(self: session.Aws, service: str, region: str) -> Any:
        made = original(self, service, region)
        made.meta.events.register(f"before-call.{operation}", answer)
        return made

    monkeypatch.setattr(session.Aws, "client", client)
    return answered


def lambda_handler(folder: str) -> ModuleType:
    """``lambda/<folder>/handler.py``, loaded once under a name of its own (every function's
    module is ``handler``), with the shared layer importable as in Lambda: to check that what a
    command sends is what the platform's function accepts."""
    layer = str(LAMBDA / "_shared" / "python")
    if layer not in sys.path:
        sys.path.insert(0, layer)
    name = f"cli_tests_{folder}_handler"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, LAMBDA / folder / "handler.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# --------------------------------------------------------------------------------------------
# Shared: configurations


def example() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return data


def write_config(tmp_path: Path, data: dict[str, Any], name: str = "platform.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


def delivered(tmp_path: Path, **accounts: str) -> str:
    """config/example.yaml (delivered: dev trains, staging and prod serve, tooling releases),
    every account moto's unless ``accounts`` names another (``staging="222222222222"``), one
    region."""
    data = example()
    for env in data["environments"]:
        env["account"], env["region"] = accounts.get(env["name"], ACCOUNT), REGION
    data["delivery"]["tooling"] = {"account": accounts.get("tooling", ACCOUNT), "region": REGION}
    return write_config(tmp_path, data)


def standalone(
    tmp_path: Path, environments: tuple[str, ...] = ("dev",), batch: bool = False
) -> str:
    """config/example.yaml without delivery: each environment trains and deploys itself; with
    ``batch``, project demand scores in batch."""
    data = copy.deepcopy(example())
    data.pop("delivery")
    data["environments"] = [{"name": n, "account": ACCOUNT, "region": REGION} for n in environments]
    if batch:
        data["projects"][1].setdefault("deploy", {})["batch"] = {"enabled": True}
    return write_config(tmp_path, data)


# --------------------------------------------------------------------------------------------
# Shared: what the platform creates, in moto


class Cloud:
    """Builds in moto what the stacks and functions create (names as the platform gives them)."""

    def client(self, service: str, region: str = REGION) -> Any:
        return boto3.client(service, region_name=region)

    def group(self, name: str = "mlops-dev-churn-models") -> str:
        self.client("sagemaker").create_model_package_group(ModelPackageGroupName=name)
        return name

    def register(
        self,
        group: str = "mlops-dev-churn-models",
        status: str = "PendingManualApproval",
        value: float | None = None,
        verdict: str | None = None,
    ) -> str:
        """A version as the training pipeline's Register step records it (customer metadata)."""
        metadata = {"GateMetric": "auc", "CodeVersion": "abc123"}
        if value is not None:
            metadata["GateMetricValue"] = str(value)
        if verdict is not None:
            metadata["ChampionVerdict"] = verdict
        arn: str = self.client("sagemaker").create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=status,
            CustomerMetadataProperties=metadata,
            InferenceSpecification={
                "Containers": [CONTAINER],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )["ModelPackageArn"]
        return arn

    def status_of(self, arn: str) -> tuple[str, str | None]:
        found = self.client("sagemaker").describe_model_package(ModelPackageName=arn)
        return found["ModelApprovalStatus"], found.get("ApprovalDescription")

    def endpoint(self, name: str, arn: str, promoted: bool = False) -> None:
        """Endpoint ``name`` serving ``arn``: its model names the package, or (a promoted copy,
        as the release pipeline deploys) runs an image and carries the ModelPackageArn tag."""
        sagemaker = self.client("sagemaker")
        model = f"{name}-model-{arn.rsplit('/', 1)[1]}"
        role = f"arn:aws:iam::{ACCOUNT}:role/{name}-endpoint"
        if promoted:
            sagemaker.create_model(
                ModelName=model,
                ExecutionRoleArn=role,
                Containers=[CONTAINER],
                Tags=[{"Key": "ModelPackageArn", "Value": arn}],
            )
        else:
            sagemaker.create_model(
                ModelName=model, ExecutionRoleArn=role, Containers=[{"ModelPackageName": arn}]
            )
        variant = {
            "VariantName": "AllTraffic",
            "ModelName": model,
            "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large",
        }
        sagemaker.create_endpoint_config(EndpointConfigName=model, ProductionVariants=[variant])
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=model)

    def training(self, name: str = "mlops-dev-churn-training", runs: int = 0) -> list[str]:
        """The training pipeline and ``runs`` executions (oldest first)."""
        sagemaker = self.client("sagemaker")
        sagemaker.create_pipeline(
            PipelineName=name,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
        )
        return [
            sagemaker.start_pipeline_execution(
                PipelineName=name, PipelineExecutionDisplayName=f"new-data-run{i}"
            )["PipelineExecutionArn"]
            for i in range(runs)
        ]

    def set_run(self, arn: str, status: str, reason: str | None = None) -> None:
        """moto runs no steps: set an execution's status (and failure reason) in its state."""
        from moto.sagemaker.models import sagemaker_backends

        pipeline = arn.split(":")[5].split("/")[1]
        backend = sagemaker_backends[ACCOUNT][REGION]
        execution: Any = backend.pipelines[pipeline].pipeline_executions[arn]
        execution.pipeline_execution_status = status
        execution.pipeline_execution_failure_reason = reason

    def codepipeline(self, name: str, runs: int = 0, variables: tuple[str, ...] = ()) -> None:
        """A V2 CodePipeline ``name`` (declaring ``variables``) with ``runs`` executions."""
        iam = self.client("iam")
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=CODEPIPELINE_TRUST)
        source = {
            "name": "Source",
            "actionTypeId": {
                "category": "Source",
                "owner": "AWS",
                "provider": "S3",
                "version": "1",
            },
            "configuration": {"S3Bucket": "artifacts-bucket", "S3ObjectKey": "source.zip"},
            "outputArtifacts": [{"name": "Source"}],
        }
        build = {
            "name": "Build",
            "actionTypeId": {
                "category": "Build",
                "owner": "AWS",
                "provider": "CodeBuild",
                "version": "1",
            },
            "configuration": {"ProjectName": name},
            "inputArtifacts": [{"name": "Source"}],
        }
        pipeline = self.client("codepipeline")
        pipeline.create_pipeline(
            pipeline={
                "name": name,
                "roleArn": role["Role"]["Arn"],
                "pipelineType": "V2",
                "artifactStore": {"type": "S3", "location": "artifacts-bucket"},
                "variables": [{"name": v, "defaultValue": "none"} for v in variables],
                "stages": [
                    {"name": "Source", "actions": [source]},
                    {"name": "Build", "actions": [build]},
                ],
            }
        )
        for _ in range(runs):
            pipeline.start_pipeline_execution(name=name)

    def executions(self, name: str) -> list[dict[str, str]]:
        """Each execution's variables (newest first)."""
        pipeline = self.client("codepipeline")
        summaries = pipeline.list_pipeline_executions(pipelineName=name)[
            "pipelineExecutionSummaries"
        ]
        found = []
        for summary in summaries:
            execution = pipeline.get_pipeline_execution(
                pipelineName=name, pipelineExecutionId=summary["pipelineExecutionId"]
            )["pipelineExecution"]
            found.append({v["name"]: v["resolvedValue"] for v in execution.get("variables", [])})
        return found

    def alarm(self, name: str, state: str = "OK") -> None:
        cloudwatch = self.client("cloudwatch")
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="Invocation5XXErrors",
            Namespace="AWS/SageMaker",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        if state != "OK":
            cloudwatch.set_alarm_state(
                AlarmName=name, StateValue=state, StateReason="Threshold Crossed"
            )

    def bus(self, name: str, pattern: dict[str, Any]) -> Callable[[], list[dict[str, Any]]]:
        """Event bus ``name`` with a rule of ``pattern`` (as the stacks' rule) to a queue;
        returns a function that reads the events the rule matched."""
        events, sqs = self.client("events"), self.client("sqs")
        events.create_event_bus(Name=name)
        queue = sqs.create_queue(QueueName=f"{name}-matched")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        events.put_rule(Name=f"{name}-rule", EventBusName=name, EventPattern=json.dumps(pattern))
        events.put_targets(
            Rule=f"{name}-rule",
            EventBusName=name,
            Targets=[{"Id": "matched", "Arn": queue_arn["Attributes"]["QueueArn"]}],
        )

        def matched() -> list[dict[str, Any]]:
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
            return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

        return matched


# --------------------------------------------------------------------------------------------
# mlops status


def history(cloud: Cloud) -> dict[str, str]:
    """Project churn in dev (the built-in configuration) with some history: three versions
    (two approved), staging serving v2 and prod v1, two training runs (the last failed), a CI
    and a deploy run, two of its alarms (one in ALARM) and another project's alarm."""
    cloud.group()
    versions = {
        "v1": cloud.register(status="Approved", value=0.88, verdict="first"),
        "v2": cloud.register(status="Approved", value=0.91, verdict="better"),
        "v3": cloud.register(value=0.93, verdict="better"),
    }
    cloud.endpoint("mlops-dev-churn-staging", versions["v2"])
    cloud.endpoint("mlops-dev-churn-prod", versions["v1"])
    runs = cloud.training(runs=2)
    cloud.set_run(runs[1], "Failed", "QualityGateFailed: auc 0.61 is below 0.75")
    cloud.codepipeline("mlops-dev-churn-ml-cicd", runs=1)
    cloud.codepipeline("mlops-dev-churn-deploy", runs=1, variables=("ModelPackageArn",))
    cloud.alarm("mlops-dev-churn-prod-5xx")
    cloud.alarm("mlops-dev-churn-prod-latency-p99", "ALARM")
    cloud.alarm("mlops-dev-fraud-prod-5xx", "ALARM")  # another project's
    return versions


def test_status_shows_each_part_of_the_project(cloud, capsys):
    history(cloud)

    result = mlops(capsys, "status", "churn")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == f"churn in dev (account {ACCOUNT}, region {REGION})"
    text = result.out
    assert "CI  mlops-dev-churn-ml-cicd\n  Succeeded" in text
    training = text.split("Training  mlops-dev-churn-training\n")[1].splitlines()
    assert training[0].split()[0] == "Failed"  # newest first, with its reason
    assert "new-data-run1  QualityGateFailed: auc 0.61 is below 0.75" in training[0]
    assert training[1].split()[0] == "Succeeded"
    assert "Model versions  mlops-dev-churn-models  (gate: auc >= 0.75)" in text
    versions = [line.split() for line in lines if line.startswith("  v")]
    assert [(v[0], v[1]) for v in versions] == [
        ("v3", "PendingManualApproval"),
        ("v2", "Approved"),
        ("v1", "Approved"),
    ]
    assert "auc 0.93 (pass)  champion better" in text
    assert "auc 0.88 (pass)  champion first" in text
    assert "dev/staging  mlops-dev-churn-staging  InService  v2" in text
    assert "dev/prod     mlops-dev-churn-prod     InService  v1" in text
    assert "Deployment  mlops-dev-churn-deploy\n  Succeeded" in text
    alarms = text.split("Alarms  dev: 2\n")[1].splitlines()
    assert alarms[0].split()[:2] == ["ALARM", "mlops-dev-churn-prod-latency-p99"]
    assert "Threshold Crossed" in alarms[0]
    assert alarms[1].split()[:2] == ["OK", "mlops-dev-churn-prod-5xx"]
    assert "fraud" not in text
    assert result.err == ""


def test_status_json_of_a_delivered_platform(cloud, capsys, tmp_path):
    """config/example.yaml (in one account): dev trains, staging and prod serve promoted copies
    (their version in the model's ModelPackageArn tag), the release pipeline is the tooling
    account's."""
    cloud.group()
    v1 = cloud.register(status="Approved", value=0.9, verdict="first")
    cloud.endpoint("mlops-staging-churn-staging", v1, promoted=True)
    cloud.training()
    cloud.codepipeline("mlops-churn-release", runs=1, variables=("ModelPackageArn",))

    result = mlops(capsys, "--config", delivered(tmp_path), "status", "churn", "--json")

    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["environment"], data["trains"]) == ("dev", True)
    assert data["ci"] == {"pipeline": "mlops-dev-churn-ml-cicd", "deployed": False, "last": None}
    assert data["training"] == {
        "pipeline": "mlops-dev-churn-training",
        "deployed": True,
        "runs": [],
    }
    [version] = data["versions"]["versions"]
    assert (version["version"], version["status"], version["arn"]) == (1, "Approved", v1)
    assert version["gate"] | {"champion_value": None} == {
        "metric": "auc",
        "value": 0.9,
        "threshold": 0.75,
        "direction": "higher",
        "passes": True,
        "champion": "first",
        "champion_value": None,
    }
    serving = [(s["environment"], s["stage"], s["status"], s["version"]) for s in data["serving"]]
    assert serving == [("staging", "staging", "InService", 1), ("prod", "prod", "missing", None)]
    assert data["serving"][0]["model_package_arn"] == v1
    assert data["deployment"]["pipeline"] == "mlops-churn-release"
    assert data["deployment"]["last"]["status"] == "Succeeded"
    assert data["alarms"] == []


def test_missing_pieces_are_shown_as_such(cloud, capsys):
    cloud.group()

    result = mlops(capsys, "status", "churn")

    assert result.code == 0, result.err
    for expected in (
        "CI  mlops-dev-churn-ml-cicd\n  not deployed",
        "Training  mlops-dev-churn-training\n  not deployed",
        "none registered yet",
        "dev/staging  mlops-dev-churn-staging  no endpoint yet",
        "Deployment  mlops-dev-churn-deploy\n  not deployed",
        "Alarms  dev: 0",
    ):
        assert expected in result.out, expected


def test_a_deployed_project_with_no_runs_yet(cloud, capsys):
    cloud.group()
    cloud.training()
    cloud.codepipeline("mlops-dev-churn-ml-cicd")

    result = mlops(capsys, "status", "churn")

    assert result.code == 0, result.err
    assert "CI  mlops-dev-churn-ml-cicd\n  no runs yet" in result.out
    assert "Training  mlops-dev-churn-training\n  no runs yet" in result.out


def test_a_project_that_is_not_deployed_says_so_in_one_sentence(cloud, capsys):
    result = mlops(capsys, "status", "churn")

    failed(
        result,
        1,
        f"project churn is not deployed in dev (account {ACCOUNT}, region {REGION}): there is "
        "no model package group mlops-dev-churn-models",
    )
    assert result.out == ""


def test_a_scale_to_zero_endpoint_serves_its_components_model() -> None:
    """The default production (hosting scale_to_zero, ADR 0014): its endpoint config names no
    model; its inference component, named after the endpoint, does. moto has no inference
    components: SageMaker's answers are stubbed, checked against botocore's service model."""
    import datetime

    import boto3
    from botocore.stub import Stubber

    from mlops_cli.status import Served, served

    endpoint, model = "mlops-dev-churn-prod", "mlops-dev-churn-prod-model-v7"
    package = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/mlops-dev-churn-models/7"
    now = datetime.datetime(2026, 12, 7, tzinfo=datetime.UTC)
    client = boto3.client(
        "sagemaker", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t"
    )
    with Stubber(client) as stub:
        stub.add_response(
            "describe_endpoint_config",
            {
                "EndpointConfigName": "components",
                "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/c",
                "ProductionVariants": [{"VariantName": "AllTraffic"}],
                "CreationTime": now,
            },
            {"EndpointConfigName": "components"},
        )
        stub.add_response(
            "describe_inference_component",
            {
                "InferenceComponentName": endpoint,
                "InferenceComponentArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:x/{endpoint}",
                "EndpointName": endpoint,
                "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{endpoint}",
                "VariantName": "AllTraffic",
                "Specification": {"ModelName": model},
                "RuntimeConfig": {"DesiredCopyCount": 0, "CurrentCopyCount": 0},
                "CreationTime": now,
                "LastModifiedTime": now,
            },
            {"InferenceComponentName": endpoint},
        )
        stub.add_response(
            "describe_model",
            {
                "ModelName": model,
                "ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/{model}",
                "CreationTime": now,
                "PrimaryContainer": {"ModelPackageName": package},
            },
            {"ModelName": model},
        )
        ctx = SimpleNamespace(aws=SimpleNamespace(client=lambda service, region: client))
        serves = served(
            ctx,  # type: ignore[arg-type]
            REGION,
            {"EndpointName": endpoint, "EndpointConfigName": "components"},
        )
        stub.assert_no_pending_responses()
    assert serves == Served(package, copies=0, changed=now)


# One row of ``mlops status``'s serving part (an endpoint in service, version 7).
SERVING_ROW = {
    "environment": "dev",
    "stage": "prod",
    "endpoint": "mlops-dev-churn-prod",
    "status": "InService",
    "version": 7,
    "updating_to": None,
    "failure": None,
}


def test_the_requests_of_a_component_in_the_last_hour() -> None:
    """CloudWatch's Invocations of the component (AWS/SageMaker, InferenceComponentName),
    summed over the hour before now; no datapoint is no request; a refused read is no answer.
    Stubbed: moto's CloudWatch takes no AWS/ namespace."""
    import datetime

    import boto3
    from botocore.stub import Stubber

    from mlops_cli.status import requests_in_window

    now = datetime.datetime(2026, 12, 7, 12, tzinfo=datetime.UTC)
    client = boto3.client(
        "cloudwatch", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t"
    )
    asked = {
        "Namespace": "AWS/SageMaker",
        "MetricName": "Invocations",
        "Dimensions": [{"Name": "InferenceComponentName", "Value": "mlops-dev-churn-prod"}],
        "StartTime": datetime.datetime(2026, 12, 7, 11, tzinfo=datetime.UTC),
        "EndTime": now,
        "Period": 300,
        "Statistics": ["Sum"],
    }
    ctx = SimpleNamespace(aws=SimpleNamespace(client=lambda service, region: client))
    with Stubber(client) as stub:
        points = [{"Timestamp": now, "Sum": 3.0}, {"Timestamp": now, "Sum": 2.0}]
        stub.add_response("get_metric_statistics", {"Datapoints": points}, asked)
        stub.add_response("get_metric_statistics", {"Datapoints": []}, asked)
        # Credentials without the personas' metric read: no hint, and the status goes on.
        stub.add_client_error("get_metric_statistics", "AccessDenied", expected_params=asked)
        counted = [
            requests_in_window(ctx, REGION, "mlops-dev-churn-prod", now)  # type: ignore[arg-type]
            for _ in range(3)
        ]
        stub.assert_no_pending_responses()
    assert counted == [5, 0, None]


def test_serving_counts_the_requests_only_while_copies_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``serving`` asks CloudWatch only when copies have run for the whole window (a stage
    scaled to zero, one of instances, or a component changed minutes ago, as a deployment
    does, costs no call), and puts the count in the row (and so in --json)."""
    import datetime

    from mlops_cli import status

    calls: list[str] = []
    long_ago = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    just_now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=10)
    # (copies, last change) per call of serving
    running: list[tuple[int | None, datetime.datetime | None]] = [
        (1, long_ago),
        (1, None),
        (1, just_now),
        (0, long_ago),
        (None, None),
    ]

    def fake_served(ctx: object, region: str, endpoint: object) -> status.Served:
        copies, changed = running.pop(0)
        return status.Served(None, copies=copies, changed=changed)

    def fake_requests(ctx: object, region: str, component: str, now: object) -> int:
        calls.append(component)
        return 0

    place = SimpleNamespace(
        endpoint=lambda stage: f"mlops-dev-churn-{stage}",
        environment=SimpleNamespace(name="dev"),
        account=ACCOUNT,
        region=REGION,
    )
    client = SimpleNamespace(describe_endpoint=lambda **_: {"EndpointStatus": "InService"})
    ctx = SimpleNamespace(
        aws=SimpleNamespace(caller=lambda: {"account": ACCOUNT}, client=lambda *_: client)
    )
    monkeypatch.setattr(status, "served", fake_served)
    monkeypatch.setattr(status, "requests_in_window", fake_requests)
    rows = [status.serving(ctx, place, "prod") for _ in range(5)]  # type: ignore[arg-type]
    assert calls == ["mlops-dev-churn-prod"] * 2
    assert [(r["copies"], r["requests_last_hour"]) for r in rows] == [
        (1, 0),
        (1, 0),
        (1, None),
        (0, None),
        (None, None),
    ]


def test_copies_running_without_requests_point_to_the_runbook() -> None:
    """A scale_to_zero stage whose copies run an hour after its last request did not scale in
    (ADR 0014: unverifiable offline): an instance bills all day."""
    from mlops_cli.status import _render_serving

    row = dict(SERVING_ROW)
    lines: list[str] = []
    _render_serving(
        lines.append,
        [
            {**row, "copies": 1, "requests_last_hour": 0},
            {**row, "copies": 1, "requests_last_hour": 12},
            {**row, "copies": 0, "requests_last_hour": None},
        ],
    )
    idle, busy, zero = (line.split("InService  ")[1] for line in lines[1:])
    assert idle == (
        "v7  1 copy running, no request in the last hour: not scaling in? "
        "(docs/runbooks.md#endpoint-scaled-to-zero, step 5)"
    )
    assert (busy, zero) == ("v7  1 copy running", "v7  scaled to zero")


def test_a_components_copies_are_shown_beside_its_version() -> None:
    from mlops_cli.status import _render_serving

    row = dict(SERVING_ROW)
    lines: list[str] = []
    _render_serving(
        lines.append, [{**row, "copies": 0}, {**row, "copies": 1}, {**row, "copies": 2}]
    )
    assert [line.split("InService  ")[1] for line in lines[1:]] == [
        "v7  scaled to zero",
        "v7  1 copy running",
        "v7  2 copies running",
    ]
    lines.clear()
    _render_serving(lines.append, [{**row, "copies": None}])  # instances: no copies to tell
    assert lines[1].endswith("InService  v7")


def test_a_serving_environment_shows_what_it_serves(cloud, capsys, tmp_path):
    cloud.alarm("mlops-prod-churn-prod-5xx", "ALARM")

    result = mlops(
        capsys, "--config", delivered(tmp_path), "status", "churn", "--environment", "prod"
    )

    assert result.code == 0, result.err
    assert "Training, CI and model versions: none here" in result.out
    assert "prod/prod        mlops-prod-churn-prod        no endpoint yet" in result.out
    assert "ALARM             mlops-prod-churn-prod-5xx" in result.out


def test_environments_in_other_accounts_are_named_not_read(cloud, capsys, tmp_path):
    cloud.group()
    config = delivered(
        tmp_path, staging="222222222222", prod="333333333333", tooling="444444444444"
    )

    result = mlops(capsys, "--config", config, "status", "churn")

    assert result.code == 0, result.err
    assert (
        "mlops-staging-churn-staging  in account 222222222222: run with its credentials"
        in result.out
    )
    assert (
        "mlops-prod-churn-prod        in account 333333333333: run with its credentials"
        in result.out
    )
    assert "Deployment  mlops-churn-release\n  in account 444444444444" in result.out


def test_credentials_of_another_account_fail_fast(cloud, capsys):
    """config/example.yaml as it is: dev is account 111111111111, moto's is another."""
    result = mlops(capsys, "--config", str(EXAMPLE), "status", "churn")

    failed(
        result,
        1,
        "project churn is in account 111111111111 (environment dev), but your "
        f"credentials are for account {ACCOUNT}",
        "--profile",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["status", "nope"], "unknown project 'nope': the configuration has churn"),
        (
            ["status", "churn", "--environment", "qa"],
            "unknown environment 'qa': the configuration has dev",
        ),
        (["status", "churn", "--last", "0"], "--last must be at least 1, got 0"),
        (["status"], "the following arguments are required: project (see mlops status --help)"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(cloud, capsys, argv, message):
    failed(mlops(capsys, *argv), 2, message)


def test_a_missing_configuration_file_is_bad_input(cloud, capsys, tmp_path):
    result = mlops(capsys, "--config", str(tmp_path / "nope.yaml"), "status", "churn")

    failed(result, 2, "configuration:")


def test_missing_credentials_fail_fast(no_credentials, capsys):
    failed(mlops(capsys, "status", "churn"), 1, session.NO_CREDENTIALS)


def test_access_denied_is_one_sentence(cloud, capsys, monkeypatch):
    cloud.group()
    inject_error(monkeypatch, "sagemaker.ListModelPackages")

    result = mlops(capsys, "status", "churn")

    failed(result, 1, "listing model versions: AccessDeniedException: User is not authorized")


def test_help_has_a_description_and_an_example(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["status", "--help"])

    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "the gate metric and champion verdict recorded with each" in " ".join(out.split())
    assert "examples:\n  mlops status churn" in out
