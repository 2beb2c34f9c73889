"""Makes the shared Lambda layer's modules importable, as the layer does at run time.

Also for subprocesses (cold-start tests run a handler in a fresh interpreter): the Lambda runtime
puts a layer's ``python/`` folder on the path of every process it starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest

LAYER = str(Path(__file__).resolve().parent / "_shared" / "python")
if LAYER not in sys.path:
    sys.path.insert(0, LAYER)
_paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
if LAYER not in _paths:
    os.environ["PYTHONPATH"] = os.pathsep.join([LAYER, *[p for p in _paths if p]])

# The region every handler's tests run in (moto).
TEST_REGION = "us-east-1"


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``fake_aws(settings, unset=())``: fake credentials, one region, the function's
    ``settings`` as environment variables, and nothing from the developer's environment (nor
    the optional settings named in ``unset``)."""

    def apply(settings: Mapping[str, str], unset: Sequence[str] = ()) -> None:
        for name in ("AWS_PROFILE", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", *unset):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_DEFAULT_REGION", TEST_REGION)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for name, value in settings.items():
            monkeypatch.setenv(name, value)

    return apply


# Creating a boto3 client costs 0.1-0.2 s (the SageMaker model is large), so the tests' clients
# are kept for the whole session. That is safe: moto intercepts every client made after it was
# imported, and each test's mock_aws() starts from empty backends.
_TEST_CLIENTS: dict[str, Any] = {}


@pytest.fixture(scope="session")
def aws_client() -> Callable[[str], Any]:
    """``aws_client(service)``: the session's boto3 client of ``service`` in TEST_REGION."""

    def client(service: str) -> Any:
        if service not in _TEST_CLIENTS:
            _TEST_CLIENTS[service] = boto3.client(service, region_name=TEST_REGION)
        return _TEST_CLIENTS[service]

    return client
