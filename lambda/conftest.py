"""Makes the shared Lambda layer's modules importable, as the layer does at run time.

Also for subprocesses (cold-start tests run a handler in a fresh interpreter): the Lambda runtime
puts a layer's ``python/`` folder on the path of every process it starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import boto3
import pytest
from botocore.stub import Stubber

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


@dataclass
class CodePipelineReports:
    """The job results a handler sent to CodePipeline (Stubber: moto has no PutJob*Result)."""

    stubber: Stubber
    job_id: str
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def expect_success(self) -> None:
        self.stubber.add_response(
            "put_job_success_result", {}, {"jobId": self.job_id, "executionDetails": ANY}
        )

    def expect_failure(self, failure_type: str = "JobFailed") -> None:
        self.stubber.add_response(
            "put_job_failure_result",
            {},
            {"jobId": self.job_id, "failureDetails": {"type": failure_type, "message": ANY}},
        )

    def expect_error(self, operation: str, code: str) -> None:
        self.stubber.add_client_error(operation, service_error_code=code, http_status_code=400)


@contextmanager
def _stubbed_reports(client: Any, job_id: str) -> Iterator[CodePipelineReports]:
    stubber = Stubber(client)
    recorded = CodePipelineReports(stubber, job_id)

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        recorded.sent.append((model.name, dict(params)))

    client.meta.events.register("provide-client-params.codepipeline", record)
    stubber.activate()
    try:
        yield recorded
        stubber.assert_no_pending_responses()
    finally:
        stubber.deactivate()
        client.meta.events.unregister("provide-client-params.codepipeline", record)


@pytest.fixture
def codepipeline_reports() -> Callable[[Any, str], Any]:
    """``with codepipeline_reports(client, job_id) as reports``: the handler's CodePipeline
    client stubbed, every request it sends recorded, no expected response left over."""
    return _stubbed_reports
