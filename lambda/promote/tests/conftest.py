"""Fixtures for the promote handler: a moto model registry, two versioned buckets standing for
the development account's artifacts bucket (the source) and the stage's own (the target),
stubbed job reports.

The handler is loaded from its file under the unique module name ``promote_handler`` rather
than as ``handler`` from sys.path (``load_handler``, lambda/conftest.py): every function folder
has a ``handler.py``, and in one pytest process the first ``import handler`` would shadow the
others. The version's files, the buckets and the registry are set up with lambda/conftest.py's
helpers (as for ``lambda/release_check``).

moto 5.2.5 implements every registry and bucket call the handler makes and the tests set up with:
CreateModelPackageGroup, CreateModelPackage (with ``ModelApprovalStatus``,
``CustomerMetadataProperties`` and ``ModelMetrics``, all kept by DescribeModelPackage),
UpdateModelPackage (the approval status), CreateBucket, PutBucketVersioning, PutObject (a new
VersionId per write), HeadObject and GetObject with a VersionId, DeleteObject of a version, and
the multipart copy: CreateMultipartUpload, UploadPartCopy (CopySource with a VersionId,
CopySourceRange; 404 for a missing version), CompleteMultipartUpload with ``If-None-Match: *``
(412 PreconditionFailed when the key exists; the upload is then still listed until aborted; the
VersionId ``null`` in an unversioned bucket), AbortMultipartUpload, ListMultipartUploads and
ListObjectVersions; CreateModelPackage keeps ``DriftCheckBaselines`` too. moto runs one account: the two buckets stand for the two accounts' buckets
(the cross-account grants are the CDK side's, README.md). Regions: moto keeps a registry per
region (a version of another region is not found), but one S3 namespace whose buckets any
client serves, whatever its region (an UploadPartCopy from a bucket of another region works,
and so would a HeadObject sent to the wrong region): the ``dev_region`` fixture moves the
registry and the source bucket to DEV_REGION, and the tests assert which region's client sent
each request (``requests_by_region``). A registered version's files are
sealed in the source bucket by the shared layer's own ``platform_fingerprint.seal``, exactly as
the Fingerprint step leaves them, and registered with the sealed URIs and the sealed objects'
versions and SHA-256. The Model Monitor baseline files (DriftCheckBaselines, the closed-service
option; ``register(drift=...)``) are sealed the same way and registered by their sealed URIs
only; the Clarify analysis configs beside them are the project's code, registered where they
are (``ml/code/...``), never sealed.

moto 5.2.5's CodePipeline has no PutJobSuccessResult / PutJobFailureResult, so for those two
calls, and only them, the handler's own codepipeline client is put behind botocore's
``Stubber`` (lambda/conftest.py): the requests are still validated against the service model
(the output variables' names too), and the test reads what was sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import platform_fingerprint as fp
import pytest
from lambda_testing import (
    BASELINE,
    BASELINE_KEY,
    EVALUATION,
    EVALUATION_KEY,
    MODEL,
    MODEL_KEY,
    RUN,
    SEALED,
    ModelRegistry,
    create_buckets,
    create_model_package_groups,
    load_handler,
    requests_sent,
    sealed_key,
    sha256,
)
from moto import mock_aws

handler_module = load_handler("promote_handler", Path(__file__).resolve().parents[1] / "handler.py")

REGION = "us-east-1"
DEV_ACCOUNT = "123456789012"  # moto's account: the registry's
PROD_ACCOUNT = "210987654321"  # where the function runs (its context only)
PROJECT = "mlops-dev-churn"
GROUP = f"{PROJECT}-models"
OTHER_GROUP = "other-team-models"
GROUP_ARN = f"arn:aws:sagemaker:{REGION}:{DEV_ACCOUNT}:model-package-group/{GROUP}"
# The development account's region in the cross-region tests (the dev_region fixture): its
# registry and its artifacts bucket are there, the function and the target bucket in REGION.
DEV_REGION = "eu-west-1"
DEV_GROUP_ARN = f"arn:aws:sagemaker:{DEV_REGION}:{DEV_ACCOUNT}:model-package-group/{GROUP}"
SOURCE = f"{PROJECT}-artifacts-{DEV_ACCOUNT}"  # the development artifacts bucket
TARGET = f"mlops-prod-churn-artifacts-{PROD_ACCOUNT}"  # the stage's own artifacts bucket
UNVERSIONED = f"mlops-prod-churn-scratch-{PROD_ACCOUNT}"
JOB_ID = "11111111-abcd-1111-abcd-111111abcdef"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{PROD_ACCOUNT}:function:mlops-prod-churn-promote"
SETTINGS = {
    "SOURCE_MODEL_PACKAGE_GROUP_ARN": GROUP_ARN,
    "SOURCE_BUCKET": SOURCE,
    "TARGET_BUCKET": TARGET,
    "SEALED_PREFIX": SEALED,
}
# Optional settings, unset unless a test sets them.
OPTIONAL_SETTINGS = ("DATA_KEY_ARN", "SUBNET_IDS", "SECURITY_GROUP_ID")
# The files of a version: (name, training key, content).
FILES = {
    "model": (MODEL_KEY, MODEL),
    "baseline": (BASELINE_KEY, BASELINE),
    "evaluation": (EVALUATION_KEY, EVALUATION),
}
# The Model Monitor baseline files a version may register in DriftCheckBaselines, by
# "<section>.<source>": (the key the pipeline's job writes, content). The Fingerprint step seals
# each (every DriftCheckBaselines source but the Clarify ConfigFiles).
DRIFT = {
    "ModelDataQuality.Statistics": (
        f"{RUN}/baselines/data-quality/statistics.json",
        json.dumps({"version": 0.0, "features": [{"name": "tenure_months"}]}).encode(),
    ),
    "ModelDataQuality.Constraints": (
        f"{RUN}/baselines/data-quality/constraints.json",
        json.dumps({"features": [{"name": "tenure_months", "completeness": 1.0}]}).encode(),
    ),
    "ModelQuality.Statistics": (
        f"{RUN}/baselines/model-quality/statistics.json",
        json.dumps(
            {"binary_classification_metrics": {"auc": {"value": 0.86}}, "rows": 512}
        ).encode(),
    ),
    "ModelQuality.Constraints": (
        f"{RUN}/evaluation/constraints.json",
        json.dumps({"binary_classification_constraints": {"auc": {"threshold": 0.8}}}).encode(),
    ),
    "Bias.PreTrainingConstraints": (
        f"{RUN}/baselines/bias-pre/analysis.json",
        json.dumps({"pre_training_bias_metrics": {"facets": {}}}).encode(),
    ),
    "Bias.PostTrainingConstraints": (
        f"{RUN}/baselines/bias-post/analysis.json",
        json.dumps({"post_training_bias_metrics": {"facets": {}}}).encode(),
    ),
    "Explainability.Constraints": (
        f"{RUN}/baselines/explainability/analysis.json",
        json.dumps({"explanations": {"kernel_shap": {}}}).encode(),
    ),
}
# The Clarify analysis configs: the project's code, registered where they are, not sealed.
CLARIFY_CONFIGS = {
    "Bias.ConfigFile": "ml/code/abc123/clarify/bias.json",
    "Explainability.ConfigFile": "ml/code/abc123/clarify/explainability.json",
}


@pytest.fixture(autouse=True)
def environment(fake_aws: Callable[..., None]) -> None:
    """Fake credentials, one region, the function's settings; nothing from the developer's env."""
    fake_aws(SETTINGS, unset=OPTIONAL_SETTINGS)


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
    # the sealed DriftCheckBaselines files registered, by "<section>.<source>"
    drift: dict[str, File] = field(default_factory=dict)


@dataclass
class Aws(ModelRegistry):
    """Objects are written to the source bucket and read from the target bucket unless another
    bucket is named (lambda/conftest.py's S3Objects)."""

    def store(self, name: str, content: bytes, sealed: bool) -> File:
        """Writes a file where the training pipeline does and, with ``sealed``, seals it as the
        Fingerprint step does (platform_fingerprint.seal)."""
        key = FILES[name][0] if name in FILES else DRIFT[name][0]
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
        drift: Iterable[str] = (),
        drift_uris: dict[str, Any] | None = None,
    ) -> Release:
        """Uploads and seals the files and registers the version as the training pipeline does:
        the sealed URIs, and the Fingerprint step's versions and SHA-256 in its customer
        metadata. ``metadata`` changes (None: removes) customer metadata properties. ``drift``
        names the DRIFT files the version has (in DriftCheckBaselines, sealed; with the Clarify
        configs when a bias or explainability file is among them); ``drift_uris`` registers
        other S3Uris for some ("<section>.<source>": value)."""
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
        sealed_drift = {name: self.store(name, DRIFT[name][1], True) for name in drift}
        uris: dict[str, Any] = {name: file.uri for name, file in sealed_drift.items()}
        for name, key in CLARIFY_CONFIGS.items():
            section = name.split(".")[0]
            if any(n.startswith(f"{section}.") for n in uris):
                self.put(key, b'{"dataset_type": "application/json"}')
                uris[name] = f"s3://{SOURCE}/{key}"
        uris |= drift_uris or {}
        drift_check_baselines: dict[str, Any] = {}
        for name, uri in uris.items():
            section, source = name.split(".")
            drift_check_baselines.setdefault(section, {})[source] = {
                "ContentType": "application/json",
                "S3Uri": uri,
            }
        arn = self.create_package(
            files["model"].uri,
            files["evaluation"].uri if evaluation_report else None,
            properties,
            group=group,
            status=status,
            drift_check_baselines=drift_check_baselines or None,
        )
        registered = {n: f for n, f in sealed_drift.items() if uris[n] == f.uri}
        return Release(arn, files, properties, registered)

    def create_package(
        self,
        model_uri: str,
        evaluation_uri: str | None,
        properties: dict[str, str],
        *,
        group: str = GROUP,
        status: str = "Approved",
        drift_check_baselines: dict[str, Any] | None = None,
    ) -> str:
        """CreateModelPackage with these URIs and customer metadata (and DriftCheckBaselines);
        its ARN."""
        extra: dict[str, Any] = {}
        if drift_check_baselines is not None:
            extra["DriftCheckBaselines"] = drift_check_baselines
        if evaluation_uri is not None:
            extra["ModelMetrics"] = {
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": evaluation_uri}
                }
            }
        return self.create_model_package(group, model_uri, properties, status, **extra)


