"""Fixtures for the promote handler: a moto model registry, two versioned buckets standing for
the development account's artifacts bucket (the source) and the stage's own (the target),
stubbed job reports.

The handler is loaded from its file under the unique module name ``promote_handler`` rather
than as ``handler`` from sys.path: every function folder has a ``handler.py``, and in one pytest
process the first ``import handler`` would shadow the others.

moto 5.2.5 implements every registry and bucket call the handler makes and the tests set up with:
CreateModelPackageGroup, CreateModelPackage (with ``ModelApprovalStatus``,
``CustomerMetadataProperties`` and ``ModelMetrics``, all kept by DescribeModelPackage),
UpdateModelPackage (the approval status), CreateBucket, PutBucketVersioning, PutObject (a new
VersionId per write), HeadObject and GetObject with a VersionId, DeleteObject of a version, and
the multipart copy: CreateMultipartUpload, UploadPartCopy (CopySource with a VersionId,
CopySourceRange; 404 for a missing version), CompleteMultipartUpload with ``If-None-Match: *``
(412 PreconditionFailed when the key exists; the upload is then still listed until aborted; the
VersionId ``null`` in an unversioned bucket), AbortMultipartUpload, ListMultipartUploads and
ListObjectVersions. moto runs one account: the two buckets stand for the two accounts' buckets
(the cross-account grants are the CDK side's, README.md). A registered version's files are
sealed in the source bucket by the shared layer's own ``platform_fingerprint.seal``, exactly as
the Fingerprint step leaves them, and registered with the sealed URIs and the sealed objects'
versions and SHA-256.

moto 5.2.5's CodePipeline has no PutJobSuccessResult / PutJobFailureResult, so for those two
calls, and only them, the handler's own codepipeline client is put behind botocore's
``Stubber`` (lambda/conftest.py): the requests are still validated against the service model
(the output variables' names too), and the test reads what was sent.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import platform_fingerprint as fp
import pytest
from moto import mock_aws

FUNCTION_DIR = Path(__file__).resolve().parents[1]
MODULE_NAME = "promote_handler"

if MODULE_NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(MODULE_NAME, FUNCTION_DIR / "handler.py")
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[MODULE_NAME] = _module
    _spec.loader.exec_module(_module)

handler_module = sys.modules[MODULE_NAME]

REGION = "us-east-1"
DEV_ACCOUNT = "123456789012"  # moto's account: the registry's
PROD_ACCOUNT = "210987654321"  # where the function runs (its context only)
PROJECT = "mlops-dev-churn"
GROUP = f"{PROJECT}-models"
OTHER_GROUP = "other-team-models"
GROUP_ARN = f"arn:aws:sagemaker:{REGION}:{DEV_ACCOUNT}:model-package-group/{GROUP}"
SOURCE = f"{PROJECT}-artifacts-{DEV_ACCOUNT}"  # the development artifacts bucket
TARGET = f"mlops-prod-churn-artifacts-{PROD_ACCOUNT}"  # the stage's own artifacts bucket
UNVERSIONED = f"mlops-prod-churn-scratch-{PROD_ACCOUNT}"
JOB_ID = "11111111-abcd-1111-abcd-111111abcdef"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{PROD_ACCOUNT}:function:mlops-prod-churn-promote"
EXECUTION_ID = "k1ls9tc3wnw6"
RUN = f"pipelines/{EXECUTION_ID}"
MODEL_KEY = f"models/pipelines-{EXECUTION_ID}-Train-Ab12Cd34Ef/output/model.tar.gz"
BASELINE_KEY = f"{RUN}/baselines/monitoring/statistics.json"
EVALUATION_KEY = f"{RUN}/evaluation/evaluation.json"
MODEL = bytes(range(256)) * 1000  # 256 000 bytes
BASELINE = json.dumps({"features": [{"name": "tenure_months", "mean": 31.2}]}).encode()
EVALUATION = json.dumps({"binary_classification_metrics": {"auc": {"value": 0.87}}}).encode()
SEALED = "sealed/"
SETTINGS = {
    "SOURCE_MODEL_PACKAGE_GROUP_ARN": GROUP_ARN,
    "SOURCE_BUCKET": SOURCE,
    "TARGET_BUCKET": TARGET,
    "SEALED_PREFIX": SEALED,
}
# The files of a version: (name, training key, content).
FILES = {
    "model": (MODEL_KEY, MODEL),
    "baseline": (BASELINE_KEY, BASELINE),
    "evaluation": (EVALUATION_KEY, EVALUATION),
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sealed_key(data: bytes, source_key: str) -> str:
    """Where the Fingerprint step seals a file: sealed/<sha256>/<file name>."""
    return f"{SEALED}{sha256(data)}/{source_key.rsplit('/', 1)[-1]}"


@pytest.fixture(autouse=True)
def environment(fake_aws: Callable[..., None]) -> None:
    """Fake credentials, one region, the function's settings; nothing from the developer's env."""
    fake_aws(SETTINGS)


@pytest.fixture
def context() -> SimpleNamespace:
    return SimpleNamespace(aws_request_id="req-1", invoked_function_arn=FUNCTION_ARN)


@dataclass
class File:
    """A registered file in the source bucket."""

    uri: str  # as registered
    key: str
    version: str  # as recorded
    sha256: str  # as recorded
    content: bytes


@dataclass
class Release:
    arn: str
    files: dict[str, File]  # model, baseline (unless none), evaluation
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class Aws:
    sagemaker: Any
    s3: Any

    def put(self, key: str, body: bytes, bucket: str = SOURCE) -> str:
        version: str = self.s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"]
        return version

    def read(self, key: str, version: str | None = None, bucket: str = TARGET) -> bytes:
        extra = {"VersionId": version} if version else {}
        data: bytes = self.s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
        return data

    def versions(self, key: str, bucket: str = TARGET) -> list[str]:
        """Every version id of exactly ``key``, newest first."""
        listed = self.s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
        return [v["VersionId"] for v in listed if v["Key"] == key]

    def keys(self, bucket: str = TARGET) -> list[str]:
        listed = self.s3.list_object_versions(Bucket=bucket).get("Versions", [])
        return sorted({v["Key"] for v in listed})

    def uploads(self, bucket: str = TARGET) -> list[dict[str, Any]]:
        """The multipart uploads left in the bucket (neither completed nor aborted)."""
        listed: list[dict[str, Any]] = self.s3.list_multipart_uploads(Bucket=bucket).get(
            "Uploads", []
        )
        return listed

    def store(self, name: str, content: bytes, sealed: bool) -> File:
        """Writes a file where the training pipeline does and, with ``sealed``, seals it as the
        Fingerprint step does (platform_fingerprint.seal)."""
        key = FILES[name][0]
        version = self.put(key, content)
        if not sealed:
            return File(f"s3://{SOURCE}/{key}", key, version, sha256(content), content)
        sealed_copy = fp.seal(self.s3, fp.fingerprint(self.s3, SOURCE, key), SOURCE, SEALED)
        sealed_path = sealed_key(content, key)
        assert sealed_copy.uri == f"s3://{SOURCE}/{sealed_path}"
        return File(sealed_copy.uri, sealed_path, sealed_copy.version, sealed_copy.sha256, content)

    def register(
        self,
        *,
        monitoring_baseline: bool = True,
        status: str = "Approved",
        group: str = GROUP,
        model: bytes = MODEL,
        sealed: bool = True,
        evaluation_report: bool = True,
        metadata: dict[str, str | None] | None = None,
    ) -> Release:
        """Uploads and seals the files and registers the version as the training pipeline does:
        the sealed URIs, and the Fingerprint step's versions and SHA-256 in its customer
        metadata. ``metadata`` changes (None: removes) customer metadata properties."""
        files = {"model": self.store("model", model, sealed)}
        if monitoring_baseline:
            files["baseline"] = self.store("baseline", BASELINE, sealed)
        files["evaluation"] = self.store("evaluation", EVALUATION, sealed)
        properties: dict[str, str] = {"CodeVersion": "abc123"}
        for name, sha_key, version_key in (
            ("model", "ModelArtifactSha256", "ModelArtifactVersion"),
            ("baseline", "MonitoringBaselineSha256", "MonitoringBaselineVersion"),
            ("evaluation", "EvaluationReportSha256", "EvaluationReportVersion"),
        ):
            file = files.get(name)
            properties[sha_key] = file.sha256 if file else "none"
            properties[version_key] = file.version if file else "none"
        if monitoring_baseline:
            properties["MonitoringBaseline"] = files["baseline"].uri
        for key, value in (metadata or {}).items():
            if value is None:
                properties.pop(key, None)
            else:
                properties[key] = value
        arn = self.create_package(
            files["model"].uri,
            files["evaluation"].uri if evaluation_report else None,
            properties,
            group=group,
            status=status,
        )
        return Release(arn, files, properties)

    def create_package(
        self,
        model_uri: str,
        evaluation_uri: str | None,
        properties: dict[str, str],
        *,
        group: str = GROUP,
        status: str = "Approved",
    ) -> str:
        """CreateModelPackage with these URIs and customer metadata; its ARN."""
        request: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelPackageDescription": "churn model",
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": f"683313688378.dkr.ecr.{REGION}.amazonaws.com/xgboost:1.7-1",
                        "ModelDataUrl": model_uri,
                    }
                ],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            "ModelApprovalStatus": status,
            "CustomerMetadataProperties": properties,
        }
        if evaluation_uri is not None:
            request["ModelMetrics"] = {
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": evaluation_uri}
                }
            }
        arn: str = self.sagemaker.create_model_package(**request)["ModelPackageArn"]
        return arn

    def set_status(self, arn: str, status: str) -> None:
        self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)


@pytest.fixture
def aws(aws_client: Callable[[str], Any]) -> Iterator[Aws]:
    """moto: the source and target versioned buckets and an unversioned one, the project's group
    and another team's, all empty."""
    with mock_aws():
        s3 = aws_client("s3")
        for bucket in (SOURCE, TARGET, UNVERSIONED):
            s3.create_bucket(Bucket=bucket)
        for bucket in (SOURCE, TARGET):
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        sagemaker = aws_client("sagemaker")
        for group in (GROUP, OTHER_GROUP):
            sagemaker.create_model_package_group(
                ModelPackageGroupName=group, ModelPackageGroupDescription="churn models"
            )
        yield Aws(sagemaker=sagemaker, s3=s3)


@pytest.fixture
def reports(codepipeline_reports: Callable[[Any, str], Any]) -> Iterator[Any]:
    """The job results the handler sends to CodePipeline (lambda/conftest.py)."""
    with codepipeline_reports(handler_module._client("codepipeline"), JOB_ID) as recorded:
        yield recorded


@pytest.fixture
def sent() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The (operation, parameters) of every SageMaker and S3 request the handler sends."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    clients = [
        ("sagemaker", handler_module._client("sagemaker", REGION)),
        ("s3", handler_module._client("s3")),
    ]
    for service, client in clients:
        client.meta.events.register(f"provide-client-params.{service}", record)
    try:
        yield calls
    finally:
        for service, client in clients:
            client.meta.events.unregister(f"provide-client-params.{service}", record)
