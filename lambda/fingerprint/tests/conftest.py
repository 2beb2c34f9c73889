"""Fixtures for the fingerprint handler: a moto S3 with the project's versioned artifacts bucket.

The handler is loaded from its file under the unique module name ``fingerprint_handler`` rather
than as ``handler`` from sys.path: every function folder has a ``handler.py``, and in one pytest
process the first ``import handler`` would shadow the others.

moto 5.2.5 implements every call the handler makes and the tests set up with: CreateBucket,
PutBucketVersioning, PutObject (a new VersionId per write in a versioned bucket), HeadObject
(the current VersionId and ContentLength; no VersionId at all in an unversioned bucket) and
GetObject with a VersionId (that version's bytes, streamed). Only what moto never produces is
stubbed, with botocore's ``Stubber`` on the handler's own client (see test_fingerprint.py).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

FUNCTION_DIR = Path(__file__).resolve().parents[1]
MODULE_NAME = "fingerprint_handler"

if MODULE_NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(MODULE_NAME, FUNCTION_DIR / "handler.py")
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[MODULE_NAME] = _module
    _spec.loader.exec_module(_module)

handler_module = sys.modules[MODULE_NAME]

REGION = "us-east-1"
ACCOUNT = "123456789012"
PROJECT = "mlops-dev-churn"
ARTIFACTS = f"{PROJECT}-artifacts-{ACCOUNT}"
UNVERSIONED = f"{PROJECT}-scratch-{ACCOUNT}"  # a bucket without versioning
OTHER = f"other-team-artifacts-{ACCOUNT}"  # another versioned bucket
SETTINGS = {"ARTIFACTS_BUCKET": ARTIFACTS}


@pytest.fixture(autouse=True)
def environment(fake_aws: Callable[..., None]) -> None:
    """Fake credentials, one region, the function's settings; nothing from the developer's env."""
    fake_aws(SETTINGS)


@dataclass
class Aws:
    s3: Any

    def put(self, key: str, body: bytes, bucket: str = ARTIFACTS) -> str | None:
        """Writes an object as a pipeline step does; its new VersionId (None if unversioned)."""
        response = self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        version: str | None = response.get("VersionId")
        return version


@pytest.fixture
def aws(aws_client: Callable[[str], Any]) -> Iterator[Aws]:
    """moto: the versioned artifacts bucket, another team's versioned bucket, an unversioned
    bucket; all empty."""
    with mock_aws():
        s3 = aws_client("s3")
        for bucket in (ARTIFACTS, UNVERSIONED, OTHER):
            s3.create_bucket(Bucket=bucket)
        for bucket in (ARTIFACTS, OTHER):
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        yield Aws(s3=s3)


@pytest.fixture
def sent() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The (operation, parameters) of every S3 request the handler sends, in order."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    events = handler_module._client("s3").meta.events
    events.register("provide-client-params.s3", record)
    try:
        yield calls
    finally:
        events.unregister("provide-client-params.s3", record)
