"""Fixtures for the model_import handler: moto S3 (the project's versioned artifacts bucket),
SSM (the code-version parameter) and SageMaker (the import pipeline).

The handler is loaded from its file under the unique module name ``model_import_handler``
rather than as ``handler`` from sys.path (``load_handler``, lambda/conftest.py): every function
folder has a ``handler.py``, and in one pytest process the first ``import handler`` would shadow
the others.

moto 5.2.5 implements every call the handler makes and the tests set up with: CreateBucket,
PutBucketVersioning, PutObject, GetObject (streamed; NoSuchKey for a missing key),
ListObjectsV2 with a Prefix, PutParameter, GetParameter, CreatePipeline,
StartPipelineExecution (it keeps the display name, description and parameters, and starts an
execution per call: it does not deduplicate ClientRequestToken as SageMaker does, so the
replay tests compare the tokens sent), DescribePipelineExecution and
ListPipelineParametersForExecution. Only what moto never produces (access denied, throttling)
is stubbed, with botocore's ``Stubber`` on the handler's own client.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lambda_testing import create_buckets, load_handler, requests_sent
from moto import mock_aws

handler_module = load_handler(
    "model_import_handler", Path(__file__).resolve().parents[1] / "handler.py"
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
PREFIX = "mlops-dev-demand"
PROJECT = "demand"
ARTIFACTS = f"{PREFIX}-artifacts-{ACCOUNT}"
OTHER = f"other-team-artifacts-{ACCOUNT}"
PIPELINE = f"{PREFIX}-import"
CODE_PARAMETER = f"/{PREFIX}/ml/code-version"
CODE_VERSION = "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-sagemaker-pipeline"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{PREFIX}-serving:1.4.0"
MAX_BYTES = 8 * 1024 * 1024
FRAMEWORK_SETTINGS = {
    "PIPELINE_NAME": PIPELINE,
    "ARTIFACTS_BUCKET": ARTIFACTS,
    "IMPORTS_PREFIX": "imports/",
    "CODE_VERSION_PARAMETER": CODE_PARAMETER,
    "PROJECT": PROJECT,
    "EXPECTED_FRAMEWORK": "sklearn",
    "EXPECTED_FRAMEWORK_VERSION": "1.2-1",
    "MAX_ARTIFACT_BYTES": str(MAX_BYTES),
}
SETTINGS_NAMES = (*FRAMEWORK_SETTINGS, "EXPECTED_IMAGE")
PIPELINE_DEFINITION = {
    "Version": "2020-12-01",
    "Parameters": [
        {"Name": "ImportManifestUrl", "Type": "String", "DefaultValue": "s3://placeholder/x"},
        {"Name": "CodeVersion", "Type": "String", "DefaultValue": "unpublished"},
        {"Name": "TriggerReason", "Type": "String", "DefaultValue": "import"},
    ],
    "Steps": [{"Name": "Wait", "Type": "Fail", "Arguments": {"ErrorMessage": "placeholder"}}],
}


@dataclass
class Aws:
    s3: Any
    ssm: Any
    sagemaker: Any

    def put(self, key: str, body: bytes, bucket: str = ARTIFACTS) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def set_code_version(self, value: str) -> None:
        self.ssm.put_parameter(Name=CODE_PARAMETER, Value=value, Type="String", Overwrite=True)

    def executions(self) -> list[dict[str, Any]]:
        response = self.sagemaker.list_pipeline_executions(PipelineName=PIPELINE)
        summaries: list[dict[str, Any]] = response["PipelineExecutionSummaries"]
        return summaries

    def parameters(self, execution_arn: str) -> dict[str, str]:
        """The parameters an execution was started with."""
        response = self.sagemaker.list_pipeline_parameters_for_execution(
            PipelineExecutionArn=execution_arn
        )
        return {p["Name"]: p["Value"] for p in response["PipelineParameters"]}

    def execution(self, execution_arn: str) -> dict[str, Any]:
        described: dict[str, Any] = self.sagemaker.describe_pipeline_execution(
            PipelineExecutionArn=execution_arn
        )
        return described


@pytest.fixture(autouse=True)
def environment(fake_aws: Callable[..., None]) -> None:
    """Fake credentials, one region, a framework project's settings (sklearn 1.2-1); nothing
    from the developer's environment."""
    fake_aws(FRAMEWORK_SETTINGS, unset=("EXPECTED_IMAGE",))


@pytest.fixture
def own_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings of a project on its own serving image instead."""
    monkeypatch.delenv("EXPECTED_FRAMEWORK")
    monkeypatch.delenv("EXPECTED_FRAMEWORK_VERSION")
    monkeypatch.setenv("EXPECTED_IMAGE", IMAGE)


@pytest.fixture
def aws(aws_client: Callable[[str], Any]) -> Iterator[Aws]:
    """moto: the versioned artifacts bucket and another team's, both empty; the code-version
    parameter holding a published version; the import pipeline."""
    with mock_aws():
        s3 = aws_client("s3")
        create_buckets(s3, versioned=(ARTIFACTS, OTHER))
        env = Aws(s3=s3, ssm=aws_client("ssm"), sagemaker=aws_client("sagemaker"))
        env.set_code_version(CODE_VERSION)
        env.sagemaker.create_pipeline(
            PipelineName=PIPELINE,
            PipelineDefinition=json.dumps(PIPELINE_DEFINITION),
            RoleArn=ROLE_ARN,
        )
        yield env


@pytest.fixture
def sent() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The (operation, parameters) of every S3, SSM and SageMaker request the handler sends,
    in order."""
    clients = [handler_module._client(service) for service in ("s3", "ssm", "sagemaker")]
    with requests_sent(*clients) as calls:
        yield calls
