"""Fixtures for the release_check handler: a moto model registry and versioned artifacts bucket,
stubbed job reports.

The handler is loaded from its file under the unique module name ``release_check_handler``
rather than as ``handler`` from sys.path (``load_handler``, lambda/conftest.py): every function
folder has a ``handler.py``, and in one pytest process the first ``import handler`` would shadow
the others. The version's files, the buckets and the registry are set up with
lambda/conftest.py's helpers (as for ``lambda/promote``).

moto 5.2.5 implements every registry and bucket call the handler makes and the tests set up with:
CreateModelPackageGroup, CreateModelPackage (with ``ModelApprovalStatus``,
``CustomerMetadataProperties`` and ``DriftCheckBaselines``, all kept by DescribeModelPackage),
UpdateModelPackage (the approval status), CreateBucket, PutBucketVersioning, PutObject (a new
VersionId per write), DeleteObject (a delete marker), HeadObject and GetObject with a VersionId.
A registered version's files are sealed as the Fingerprint step leaves them (a copy at
``sealed/<sha256>/<file name>``, written here with PutObject: how they are written is
lambda/fingerprint's business, tested there).
moto 5.2.5's CodePipeline has no PutJobSuccessResult / PutJobFailureResult (moto/codepipeline/
responses.py implements pipelines, executions and tags only), so for those two calls, and only
them, the handler's own codepipeline client is put behind botocore's ``Stubber``: the requests
are still validated against the service model, and the test reads what was sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

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

handler_module = load_handler(
    "release_check_handler", Path(__file__).resolve().parents[1] / "handler.py"
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
PROJECT = "mlops-dev-churn"
GROUP = f"{PROJECT}-models"
OTHER_GROUP = "other-team-models"
ARTIFACTS = f"{PROJECT}-artifacts-{ACCOUNT}"
OTHER_BUCKET = f"other-team-artifacts-{ACCOUNT}"
JOB_ID = "11111111-abcd-1111-abcd-111111abcdef"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PROJECT}-release-check"
SETTINGS = {"MODEL_PACKAGE_GROUP": GROUP, "ARTIFACTS_BUCKET": ARTIFACTS, "SEALED_PREFIX": SEALED}


# The version's Model Monitor baselines (DriftCheckBaselines): (section, source) -> the key the
# pipeline's job writes and its content. The Fingerprint step seals each; the version is
# registered with the sealed copies.
DRIFT_FILES: dict[tuple[str, str], tuple[str, bytes]] = {
    ("ModelDataQuality", "Statistics"): (
        f"{RUN}/baselines/data-quality/statistics.json",
        json.dumps({"version": 0.0, "features": [{"name": "tenure_months"}]}).encode(),
    ),
    ("ModelDataQuality", "Constraints"): (
        f"{RUN}/baselines/data-quality/constraints.json",
        json.dumps({"features": [{"name": "tenure_months", "completeness": 1.0}]}).encode(),
    ),
    ("ModelQuality", "Constraints"): (
        f"{RUN}/evaluation/constraints.json",
        json.dumps({"binary_classification_constraints": {"auc": {"threshold": 0.8}}}).encode(),
    ),
}


def drift_check_baselines(*, sealed: bool = True) -> dict[str, Any]:
    """DriftCheckBaselines with DRIFT_FILES: their sealed copies, or (``sealed=False``) the
    files where the pipeline wrote them."""
    drift: dict[str, Any] = {}
    for (section, source), (key, data) in DRIFT_FILES.items():
        at = sealed_key(data, key) if sealed else key
        drift.setdefault(section, {})[source] = {
            "ContentType": "application/json",
            "S3Uri": f"s3://{ARTIFACTS}/{at}",
        }
    return drift


DRIFT_CHECK_BASELINES = drift_check_baselines()
UNSEALED_DRIFT = drift_check_baselines(sealed=False)
# The deploy router's variable of each DriftCheckBaselines source.
VARIABLE_SOURCES = {
    "DataQualityStatistics": ("ModelDataQuality", "Statistics"),
    "DataQualityConstraints": ("ModelDataQuality", "Constraints"),
    "ModelQualityConstraints": ("ModelQuality", "Constraints"),
    "BiasConfig": ("Bias", "ConfigFile"),
    "BiasConstraints": ("Bias", "PostTrainingConstraints"),
    "ExplainabilityConfig": ("Explainability", "ConfigFile"),
    "ExplainabilityConstraints": ("Explainability", "Constraints"),
}


def drift_variables(drift: dict[str, Any] | None) -> dict[str, str]:
    """The variables the deploy router makes of ``drift`` (``none`` for a source it lacks)."""
    drift = drift or {}
    return {
        name: drift.get(section, {}).get(source, {}).get("S3Uri", "none")
        for name, (section, source) in VARIABLE_SOURCES.items()
    }


DRIFT_VARIABLES = drift_variables(DRIFT_CHECK_BASELINES)


@pytest.fixture(autouse=True)
def environment(fake_aws: Callable[..., None]) -> None:
    """Fake credentials, one region, the function's settings; nothing from the developer's env."""
    fake_aws(SETTINGS)


@pytest.fixture
def context() -> SimpleNamespace:
    """The Lambda context: the function's own ARN tells its account and region."""
    return SimpleNamespace(aws_request_id="req-1", invoked_function_arn=FUNCTION_ARN)


