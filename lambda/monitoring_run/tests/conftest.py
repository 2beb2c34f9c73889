"""Fixtures for the monitoring_run handler: moto SageMaker registry and endpoints, SSM, S3 and
CloudWatch.

The handler is loaded from its file under the unique module name ``monitoring_run_handler``
rather than as ``handler`` from sys.path: every function folder has a ``handler.py``, and in one
pytest process the first ``import handler`` would shadow the others.

moto 5.2.5 implements every call the handler makes (DescribeEndpoint, DescribeEndpointConfig,
DescribeModel, ListTags, DescribeModelPackage with ``CustomerMetadataProperties``,
ListTransformJobs, DescribeTransformJob, ListObjectsV2, GetObject, PutObject, PutMetricData)
but DescribeInferenceComponent (answered by the tests), and what the tests read back with
(ListMetrics, GetMetricData). Only an AWS error that moto never produces (throttling)
is stubbed, with botocore's ``Stubber`` on the handler's own client. The deploy router's SSM
parameter ``last-started`` is kept in the fake account (the router still writes it) to show
that the handler does not read it. moto keeps a SageMaker registry per region, as AWS does: the
``dev_region`` fixture registers versions in DEV_REGION, another region than the endpoints'
and the function's (REGION), where only a client of DEV_REGION finds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from lambda_testing import load_handler
from moto import mock_aws

handler_module = load_handler(
    "monitoring_run_handler", Path(__file__).resolve().parents[1] / "handler.py"
)

REGION = "us-east-1"
# The development account's registry in another region than the endpoints (the function's,
# REGION): the cross-region tests register the served version there.
DEV_REGION = "eu-west-1"
ACCOUNT = "123456789012"
PROJECT = "mlops-dev-churn"
GROUP = f"{PROJECT}-models"
PARAMETER = f"/{PROJECT}/deploy/last-started"
ARTIFACTS = f"{PROJECT}-artifacts-{ACCOUNT}"
CURATED = f"{PROJECT}-curated-{ACCOUNT}"
CAPTURE_URI = f"s3://{ARTIFACTS}/data-capture/"
GROUND_TRUTH_URI = f"s3://{CURATED}/ground-truth/"
ENDPOINT_NAME = f"{PROJECT}-{{target}}"
IMAGE = f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1"
INFERENCE_SPECIFICATION = {
    "Containers": [
        {
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{ARTIFACTS}/models/model.tar.gz",
        }
    ],
    "SupportedContentTypes": ["text/csv", "application/json"],
    "SupportedResponseMIMETypes": ["application/json"],
}
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{PROJECT}-prod-endpoint"
# How a deployed model says which version it is.
PACKAGE = "package"  # Containers[0].ModelPackageName (the platform's endpoint templates)
PRIMARY = "primary"  # PrimaryContainer.ModelPackageName
TAG = "tag"  # image + artifact, and the tag ModelPackageArn (a promoted model)
NOTHING = "nothing"  # image + artifact, no tag
SETTINGS = {
    "PROJECT_PREFIX": PROJECT,
    "MODEL_PACKAGE_GROUP": GROUP,
    "CAPTURE_URI": CAPTURE_URI,
    "GROUND_TRUTH_URI": GROUND_TRUTH_URI,
    "ENDPOINT_NAME": ENDPOINT_NAME,
    "WINDOW_HOURS": "24",
    "DELAY_HOURS": "24",
}
OPTIONAL_SETTINGS = (
    "VARIANT_NAME",
    "METRICS_NAMESPACE",
    "DEPLOYED_PARAMETER",
    "PROMOTED_BUCKET",
    "ATTRIBUTIONS",
)


@dataclass
class Aws:
    sagemaker: Any
    ssm: Any
    s3: Any
    cloudwatch: Any
    deployments: int = 0

    def register(
        self,
        *,
        baseline: str | None = None,
        status: str = "Approved",
        group: str = GROUP,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Registers a version as the training pipeline's Register step does (with its
        ``MonitoringBaseline`` customer metadata when ``baseline`` is given)."""
        properties = dict(metadata or {"CodeVersion": "abc123"})
        if baseline is not None:
            properties["MonitoringBaseline"] = baseline
        arn: str = self.sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription="churn model",
            InferenceSpecification=INFERENCE_SPECIFICATION,
            ModelApprovalStatus=status,
            CustomerMetadataProperties=properties,
        )["ModelPackageArn"]
        return arn

    def deploy(
        self,
        arn: str,
        *,
        target: str = "prod",
        variant: str = "AllTraffic",
        how: str = PACKAGE,
        tags: list[dict[str, str]] | None = None,
        model_data: str | None = None,
    ) -> tuple[str, str]:
        """The endpoint ``<project>-<target>`` serves ``arn`` (what a completed deployment
        leaves): a model named as CloudFormation names it after the endpoint stack, an endpoint
        config with one variant, the endpoint (replaced if it exists). ``how``: how the model
        names its version; ``model_data``: the container's ``ModelDataUrl`` (a model naming
        its package has none unless given: whether DescribeModel answers the package's
        artifact for it is not known offline; image + artifact: ``.../sealed/abc/model.tar.gz``
        unless given). Returns the model's and the config's names."""
        self.deployments += 1
        stack = f"{PROJECT}-endpoint-{target}"
        model = f"{stack}-Model-{self.deployments:04d}X"
        config = f"{stack}-Config-{self.deployments:04d}Y"
        container: dict[str, Any] = {
            "Image": IMAGE,
            "ModelDataUrl": model_data or f"s3://{ARTIFACTS}/sealed/abc/model.tar.gz",
        }
        named: dict[str, Any] = {"ModelPackageName": arn}
        if model_data is not None:
            named["ModelDataUrl"] = model_data
        params: dict[str, Any] = {"ModelName": model, "ExecutionRoleArn": ROLE_ARN}
        if how == PACKAGE:
            params["Containers"] = [named]
        elif how == PRIMARY:
            params["PrimaryContainer"] = named
        else:
            params["Containers"] = [container]
        all_tags = list(tags or [])
        if how == TAG:
            all_tags.append({"Key": "ModelPackageArn", "Value": arn})
        if all_tags:
            params["Tags"] = all_tags
        self.sagemaker.create_model(**params)
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": variant,
                    "ModelName": model,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                    "InitialVariantWeight": 1.0,
                }
            ],
        )
        endpoint = f"{PROJECT}-{target}"
        if self.sagemaker.list_endpoints(NameContains=endpoint)["Endpoints"]:
            self.sagemaker.delete_endpoint(EndpointName=endpoint)
        self.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        return model, config

    def start(self, arn: str) -> None:
        """What the deploy router writes when it *starts* a deployment: the plain ARN."""
        self.ssm.put_parameter(Name=PARAMETER, Value=arn, Type="String", Overwrite=True)

    def put(self, uri: str, body: bytes | str = b"{}\n") -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        data = body.encode() if isinstance(body, str) else body
        self.s3.put_object(Bucket=bucket, Key=key, Body=data)

    def put_report(self, metrics: Any, key: str = "monitoring/prod/exec-1/metrics.json") -> str:
        uri = f"s3://{ARTIFACTS}/{key}"
        self.put(uri, metrics if isinstance(metrics, str | bytes) else json.dumps(metrics))
        return uri

    def metrics(self, namespace: str = "MLOps/Monitoring") -> list[dict[str, Any]]:
        pages = self.cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace)
        return [metric for page in pages for metric in page["Metrics"]]


