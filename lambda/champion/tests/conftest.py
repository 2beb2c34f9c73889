"""Fixtures for the champion handler: a moto SageMaker model registry.

The handler is loaded from its file under the unique module name ``champion_handler`` rather
than as ``handler`` from sys.path: every function folder has a ``handler.py``, and in one pytest
process the first ``import handler`` would shadow the others.

moto 5.2.5 implements every call the handler makes and the tests set up with:
CreateModelPackageGroup, CreateModelPackage (with ``ModelApprovalStatus`` and
``CustomerMetadataProperties``), ListModelPackages (filtered by group and approval status,
sorted by CreationTime, paginated with MaxResults/NextToken) and DescribeModelPackage (it keeps
``CustomerMetadataProperties``). Only what moto never produces (throttling, an empty first page
with a NextToken) is stubbed, with botocore's ``Stubber`` on the handler's own client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lambda_testing import load_handler
from moto import mock_aws

handler_module = load_handler(
    "champion_handler", Path(__file__).resolve().parents[1] / "handler.py"
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
PROJECT = "mlops-dev-churn"
GROUP = f"{PROJECT}-models"
OTHER_GROUP = "other-team-models"
ARTIFACTS = f"{PROJECT}-artifacts-{ACCOUNT}"
INFERENCE_SPECIFICATION = {
    "Containers": [
        {
            "Image": f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1",
            "ModelDataUrl": f"s3://{ARTIFACTS}/models/model.tar.gz",
        }
    ],
    "SupportedContentTypes": ["text/csv", "application/json"],
    "SupportedResponseMIMETypes": ["application/json"],
}
SETTINGS = {
    "MODEL_PACKAGE_GROUP": GROUP,
    "GATE_METRIC": "auc",
    "GATE_DIRECTION": "maximize",
    "CHAMPION_MARGIN": "0.01",
}


@dataclass
class Aws:
    sagemaker: Any

    def register(
        self,
        value: str | None = None,
        *,
        status: str = "Approved",
        group: str = GROUP,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Registers a version as the training pipeline's Register step does: its gate metric
        in the ``GateMetricValue`` customer metadata when ``value`` is given."""
        properties = dict(metadata or {"CodeVersion": "abc123"})
        if value is not None:
            properties["GateMetricValue"] = value
        arn: str = self.sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription="churn model",
            InferenceSpecification=INFERENCE_SPECIFICATION,
            ModelApprovalStatus=status,
            CustomerMetadataProperties=properties,
        )["ModelPackageArn"]
        return arn


@pytest.fixture(autouse=True)
def environment(fake_aws: Callable[..., None]) -> None:
    """Fake credentials, one region, the function's settings; nothing from the developer's env."""
    fake_aws(SETTINGS)


@pytest.fixture
def aws(aws_client: Callable[[str], Any]) -> Iterator[Aws]:
    """moto: the project's group (and another team's), both empty."""
    with mock_aws():
        sagemaker = aws_client("sagemaker")
        for group in (GROUP, OTHER_GROUP):
            sagemaker.create_model_package_group(
                ModelPackageGroupName=group, ModelPackageGroupDescription="churn models"
            )
        yield Aws(sagemaker=sagemaker)


@pytest.fixture
def sent() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The (operation, parameters) of every SageMaker request the handler sends, in order."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    events = handler_module._client("sagemaker").meta.events
    events.register("provide-client-params.sagemaker", record)
    try:
        yield calls
    finally:
        events.unregister("provide-client-params.sagemaker", record)