@dataclass
class Release:
    """A registered version and what the deploy pipeline passes for it."""

    arn: str
    model_uri: str  # as registered: the sealed copy's (unless registered with sealed=False)
    model_key: str
    model_version: str
    baseline_uri: str  # "none" without a monitoring baseline
    baseline_key: str  # "" without a monitoring baseline
    baseline_version: str
    metadata: dict[str, str]
    baselines: dict[str, str]  # UserParameters.baselines as the deploy pipeline fills them


@dataclass
class Aws(ModelRegistry):
    """Objects are written to and read from the artifacts bucket unless another bucket is
    named (lambda/conftest.py's S3Objects)."""

    def register(
        self,
        *,
        monitoring_baseline: bool = True,
        status: str = "Approved",
        group: str = GROUP,
        bucket: str = ARTIFACTS,
        model: bytes = MODEL,
        drift: dict[str, Any] | None = DRIFT_CHECK_BASELINES,
        metadata: dict[str, str] | None = None,
        fingerprints: bool = True,
        sealed: bool = True,
        baseline_sealed: bool | None = None,
    ) -> Release:
        """Uploads the files and registers the version as the training pipeline does: the
        sealed copies' URIs, and the Fingerprint step's version ids and SHA-256 in its customer
        metadata. ``sealed=False`` (``baseline_sealed=False``: the baseline only) registers the
        files where the training pipeline wrote them, fingerprinted but not sealed. The
        DRIFT_FILES are written where the pipeline writes them and sealed, always in the
        artifacts bucket; ``drift`` says which URIs the version registers (None: none)."""

        def store(key: str, data: bytes, seal: bool) -> tuple[str, str]:
            self.put(key, data, bucket)
            if seal:
                key = sealed_key(data, key)
            return key, self.put(key, data, bucket)

        model_key, model_version = store(MODEL_KEY, model, sealed)
        model_uri = f"s3://{bucket}/{model_key}"
        properties = {"CodeVersion": "abc123"}
        baseline_uri = baseline_version = baseline_sha = "none"
        baseline_key = ""
        if monitoring_baseline:
            seal_baseline = sealed if baseline_sealed is None else baseline_sealed
            baseline_key, baseline_version = store(BASELINE_KEY, BASELINE, seal_baseline)
            baseline_uri = f"s3://{bucket}/{baseline_key}"
            baseline_sha = sha256(BASELINE)
            properties["MonitoringBaseline"] = baseline_uri
        if fingerprints:
            properties |= {
                "ModelArtifactSha256": sha256(model),
                "ModelArtifactVersion": model_version,
                "MonitoringBaselineSha256": baseline_sha,
                "MonitoringBaselineVersion": baseline_version,
                "EvaluationReportSha256": sha256(EVALUATION),
                "EvaluationReportVersion": store(EVALUATION_KEY, EVALUATION, sealed)[1],
            }
        if metadata is not None:
            properties = metadata
        extra: dict[str, Any] = {}
        if drift is not None:
            for key, data in DRIFT_FILES.values():
                self.put(key, data)
                self.put(sealed_key(data, key), data)
            extra["DriftCheckBaselines"] = drift
        arn = self.create_model_package(group, model_uri, properties, status, **extra)
        baselines = {**drift_variables(drift), "MonitoringBaseline": baseline_uri}
        return Release(
            arn,
            model_uri,
            model_key,
            model_version,
            baseline_uri,
            baseline_key,
            baseline_version,
            properties,
            baselines,
        )


@pytest.fixture
def aws(aws_client: Callable[[str], Any]) -> Iterator[Aws]:
    """moto: the versioned artifacts bucket (and another team's), the project's group (and
    another team's), all empty."""
    with mock_aws():
        s3 = aws_client("s3")
        create_buckets(s3, versioned=(ARTIFACTS, OTHER_BUCKET))
        sagemaker = aws_client("sagemaker")
        create_model_package_groups(sagemaker, (GROUP, OTHER_GROUP))
        yield Aws(s3, writes_to=ARTIFACTS, reads_from=ARTIFACTS, sagemaker=sagemaker)


@pytest.fixture
def reports(codepipeline_reports: Callable[[Any, str], Any]) -> Iterator[Any]:
    """The job results the handler sends to CodePipeline (lambda/conftest.py)."""
    with codepipeline_reports(handler_module._client("codepipeline"), JOB_ID) as recorded:
        yield recorded


@pytest.fixture
def sent() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The (operation, parameters) of every SageMaker and S3 request the handler sends."""
    with requests_sent(handler_module._client("sagemaker"), handler_module._client("s3")) as calls:
        yield calls
