"""Fixtures for the front_door handler: moto's SageMaker runtime behind an API Gateway event.

The handler is loaded from its file under the unique module name ``front_door_handler`` rather
than as ``handler`` from sys.path: every function folder has a ``handler.py``, and in one pytest
process the first ``import handler`` would shadow the others.

moto's InvokeEndpoint answers from a queue of canned results configured through moto's own API
(``POST http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results``, see
moto/sagemakerruntime/models.py); with nothing queued it answers the body ``"body"``. It never
fails, so the error mappings are tested with botocore's ``Stubber`` on the handler's client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, one region, the function's setting; nothing from the developer's env."""
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME"):
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
