"""Fixtures for the front_door handler: moto's SageMaker runtime behind an API Gateway event.

The handler is loaded from its file under the unique module name ``front_door_handler`` rather
than as ``handler`` from sys.path: every function folder has a ``handler.py``, and in one pytest
process the first ``import handler`` would shadow the others.

moto's InvokeEndpoint answers from a queue of canned results configured through moto's own API
(``POST http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results``, see
moto/sagemakerruntime/models.py); with nothing queued it answers the body ``"body"``. It never
fails, so the error mappings are tested with botocore's ``Stubber`` on the handler's client.

The traffic capture (CAPTURE_URI and the rest) writes to moto's S3: the ``capture`` fixture
turns it on at 100%, creates the bucket and fixes the handler's wall clock (``_now``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from lambda_testing import load_handler
from moto import mock_aws

handler_module = load_handler(
    "front_door_handler", Path(__file__).resolve().parents[1] / "handler.py"
)

REGION = "us-east-1"
ENDPOINT = "mlops-dev-prod"
MOTO_RESULTS_URL = "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results"
CAPTURE_BUCKET = "mlops-dev-churn-artifacts-123456789012"
CAPTURE_PREFIX = "data-capture/prod/"
CAPTURE_URI = f"s3://{CAPTURE_BUCKET}/{CAPTURE_PREFIX}"
# The handler's wall clock in the capture tests: 2026-12-07 17:25:57.042 UTC.
NOW = datetime(2026, 12, 7, 17, 25, 57, 42_917, tzinfo=UTC)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, one region, the function's setting; nothing from the developer's env."""
    optional = ("INFERENCE_COMPONENT_NAME", "CAPTURE_URI", "CAPTURE_PERCENT", "CAPTURE_VARIANT")
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", *optional):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT)


class Endpoint:
    def returns(self, *bodies: object) -> None:
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
def endpoint() -> Iterator[Endpoint]:
    with mock_aws():
        yield Endpoint()


@dataclass
class CaptureBucket:
    """The capture's bucket in moto's S3 (``s3``: the test's own client)."""

    s3: Any

    def keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=CAPTURE_BUCKET)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def get(self, key: str) -> dict[str, Any]:
        """GetObject's answer, with the body read (``Body``: bytes)."""
        response: dict[str, Any] = self.s3.get_object(Bucket=CAPTURE_BUCKET, Key=key)
        response["Body"] = response["Body"].read()
        return response


@pytest.fixture
def capture(
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
    aws_client: Callable[[str], Any],
) -> CaptureBucket:
    """Capture on at 100% to CAPTURE_URI, its bucket created (empty), the handler's wall clock
    fixed at NOW."""
    monkeypatch.setenv("CAPTURE_URI", CAPTURE_URI)
    monkeypatch.setenv("CAPTURE_PERCENT", "100")
    monkeypatch.setattr(handler_module, "_now", lambda: NOW)
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=CAPTURE_BUCKET)
    return CaptureBucket(s3)
