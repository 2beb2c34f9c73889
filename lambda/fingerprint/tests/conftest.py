"""Fixtures for the fingerprint handler: a moto S3 with the project's versioned artifacts bucket.

The handler is loaded from its file under the unique module name ``fingerprint_handler`` rather
than as ``handler`` from sys.path (``load_handler``, lambda/conftest.py): every function folder
has a ``handler.py``, and in one pytest process the first ``import handler`` would shadow the
others.

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

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_testing import S3Objects, create_buckets, load_handler, requests_sent
from moto import mock_aws

handler_module = load_handler(
    "fingerprint_handler", Path(__file__).resolve().parents[1] / "handler.py"
)

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


@pytest.fixture
def aws(aws_client: Callable[[str], Any]) -> Iterator[S3Objects]:
    """moto: the versioned artifacts bucket, another team's versioned bucket, an unversioned
    bucket; all empty. Objects are written to and read from the artifacts bucket unless another
    bucket is named (lambda/conftest.py's S3Objects)."""
    with mock_aws():
        s3 = aws_client("s3")
        create_buckets(s3, versioned=(ARTIFACTS, OTHER), unversioned=(UNVERSIONED,))
        yield S3Objects(s3, writes_to=ARTIFACTS, reads_from=ARTIFACTS)


@pytest.fixture
def sent() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The (operation, parameters) of every S3 request the handler sends, in order."""
    with requests_sent(handler_module._client("s3")) as calls:
        yield calls