@pytest.fixture(autouse=True)
def environment(fake_aws: Callable[..., None]) -> None:
    """Fake credentials, one region, the function's settings; nothing from the developer's env."""
    fake_aws(SETTINGS, unset=OPTIONAL_SETTINGS)


@pytest.fixture
def aws(aws_client: Callable[[str], Any]) -> Iterator[Aws]:
    """moto: the group (and another team's), the router's parameter as the CDK creates it
    (``none``), the artifacts and curated buckets; no endpoint, nothing captured, nothing
    published."""
    with mock_aws():
        sagemaker = aws_client("sagemaker")
        for group in (GROUP, "other-team-models"):
            sagemaker.create_model_package_group(
                ModelPackageGroupName=group, ModelPackageGroupDescription="churn models"
            )
        ssm = aws_client("ssm")
        ssm.put_parameter(Name=PARAMETER, Value="none", Type="String")
        s3 = aws_client("s3")
        for bucket in (ARTIFACTS, CURATED):
            s3.create_bucket(Bucket=bucket)
        yield Aws(sagemaker=sagemaker, ssm=ssm, s3=s3, cloudwatch=aws_client("cloudwatch"))


@pytest.fixture
def dev_region(aws: Aws) -> Aws:
    """The project's group in DEV_REGION too: the answer registers versions there (a SageMaker
    client of that region; its other clients are ``aws``'s), while ``aws.deploy`` creates the
    models and endpoints in REGION, the function's. moto keeps a registry per region, as
    SageMaker does: a client of REGION does not find a version of DEV_REGION."""
    sagemaker = boto3.client("sagemaker", region_name=DEV_REGION)
    sagemaker.create_model_package_group(
        ModelPackageGroupName=GROUP, ModelPackageGroupDescription="churn models"
    )
    return replace(aws, sagemaker=sagemaker)


@pytest.fixture
def sent() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The (operation, parameters) of every CloudWatch request the handler sends, in order."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    events = handler_module._client("cloudwatch").meta.events
    events.register("provide-client-params.cloudwatch", record)
    try:
        yield calls
    finally:
        events.unregister("provide-client-params.cloudwatch", record)
