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

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from moto import mock_aws

FUNCTION_DIR = Path(__file__).resolve().parents[1]
MODULE_NAME = "front_door_handler"

if MODULE_NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(MODULE_NAME, FUNCTION_DIR / "handler.py")
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[MODULE_NAME] = _module
    _spec.loader.exec_module(_module)

handler_module = sys.modules[MODULE_NAME]

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
