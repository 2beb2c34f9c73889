"""Fixtures for the fingerprint handler: a moto S3 with the project's versioned artifacts bucket.

The handler is loaded from its file under the unique module name ``fingerprint_handler`` rather
than as ``handler`` from sys.path: every function folder has a ``handler.py``, and in one pytest
process the first ``import handler`` would shadow the others.

moto 5.2.5 implements every call the handler makes and the tests set up with: CreateBucket,
PutBucketVersioning, PutObject (a new VersionId per write in a versioned bucket), HeadObject
(the current VersionId and ContentLength; no VersionId at all in an unversioned bucket),
GetObject with a VersionId (that version's bytes, streamed), and the multipart copy that seals:
CreateMultipartUpload, UploadPartCopy (CopySource with a VersionId, CopySourceRange; 404 for a
missing version), CompleteMultipartUpload with ``If-None-Match: *`` (412 PreconditionFailed
when the key exists; the upload is then still listed), AbortMultipartUpload and
ListMultipartUploads, ListObjectVersions. moto enforces S3's 5 MiB minimum for every part but
the last (EntityTooSmall at CompleteMultipartUpload), accepts a 0-byte object copied as one part
without a range, and answers the VersionId ``null`` for an upload completed in an unversioned
bucket. Only what moto never produces is stubbed, with botocore's ``Stubber`` on the handler's
own client (see test_fingerprint.py).
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
SEALED = "sealed/"
SETTINGS = {"ARTIFACTS_BUCKET": ARTIFACTS, "SEALED_PREFIX": SEALED}


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

    def read(self, key: str, version: str | None = None, bucket: str = ARTIFACTS) -> bytes:
        """The bytes of an object's version (the current one without ``version``)."""
        extra = {"VersionId": version} if version else {}
        data: bytes = self.s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
        return data

    def versions(self, key: str, bucket: str = ARTIFACTS) -> list[str]:
        """Every version id of exactly ``key``, newest first."""
        listed = self.s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
        return [v["VersionId"] for v in listed if v["Key"] == key]

    def uploads(self, bucket: str = ARTIFACTS) -> list[dict[str, Any]]:
        """The multipart uploads left in the bucket (neither completed nor aborted)."""
        listed: list[dict[str, Any]] = self.s3.list_multipart_uploads(Bucket=bucket).get(
            "Uploads", []
        )
        return listed


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
