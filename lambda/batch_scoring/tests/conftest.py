"""Fixtures for the batch_scoring handler: a moto SageMaker model registry, models and jobs.

The handler is loaded from its file under the unique module name ``batch_scoring_handler``
rather than as ``handler`` from sys.path: every function folder has a ``handler.py``, and in one
pytest process the first ``import handler`` would shadow the others.

moto 5.2.5 gaps that the tests work around (see test_batch_scoring.py):

- CreateModel does not keep ``EnableNetworkIsolation`` (DescribeModel always says False), so the
  flag is checked on the request the handler sends (the client's ``provide-client-params`` hook,
  an observation, not a fake);
- CreateModel and CreateTransformJob overwrite an existing name instead of failing, so the
  "a concurrent invocation created it first" paths (ValidationException "Cannot create already
  existing model", ResourceInUse) and a throttling error are stubbed with botocore's ``Stubber``
  on the handler's own client. Everything else runs against moto.

The handler's clock (``handler.now``) is replaced for every test by :class:`Clock` (autouse
fixture ``clock``): the handler refuses events whose time lies too far from its clock, and the
tests' events carry fixed times. A test moves the clock with ``clock.set(...)``; no test reads the
real time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lambda_testing import load_handler
from moto import mock_aws

handler_module = load_handler(
    "batch_scoring_handler", Path(__file__).resolve().parents[1] / "handler.py"
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
GROUP = "mlops-dev-models"
PREFIX = "mlops-dev-batch"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-sagemaker-model"
KMS_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET = f"mlops-dev-curated-{ACCOUNT}"
INPUT_URI = f"s3://{BUCKET}/scoring/input/"
OUTPUT_URI = f"s3://{BUCKET}/scoring/output/"
ARTIFACTS = f"mlops-dev-artifacts-{ACCOUNT}"
INFERENCE_SPECIFICATION = {
    "Containers": [
        {
            "Image": f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1",
            "ModelDataUrl": f"s3://{ARTIFACTS}/models/model.tar.gz",
        }
    ],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["application/json"],
    "SupportedTransformInstanceTypes": ["ml.m5.large"],
}
SETTINGS = (
    "MODEL_PACKAGE_GROUP",
    "EXECUTION_ROLE_ARN",
    "INPUT_URI",
    "OUTPUT_URI",
    "KMS_KEY_ARN",
    "INSTANCE_TYPE",
    "INSTANCE_COUNT",
    "MODEL_PREFIX",
    "SUBNET_IDS",
    "SECURITY_GROUP_ID",
    "CAPTURE_URI",
    "MAX_EVENT_AGE_SECONDS",
)
# The default reading of the handler's clock: 7 s after the 03:00 schedule of the tests' TIME
# fired (EventBridge stamps a scheduled event with the scheduled time; Lambda runs a little later).
CLOCK = "2026-11-22T03:00:07Z"


@dataclass
class Aws:
    sagemaker: Any
    group: str = GROUP

    def register(self, status: str = "PendingManualApproval", group: str = GROUP) -> str:
        """Registers a new version in the group, as the training pipeline's Register step."""
        arn: str = self.sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription="churn model",
            InferenceSpecification=INFERENCE_SPECIFICATION,
            ModelApprovalStatus=status,
        )["ModelPackageArn"]
        return arn

    def set_status(self, arn: str, status: str) -> None:
        self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)

    def model_names(self) -> list[str]:
        return sorted(m["ModelName"] for m in self.sagemaker.list_models()["Models"])

    def job_names(self) -> list[str]:
        summaries = self.sagemaker.list_transform_jobs()["TransformJobSummaries"]
        return sorted(s["TransformJobName"] for s in summaries)

    def job(self, name: str) -> dict[str, Any]:
        job: dict[str, Any] = self.sagemaker.describe_transform_job(TransformJobName=name)
        return job

    def model(self, name: str) -> dict[str, Any]:
        model: dict[str, Any] = self.sagemaker.describe_model(ModelName=name)
        return model


@pytest.fixture(autouse=True)
def environment(fake_aws: Callable[..., None]) -> None:
    """Fake credentials, one region, the function's settings; nothing from the developer's env."""
    fake_aws(
        {
            "MODEL_PACKAGE_GROUP": GROUP,
            "EXECUTION_ROLE_ARN": ROLE_ARN,
            "INPUT_URI": INPUT_URI,
            "OUTPUT_URI": OUTPUT_URI,
            "KMS_KEY_ARN": KMS_KEY_ARN,
            "MODEL_PREFIX": PREFIX,
        },
        unset=tuple(SETTINGS),
    )


@dataclass
class Clock:
    """Stands in for ``handler.now``: returns the moment the test set."""

    moment: datetime

    def set(self, text: str) -> datetime:
        self.moment = datetime.fromisoformat(text).astimezone(UTC)
        return self.moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The handler's clock, at CLOCK unless the test sets it."""
    fake = Clock(datetime.fromisoformat(CLOCK))
    monkeypatch.setattr(handler_module, "now", fake)
    return fake


@pytest.fixture
def aws(aws_client: Callable[[str], Any]) -> Iterator[Aws]:
    """moto: the model package group (and another team's group); no versions yet."""
    with mock_aws():
        sagemaker = aws_client("sagemaker")
        for group in (GROUP, "other-team-models"):
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