@pytest.fixture
def aws(aws_client: Callable[[str], Any]) -> Iterator[Aws]:
    """moto: the source and target versioned buckets and an unversioned one, the project's group
    and another team's, all empty."""
    with mock_aws():
        s3 = aws_client("s3")
        create_buckets(s3, versioned=(SOURCE, TARGET), unversioned=(UNVERSIONED,))
        sagemaker = aws_client("sagemaker")
        create_model_package_groups(sagemaker, (GROUP, OTHER_GROUP))
        yield Aws(s3, writes_to=SOURCE, reads_from=TARGET, sagemaker=sagemaker)


@pytest.fixture
def reports(codepipeline_reports: Callable[[Any, str], Any]) -> Iterator[Any]:
    """The job results the handler sends to CodePipeline (lambda/conftest.py)."""
    with codepipeline_reports(handler_module._client("codepipeline"), JOB_ID) as recorded:
        yield recorded


@pytest.fixture
def sent() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The (operation, parameters) of every SageMaker and S3 request the handler sends, in
    order: SageMaker in the source group's region, S3 on the source bucket (the source group's
    region, here the function's own) and on the target bucket (the function's own client)."""
    clients = (
        handler_module._client("sagemaker", REGION),
        handler_module._client("s3", REGION),
        handler_module._client("s3"),
    )
    with requests_sent(*clients) as calls:
        yield calls


@contextmanager
def requests_by_region(*clients: Any) -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """The (region, operation, parameters) of every request made with ``clients`` while open,
    in order: the region is the sending client's (lambda/conftest.py's ``requests_sent``
    without it)."""
    calls: list[tuple[str, str, dict[str, Any]]] = []
    hooks: list[tuple[Any, str, Callable[..., None]]] = []
    for client in {id(c): c for c in clients}.values():
        region: str = client.meta.region_name

        def record(params: dict[str, Any], model: Any, _region: str = region, **_: Any) -> None:
            calls.append((_region, model.name, dict(params)))

        event = f"provide-client-params.{client.meta.service_model.service_id.hyphenize()}"
        client.meta.events.register(event, record)
        hooks.append((client, event, record))
    try:
        yield calls
    finally:
        for client, event, record in hooks:
            client.meta.events.unregister(event, record)


@pytest.fixture
def sent_by_region() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """The (region, operation, parameters) of every SageMaker and S3 request the handler sends,
    with any of its clients the tests' regions can make it use (the function's own, REGION,
    DEV_REGION)."""
    clients = [
        handler_module._client(service, region)
        for service in ("sagemaker", "s3")
        for region in (None, REGION, DEV_REGION)
    ]
    with requests_by_region(*clients) as calls:
        yield calls


@pytest.fixture
def dev_region(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The development account in DEV_REGION: the project's group there (and
    SOURCE_MODEL_PACKAGE_GROUP_ARN naming it), the source bucket moved there (versioned, empty);
    the target bucket stays in the function's region. The answer registers and seals with
    clients of DEV_REGION (read the target bucket with ``aws``, the function's region's).
    moto's S3 serves any bucket to a client of any region (so the region of each request is
    asserted on the recorded requests); its SageMaker registry is per region, as AWS's."""
    s3 = boto3.client("s3", region_name=DEV_REGION)
    sagemaker = boto3.client("sagemaker", region_name=DEV_REGION)
    aws.s3.delete_bucket(Bucket=SOURCE)
    s3.create_bucket(Bucket=SOURCE, CreateBucketConfiguration={"LocationConstraint": DEV_REGION})
    s3.put_bucket_versioning(Bucket=SOURCE, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_location(Bucket=SOURCE)["LocationConstraint"] == DEV_REGION
    create_model_package_groups(sagemaker, (GROUP,))
    monkeypatch.setenv("SOURCE_MODEL_PACKAGE_GROUP_ARN", DEV_GROUP_ARN)
    return Aws(s3, writes_to=SOURCE, reads_from=TARGET, sagemaker=sagemaker)
