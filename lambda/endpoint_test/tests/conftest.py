"""Fixtures for the endpoint_test handler: moto SageMaker (registry + runtime), stubbed reports.

The handler is loaded from its file under the unique module name ``endpoint_test_handler``
rather than as ``handler`` from sys.path: every function folder has a ``handler.py``, and in one
pytest process the first ``import handler`` would shadow the others.

moto 5.2.5's CodePipeline has no PutJobSuccessResult / PutJobFailureResult (moto/codepipeline/
responses.py implements pipelines, executions and tags only), so for those two calls, and only
them, the handler's own codepipeline client is put behind botocore's ``Stubber``: the requests are
still validated against the service model, and the test reads what was sent. Everything else
(DescribeModelPackage, InvokeEndpoint) runs against moto. moto's InvokeEndpoint answers from a
queue of canned results configured through moto's own API
(``POST http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results``, see
moto/sagemakerruntime/models.py): each distinct request body takes the next queued result, an
empty queue gives the body ``"body"``.

moto keeps a SageMaker registry per region, as AWS does: the ``dev_region`` fixture registers
the version being deployed in DEV_REGION, another region than the endpoint's and the function's
(REGION), where only a client of DEV_REGION finds it.

Every test runs with the churn model's response contract in ``RESPONSE_CONTRACT`` unless it sets
another one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from lambda_testing import load_handler
from moto import mock_aws

handler_module = load_handler(
    "endpoint_test_handler", Path(__file__).resolve().parents[1] / "handler.py"
)

REGION = "us-east-1"
# The development account's registry in another region than the endpoint (the function's,
# REGION): the cross-region tests register the version there.
DEV_REGION = "eu-west-1"
GROUP = "mlops-dev-models"
ENDPOINT = "mlops-dev-staging"
JOB_ID = "11111111-abcd-1111-abcd-111111abcdef"
MOTO_RESULTS_URL = "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results"
# The churn project's response contract, as the CDK construct sets it (the tests' default).
CHURN_CONTRACT = {
    "problem_type": "binary_classification",
    "prediction_field": "churned",
    "probability_field": "churn_probability",
    "classes": None,
    "input_columns": [
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "support_calls",
        "contract_type",
    ],
}
INFERENCE_SPECIFICATION = {
    "Containers": [
        {
            "Image": f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1",
            "ModelDataUrl": "s3://mlops-dev-artifacts-123456789012/models/model.tar.gz",
        }
    ],
    "SupportedContentTypes": ["text/csv", "application/json"],
    "SupportedResponseMIMETypes": ["application/json"],
}


@pytest.fixture(autouse=True)
def environment(fake_aws: Callable[..., None]) -> None:
    """Fake credentials, one region, the churn contract; nothing from the developer's env."""
    fake_aws({"RESPONSE_CONTRACT": json.dumps(CHURN_CONTRACT)}, unset=("SAMPLE_PAYLOADS",))


@dataclass
class Aws:
    sagemaker: Any
    model_package_arn: str

    def set_status(self, status: str) -> None:
        self.sagemaker.update_model_package(
            ModelPackageArn=self.model_package_arn, ModelApprovalStatus=status
        )

    def endpoint_returns(self, *bodies: object) -> None:
        """Queues moto's InvokeEndpoint results, one per distinct request (dicts as JSON)."""
        results = [
            {
                "Body": body if isinstance(body, str) else json.dumps(body),
                "ContentType": "application/json",
                "InvokedProductionVariant": "AllTraffic",
            }
            for body in bodies
        ]
        response = requests.post(MOTO_RESULTS_URL, json={"results": results}, timeout=5)
        assert response.status_code == 201


@pytest.fixture
def aws(aws_client: Callable[[str], Any]) -> Iterator[Aws]:
    """moto: the model package group with one approved version (the one being deployed)."""
    with mock_aws():
        sagemaker = aws_client("sagemaker")
        yield Aws(sagemaker=sagemaker, model_package_arn=register_approved(sagemaker))


def register_approved(sagemaker: Any) -> str:
    """The group and one approved version in ``sagemaker``'s region; the version's ARN."""
    sagemaker.create_model_package_group(
        ModelPackageGroupName=GROUP, ModelPackageGroupDescription="churn models"
    )
    arn: str = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification=INFERENCE_SPECIFICATION,
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]
    return arn


@pytest.fixture
def dev_region(aws: Aws) -> Aws:
    """The version being deployed registered in DEV_REGION instead (the same group created
    there, one approved version, with a SageMaker client of that region), the endpoint in
    REGION: ``model_package_arn`` is that version's, ``set_status`` changes it there. moto
    keeps a registry per region, as SageMaker does: a client of REGION does not find it."""
    sagemaker = boto3.client("sagemaker", region_name=DEV_REGION)
    return Aws(sagemaker=sagemaker, model_package_arn=register_approved(sagemaker))


@pytest.fixture
def reports(codepipeline_reports: Callable[[Any, str], Any]) -> Iterator[Any]:
    """The job results the handler sends to CodePipeline (lambda/conftest.py)."""
    with codepipeline_reports(handler_module._client("codepipeline"), JOB_ID) as recorded:
        yield recorded


class Clock:
    """The handler's monotonic clock: every reading advances by ``step`` seconds."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.step = 0.05  # 50 ms per call unless a test says otherwise

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(handler_module, "_clock", fake)
    return fake
