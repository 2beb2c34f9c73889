"""release_check handler: moto for the model registry and the versioned artifacts bucket,
Stubber for the job reports.

See conftest.py for why PutJobSuccessResult / PutJobFailureResult are stubbed (moto 5.2.5 has
neither). Two more Stubber uses, each for what moto never produces: a described version whose
ModelPackageGroupName is not the group its ARN names, and a throttled HeadObject.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import release_check_handler as handler
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from lambda_testing import (
    MALFORMED_JOB_EVENTS,
    codepipeline_event,
    cold_start,
    load_handler,
    log_lines,
    sha256,
)

# the same values as conftest.py (not imported from it: every Lambda folder has a conftest.py)
REGION = "us-east-1"
ACCOUNT = "123456789012"
PROJECT = "mlops-dev-churn"
GROUP = f"{PROJECT}-models"
OTHER_GROUP = "other-team-models"
ARTIFACTS = f"{PROJECT}-artifacts-{ACCOUNT}"
OTHER_BUCKET = f"other-team-artifacts-{ACCOUNT}"
JOB_ID = "11111111-abcd-1111-abcd-111111abcdef"
EXECUTION_ID = "k1ls9tc3wnw6"
RUN = f"pipelines/{EXECUTION_ID}"
MODEL_KEY = f"models/pipelines-{EXECUTION_ID}-Train-Ab12Cd34Ef/output/model.tar.gz"
BASELINE_KEY = f"{RUN}/baselines/monitoring/statistics.json"
MODEL = bytes(range(256)) * 1000
BASELINE = json.dumps({"features": [{"name": "tenure_months", "mean": 31.2}]}).encode()
LOOSE_BASELINE = json.dumps({"features": [{"name": "tenure_months", "mean": 0.0}]}).encode()
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PROJECT}-release-check"
DEPLOY_ROUTER = Path(__file__).resolve().parents[2] / "deploy_router" / "handler.py"


# -- helpers -------------------------------------------------------------------------------------


def job_event(parameters: Any, job_id: str | None = JOB_ID) -> dict[str, Any]:
    """A CodePipeline "Invoke Lambda" event (UserParameters as CodePipeline resolved them)."""
    return codepipeline_event(
        parameters, job_id, account=ACCOUNT, function_name=f"{PROJECT}-release-check"
    )


def params(release: Any, stage: str = "prod", **overrides: Any) -> dict[str, Any]:
    """UserParameters as the deploy pipeline resolves them for ``release``; a baseline
    variable in ``overrides`` replaces the one passed, None removes a key."""
    baselines = dict(release.baselines)
    for name in list(overrides):
        if name in handler.BASELINE_VARIABLES:
            baselines[name] = overrides.pop(name)
    base: dict[str, Any] = {
        "stage": stage,
        "model_package_arn": release.arn,
        "baselines": baselines,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def run(release: Any, context: Any, reports: Any, **overrides: Any) -> dict[str, Any]:
    """Runs the check for ``release`` expecting a JobFailed report; returns the result."""
    reports.expect_failure()
    result = handler.handler(job_event(params(release, **overrides)), context)
    assert result["status"] == "failed"
    assert reports.sent_failure()["message"] == result["error"]
    return result


# -- a good release ------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_a_good_release_passes(aws, reports, context, sent, capsys, stage):
    release = aws.register()
    # registered as the training pipeline does: the sealed copies
    assert release.model_uri == f"s3://{ARTIFACTS}/sealed/{sha256(MODEL)}/model.tar.gz"
    assert release.baseline_uri == f"s3://{ARTIFACTS}/sealed/{sha256(BASELINE)}/statistics.json"
    reports.expect_success()

    result = handler.handler(job_event(params(release, stage=stage)), context)

    assert result["status"] == "succeeded"
    assert result["job_id"] == JOB_ID
    [(operation, report)] = reports.sent
    assert operation == "PutJobSuccessResult"
    assert report["executionDetails"]["percentComplete"] == 100
    summary = report["executionDetails"]["summary"]
    assert summary == result["summary"]
    assert summary == (
        f"release of {release.arn} verified for {stage}: a version of {GROUP}, Approved, "
        f"model artifact version {release.model_version} with the SHA-256 {sha256(MODEL)}, "
        f"monitoring baseline version {release.baseline_version} with the SHA-256 "
        f"{release.metadata['MonitoringBaselineSha256']}, 3 drift-check baseline files sealed, "
        "the 8 baseline variables match the registry"
    )
    # the registry once; per sealed drift-check baseline HeadObject, then GetObject of its
    # current version; per file HeadObject, then GetObject of exactly the recorded version
    drift = drift_keys(aws, release)
    assert list(drift) == [
        "ModelDataQuality.Statistics",
        "ModelDataQuality.Constraints",
        "ModelQuality.Constraints",
    ]
    assert sent == [
        ("DescribeModelPackage", {"ModelPackageName": release.arn}),
        *(
            call
            for key, version in drift.values()
            for call in (
                ("HeadObject", {"Bucket": ARTIFACTS, "Key": key}),
                ("GetObject", {"Bucket": ARTIFACTS, "Key": key, "VersionId": version}),
            )
        ),
        ("HeadObject", {"Bucket": ARTIFACTS, "Key": release.model_key}),
        (
            "GetObject",
            {"Bucket": ARTIFACTS, "Key": release.model_key, "VersionId": release.model_version},
        ),
        ("HeadObject", {"Bucket": ARTIFACTS, "Key": release.baseline_key}),
        (
            "GetObject",
            {
                "Bucket": ARTIFACTS,
                "Key": release.baseline_key,
                "VersionId": release.baseline_version,
            },
        ),
    ]
    [line] = log_lines(capsys)
    assert (line["level"], line["message"], line["status"]) == (
        "INFO",
        "release check passed",
        "succeeded",
    )
    assert (line["job_id"], line["stage"], line["model_package_arn"]) == (
        JOB_ID,
        stage,
        release.arn,
    )
    assert (line["model_version"], line["model_sha256"]) == (release.model_version, sha256(MODEL))
    assert line["baseline_uri"] == release.baseline_uri
    assert line["drift_baselines"] == {
        name: f"s3://{ARTIFACTS}/{key}" for name, (key, _) in drift.items()
    }


def test_a_release_without_a_monitoring_baseline_passes(aws, reports, context, sent):
    release = aws.register(monitoring_baseline=False, drift=None)
    assert release.metadata["MonitoringBaselineSha256"] == "none"
    assert set(release.baselines.values()) == {"none"}
    reports.expect_success()

    result = handler.handler(job_event(params(release)), context)

    assert result["status"] == "succeeded"
    assert "no monitoring baseline" in result["summary"]
    assert "no drift-check baseline files" in result["summary"]
    assert [op for op, _ in sent] == ["DescribeModelPackage", "HeadObject", "GetObject"]
    assert sent[1][1]["Key"] == f"sealed/{sha256(MODEL)}/model.tar.gz"


def test_the_result_does_not_depend_on_the_chunk_size(aws, reports, context, monkeypatch):
    release = aws.register()
    monkeypatch.setattr(handler, "CHUNK_SIZE", 1000)
    reports.expect_success()
    assert handler.handler(job_event(params(release)), context)["status"] == "succeeded"


def test_a_qualified_function_arn_is_understood(aws, reports):
    release = aws.register()
    reports.expect_success()
    context = SimpleNamespace(aws_request_id="r", invoked_function_arn=f"{FUNCTION_ARN}:live")
    assert handler.handler(job_event(params(release)), context)["status"] == "succeeded"


def test_replayed_job_reports_the_same(aws, reports, context):
    release = aws.register()
    reports.expect_success()
    reports.expect_success()
    first = handler.handler(job_event(params(release)), context)
    assert handler.handler(job_event(params(release)), context) == first


# -- model-unchanged -----------------------------------------------------------------------------


def test_a_model_overwritten_after_registration_fails(aws, reports, context, capsys):
    release = aws.register()
    swapped = aws.put(release.model_key, b"a backdoored model")

    result = run(release, context, reports)

    assert result["checks"] == ["model-unchanged"]
    assert result["error"] == (
        f"release check of {release.arn} for prod failed (model-unchanged): model-unchanged: "
        f"the model artifact {release.model_uri} is now the version {swapped!r}, not the "
        f"registered {release.model_version!r}: it was written after registration"
    )
    line = log_lines(capsys)[-1]
    assert (line["level"], line["status"], line["checks"]) == (
        "ERROR",
        "failed",
        ["model-unchanged"],
    )
    assert line["baseline_version"] == release.baseline_version  # the baseline was verified


def test_the_same_content_uploaded_again_fails_too(aws, reports, context, sent):
    """A new version is refused even with identical content (lambda/release_check/README.md)."""
    release = aws.register()
    again = aws.put(release.model_key, MODEL)
    assert again != release.model_version

    result = run(release, context, reports)

    assert result["checks"] == ["model-unchanged"]
    assert f"is now the version {again!r}, not the registered" in result["error"]
    # the new version is not even read: its version alone refuses it
    assert (
        "GetObject",
        {"Bucket": ARTIFACTS, "Key": release.model_key, "VersionId": again},
    ) not in sent


def test_a_restored_version_is_still_refused(aws, reports, context):
    """Copying the registered version back makes yet another version: a human decides."""
    release = aws.register()
    aws.put(release.model_key, b"swapped")
    aws.s3.copy_object(
        Bucket=ARTIFACTS,
        Key=release.model_key,
        CopySource={
            "Bucket": ARTIFACTS,
            "Key": release.model_key,
            "VersionId": release.model_version,
        },
    )
    assert run(release, context, reports)["checks"] == ["model-unchanged"]


def test_a_deleted_model_fails(aws, reports, context):
    release = aws.register()
    aws.s3.delete_object(Bucket=ARTIFACTS, Key=release.model_key)  # a delete marker is now current
    result = run(release, context, reports)
    assert result["checks"] == ["model-unchanged"]
    assert f"could not read the model artifact {release.model_uri}: 404" in result["error"]


def test_a_recorded_hash_that_does_not_match_its_version_fails(aws, reports, context):
    release = aws.register()
    wrong = {**release.metadata, "ModelArtifactSha256": sha256(b"another model")}
    arn = _register_metadata(aws, release, wrong)

    reports.expect_failure()
    result = handler.handler(job_event({**params(release), "model_package_arn": arn}), context)

    # the sealed key names the content too, so the two checks both see it
    assert result["checks"] == ["sealed", "model-unchanged"]
    assert (
        f"sealed: the model artifact {release.model_uri} is the sealed copy of the SHA-256 "
        f"{sha256(MODEL)}, not of the registered {sha256(b'another model')}"
    ) in result["error"]
    assert (
        f"the model artifact {release.model_uri} version {release.model_version!r} has the "
        f"SHA-256 {sha256(MODEL)}, not the registered {sha256(b'another model')}"
    ) in result["error"]


def drift_keys(aws: Any, release: Any) -> dict[str, tuple[str, str]]:
    """The version's sealed DriftCheckBaselines files: "<section>.<source>" -> (key, current
    version), in the order the check reads them."""
    described = aws.sagemaker.describe_model_package(ModelPackageName=release.arn)
    found: dict[str, tuple[str, str]] = {}
    for section, source in handler.DRIFT_FILES:
        metric = described.get("DriftCheckBaselines", {}).get(section, {}).get(source)
        if metric is not None:
            key = metric["S3Uri"].split("/", 3)[3]
            version = aws.s3.head_object(Bucket=ARTIFACTS, Key=key)["VersionId"]
            found[f"{section}.{source}"] = (key, version)
    return found


def _register_metadata(aws: Any, release: Any, metadata: dict[str, str]) -> str:
    """Another version of the same files (no upload) with the given customer metadata."""
    described = aws.sagemaker.describe_model_package(ModelPackageName=release.arn)
    arn: str = aws.sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification=described["InferenceSpecification"],
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties=metadata,
        DriftCheckBaselines=described["DriftCheckBaselines"],
    )["ModelPackageArn"]
    return arn


def test_a_model_outside_the_artifacts_bucket_fails(aws, reports, context, sent):
    release = aws.register(bucket=OTHER_BUCKET, monitoring_baseline=False, drift=None)
    result = run(release, context, reports)
    assert result["checks"] == ["sealed", "model-unchanged"]
    assert (
        f"sealed: the model artifact {release.model_uri} is not sealed (an object of "
        f"'{ARTIFACTS}' under 'sealed/')"
    ) in result["error"]
    assert (
        f"the model artifact {release.model_uri} is not in the artifacts bucket "
        f"'{ARTIFACTS}': its fingerprint cannot be verified"
    ) in result["error"]
    assert [op for op, _ in sent] == ["DescribeModelPackage"]


def test_a_throttled_read_is_a_failure_not_an_error(aws, reports, context):
    """Stubbed: moto is never throttled."""
    release = aws.register(monitoring_baseline=False, drift=None)
    with Stubber(handler._client("s3")) as stub:
        stub.add_client_error("head_object", "SlowDown", "Please reduce your request rate", 503)
        result = run(release, context, reports)
        stub.assert_no_pending_responses()
    assert result["checks"] == ["model-unchanged"]
    assert "could not read the model artifact" in result["error"]
    assert "SlowDown: Please reduce your request rate" in result["error"]


# -- baseline-unchanged --------------------------------------------------------------------------


def test_a_loosened_baseline_fails(aws, reports, context):
    release = aws.register()
    loosened = aws.put(release.baseline_key, LOOSE_BASELINE)

    result = run(release, context, reports)

    assert result["checks"] == ["baseline-unchanged"]
    assert (
        f"baseline-unchanged: the monitoring baseline {release.baseline_uri} is now the version "
        f"{loosened!r}, not the registered {release.baseline_version!r}: it was written after "
        "registration"
    ) in result["error"]


def test_every_failed_check_of_the_files_is_named(aws, reports, context):
    release = aws.register(sealed=False)
    aws.put(release.model_key, b"swapped")
    aws.put(release.baseline_key, LOOSE_BASELINE)

    result = run(release, context, reports, MonitoringBaseline="none")

    assert result["checks"] == [
        "sealed",
        "model-unchanged",
        "baseline-unchanged",
        "baselines-match",
    ]
    assert result["error"].startswith(
        f"release check of {release.arn} for prod failed (sealed, model-unchanged, "
        "baseline-unchanged, baselines-match): sealed: "
    )


# -- sealed --------------------------------------------------------------------------------------

UNSEALED = (
    "is not sealed (an object of '{bucket}' under 'sealed/'): a version registered with "
    "unsealed files is not deployed, register it again through the Fingerprint step"
)


def test_a_version_registered_with_unsealed_files_fails(aws, reports, context, sent):
    """Files the training code can still overwrite: not deployed, even while unchanged."""
    release = aws.register(sealed=False)
    assert release.model_uri == f"s3://{ARTIFACTS}/{MODEL_KEY}"

    result = run(release, context, reports)

    assert result["checks"] == ["sealed"]  # unchanged, but not sealed
    unsealed = UNSEALED.format(bucket=ARTIFACTS)
    assert result["error"] == (
        f"release check of {release.arn} for prod failed (sealed): sealed: the model artifact "
        f"{release.model_uri} {unsealed}; the monitoring baseline {release.baseline_uri} "
        f"{unsealed}"
    )
    # the files are still verified (after the three sealed drift-check baselines): one message
    # names everything
    assert [op for op, _ in sent] == ["DescribeModelPackage", *["HeadObject", "GetObject"] * 5]


def test_an_unsealed_model_fails(aws, reports, context):
    release = aws.register(sealed=False, baseline_sealed=True)
    result = run(release, context, reports)
    assert result["checks"] == ["sealed"]
    assert result["error"].endswith(
        f"sealed: the model artifact {release.model_uri} {UNSEALED.format(bucket=ARTIFACTS)}"
    )
    assert "monitoring baseline" not in result["error"]


def test_an_unsealed_baseline_fails(aws, reports, context):
    release = aws.register(baseline_sealed=False)
    assert release.baseline_uri == f"s3://{ARTIFACTS}/{BASELINE_KEY}"
    result = run(release, context, reports)
    assert result["checks"] == ["sealed"]
    assert result["error"].endswith(
        f"sealed: the monitoring baseline {release.baseline_uri} "
        f"{UNSEALED.format(bucket=ARTIFACTS)}"
    )
    assert "model artifact" not in result["error"]


def test_an_unsealed_model_without_a_baseline_fails(aws, reports, context):
    release = aws.register(sealed=False, monitoring_baseline=False, drift=None)
    result = run(release, context, reports)
    assert result["checks"] == ["sealed"]
    assert "the model artifact" in result["error"]
    assert "monitoring baseline" not in result["error"]


def test_files_sealed_under_another_prefix_fail(aws, reports, context, monkeypatch):
    release = aws.register()
    monkeypatch.setenv("SEALED_PREFIX", "releases/sealed/")
    result = run(release, context, reports)
    assert result["checks"] == ["sealed", "drift-baselines-sealed"]
    assert (
        f"the model artifact {release.model_uri} is not sealed (an object of '{ARTIFACTS}' "
        "under 'releases/sealed/')"
    ) in result["error"]


def _register_at(aws: Any, release: Any, model_url: str, metadata: dict[str, str]) -> str:
    """Another version of the release with the given ModelDataUrl and customer metadata."""
    described = aws.sagemaker.describe_model_package(ModelPackageName=release.arn)
    specification = described["InferenceSpecification"]
    specification["Containers"][0]["ModelDataUrl"] = model_url
    arn: str = aws.sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification=specification,
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties=metadata,
        DriftCheckBaselines=described["DriftCheckBaselines"],
    )["ModelPackageArn"]
    return arn


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        pytest.param(
            "sealed/model.tar.gz",
            "is not a sealed object key (sealed/<sha256>/<file name>)",
            id="no-sha256",
        ),
        pytest.param(
            f"sealed/{sha256(MODEL)}/nested/model.tar.gz",
            "is not a sealed object key (sealed/<sha256>/<file name>)",
            id="nested",
        ),
        pytest.param(
            f"sealed/{sha256(b'another model')}/model.tar.gz",
            f"is the sealed copy of the SHA-256 {sha256(b'another model')}, not of the "
            f"registered {sha256(MODEL)}",
            id="other-sha256",
        ),
        pytest.param(
            f"sealedcopies/{sha256(MODEL)}/model.tar.gz",
            UNSEALED.format(bucket=ARTIFACTS),
            id="prefix-lookalike",
        ),
    ],
)
def test_a_model_under_the_prefix_but_not_its_sealed_copy_fails(
    aws, reports, context, key, problem
):
    """The recorded version is the registered key's (model-unchanged passes): only the key's
    form, or the content it names, is wrong."""
    release = aws.register()
    metadata = {**release.metadata, "ModelArtifactVersion": aws.put(key, MODEL)}
    arn = _register_at(aws, release, f"s3://{ARTIFACTS}/{key}", metadata)
    reports.expect_failure()

    result = handler.handler(job_event({**params(release), "model_package_arn": arn}), context)

    assert result["checks"] == ["sealed"]
    assert result["error"].endswith(f"sealed: the model artifact s3://{ARTIFACTS}/{key} {problem}")


def test_a_baseline_under_the_prefix_but_not_its_sealed_copy_fails(aws, reports, context):
    release = aws.register()
    baseline = f"s3://{ARTIFACTS}/sealed/{sha256(LOOSE_BASELINE)}/statistics.json"
    version = aws.put(baseline.split("/", 3)[3], BASELINE)
    metadata = {
        **release.metadata,
        "MonitoringBaseline": baseline,
        "MonitoringBaselineVersion": version,
    }
    arn = _register_at(aws, release, release.model_uri, metadata)
    reports.expect_failure()

    parameters = {**params(release, MonitoringBaseline=baseline), "model_package_arn": arn}
    result = handler.handler(job_event(parameters), context)

    assert result["checks"] == ["sealed"]
    assert result["error"].endswith(
        f"sealed: the monitoring baseline {baseline} is the sealed copy of the SHA-256 "
        f"{sha256(LOOSE_BASELINE)}, not of the registered {sha256(BASELINE)}"
    )


# -- drift-baselines-sealed ----------------------------------------------------------------------

DRIFT_CONTENT = json.dumps({"features": [{"name": "tenure_months", "completeness": 1.0}]}).encode()
LOOSE_CONSTRAINTS = json.dumps({"features": [{"name": "tenure_months", "completeness": 0.0}]})
# Every DriftCheckBaselines source of the API (botocore's model): (section, source) -> its
# variable in the deploy pipeline, where it has one.
DRIFT_VARIABLE = {
    ("ModelDataQuality", "Statistics"): "DataQualityStatistics",
    ("ModelDataQuality", "Constraints"): "DataQualityConstraints",
    ("ModelQuality", "Statistics"): None,
    ("ModelQuality", "Constraints"): "ModelQualityConstraints",
    ("Bias", "PreTrainingConstraints"): None,
    ("Bias", "PostTrainingConstraints"): "BiasConstraints",
    ("Explainability", "Constraints"): "ExplainabilityConstraints",
    ("Bias", "ConfigFile"): "BiasConfig",
    ("Explainability", "ConfigFile"): "ExplainabilityConfig",
}


def _register_drift(aws: Any, release: Any, drift: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Another version of the release with the given DriftCheckBaselines; its ARN and the
    baseline variables the deploy pipeline passes for it."""
    described = aws.sagemaker.describe_model_package(ModelPackageName=release.arn)
    arn: str = aws.sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification=described["InferenceSpecification"],
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties=release.metadata,
        DriftCheckBaselines=drift,
    )["ModelPackageArn"]
    variables = {
        name: drift.get(section, {}).get(source, {}).get("S3Uri", "none")
        for (section, source), name in DRIFT_VARIABLE.items()
        if name is not None
    }
    return arn, variables


def _with(drift: dict[str, Any], section: str, source: str, uri: str) -> dict[str, Any]:
    """``drift`` with the S3Uri of ``section.source`` set to ``uri``."""
    changed = json.loads(json.dumps(drift))
    changed.setdefault(section, {})[source] = {"ContentType": "application/json", "S3Uri": uri}
    return changed


def _check(aws: Any, release: Any, reports: Any, context: Any, drift: dict[str, Any]) -> Any:
    """Runs the check of a version of ``release`` registered with ``drift``."""
    arn, variables = _register_drift(aws, release, drift)
    parameters = {**params(release, **variables), "model_package_arn": arn}
    return handler.handler(job_event(parameters), context)


def _sealed_drift(aws: Any, data: bytes, name: str) -> str:
    """A Model Monitor file as the Fingerprint step seals it; its URI."""
    key = f"sealed/{sha256(data)}/{name}"
    aws.put(key, data)
    return f"s3://{ARTIFACTS}/{key}"


def test_every_drift_check_baseline_file_is_verified_but_the_clarify_configs(
    aws, reports, context, sent
):
    """All seven statistics/constraints/analysis sources, sealed, pass; the analysis configs
    (the project's code, under ml/code/) are not sealed and need not be."""
    release = aws.register()
    drift: dict[str, Any] = {}
    for number, ((section, source), _) in enumerate(DRIFT_VARIABLE.items()):
        if source == "ConfigFile":
            uri = f"s3://{ARTIFACTS}/ml/code/abc123/clarify/monitor_{section.lower()}.json"
        else:
            uri = _sealed_drift(aws, json.dumps({"n": number}).encode(), "analysis.json")
        drift = _with(drift, section, source, uri)
    reports.expect_success()

    result = _check(aws, release, reports, context, drift)

    assert result["status"] == "succeeded", result
    assert "7 drift-check baseline files sealed" in result["summary"]
    read = [params["Key"] for op, params in sent if op == "GetObject"]
    assert len(read) == 7 + 2  # the seven, then the model and the monitoring baseline
    assert not any("ml/code" in key for key in read)


def test_drift_files_are_every_metrics_source_of_the_api():
    """DRIFT_FILES is every DriftCheckBaselines source SageMaker types MetricsSource (the
    ConfigFiles are FileSource): a new one in the API fails this test, not silently the check."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    sources = {
        (section, source): shape.name
        for section, block in model.shape_for("DriftCheckBaselines").members.items()
        for source, shape in block.members.items()
    }
    assert set(sources) == set(DRIFT_VARIABLE)
    assert set(handler.DRIFT_FILES) == {k for k, v in sources.items() if v == "MetricsSource"}
    assert {k for k, v in sources.items() if v != "MetricsSource"} == {
        ("Bias", "ConfigFile"),
        ("Explainability", "ConfigFile"),
    }


@pytest.mark.parametrize(("section", "source"), [k for k in DRIFT_VARIABLE if k[1] != "ConfigFile"])
def test_an_unsealed_drift_check_baseline_fails(aws, reports, context, sent, section, source):
    """Registered where the pipeline's job wrote it: a later run could loosen it."""
    release = aws.register()
    unsealed = f"s3://{ARTIFACTS}/{RUN}/baselines/loose/constraints.json"
    aws.put(unsealed.split("/", 3)[3], DRIFT_CONTENT)
    reports.expect_failure()

    result = _check(aws, release, reports, context, _with({}, section, source, unsealed))

    assert result["checks"] == ["drift-baselines-sealed"]
    assert result["error"].endswith(
        f"drift-baselines-sealed: the drift-check baseline {section}.{source} {unsealed} "
        f"{UNSEALED.format(bucket=ARTIFACTS)}"
    )
    # not read: the function may read sealed/ only
    assert unsealed.split("/", 3)[3] not in [params.get("Key") for _, params in sent]


def test_a_version_registered_with_unsealed_drift_check_baselines_names_each(aws, reports, context):
    release = aws.register()
    described = aws.sagemaker.describe_model_package(ModelPackageName=release.arn)
    drift = described["DriftCheckBaselines"]
    unsealed = {
        "ModelDataQuality": f"s3://{ARTIFACTS}/{RUN}/baselines/data-quality/statistics.json",
        "ModelQuality": f"s3://{ARTIFACTS}/{RUN}/evaluation/constraints.json",
    }
    drift = _with(drift, "ModelDataQuality", "Statistics", unsealed["ModelDataQuality"])
    drift = _with(drift, "ModelQuality", "Constraints", unsealed["ModelQuality"])
    reports.expect_failure()

    result = _check(aws, release, reports, context, drift)

    assert result["checks"] == ["drift-baselines-sealed"]
    problem = UNSEALED.format(bucket=ARTIFACTS)
    assert result["error"].endswith(
        f"drift-baselines-sealed: the drift-check baseline ModelDataQuality.Statistics "
        f"{unsealed['ModelDataQuality']} {problem}; the drift-check baseline "
        f"ModelQuality.Constraints {unsealed['ModelQuality']} {problem}"
    )
    assert "ModelDataQuality.Constraints" not in result["error"]  # sealed, and it holds its key


def test_a_loosened_sealed_drift_check_baseline_fails(aws, reports, context):
    """Written at its sealed key (possible only with a loosened bucket policy): the content no
    longer hashes to the SHA-256 the key names."""
    release = aws.register()
    [(key, _)] = [v for k, v in drift_keys(aws, release).items() if k == "ModelQuality.Constraints"]
    loosened = aws.put(key, LOOSE_CONSTRAINTS.encode())
    addressed = key.split("/")[1]

    result = run(release, context, reports)

    assert result["checks"] == ["drift-baselines-sealed"]
    assert result["error"].endswith(
        f"drift-baselines-sealed: the drift-check baseline ModelQuality.Constraints "
        f"s3://{ARTIFACTS}/{key} version {loosened!r} has the SHA-256 "
        f"{sha256(LOOSE_CONSTRAINTS.encode())}, not the {addressed} its sealed key names: it is "
        "not the file the Fingerprint step sealed"
    )


def test_a_drift_check_baseline_at_a_sealed_key_of_other_content_fails(aws, reports, context):
    """A key that looks sealed, but its SHA-256 is not what it holds (written by hand)."""
    release = aws.register()
    forged = f"sealed/{sha256(DRIFT_CONTENT)}/constraints.json"
    aws.put(forged, LOOSE_CONSTRAINTS.encode())
    reports.expect_failure()

    result = _check(
        aws,
        release,
        reports,
        context,
        _with({}, "ModelDataQuality", "Constraints", f"s3://{ARTIFACTS}/{forged}"),
    )

    assert result["checks"] == ["drift-baselines-sealed"]
    assert (
        f"has the SHA-256 {sha256(LOOSE_CONSTRAINTS.encode())}, not the {sha256(DRIFT_CONTENT)} "
        "its sealed key names"
    ) in result["error"]


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        pytest.param(
            f"s3://{ARTIFACTS}/sealed/constraints.json",
            "is not a sealed object key (sealed/<sha256>/<file name>)",
            id="no-sha256",
        ),
        pytest.param(
            f"s3://{ARTIFACTS}/sealed/{sha256(DRIFT_CONTENT)}/x/constraints.json",
            "is not a sealed object key (sealed/<sha256>/<file name>)",
            id="nested",
        ),
        pytest.param(
            f"s3://{ARTIFACTS}/sealedcopies/{sha256(DRIFT_CONTENT)}/constraints.json",
            UNSEALED.format(bucket=ARTIFACTS),
            id="prefix-lookalike",
        ),
        pytest.param(
            f"s3://{OTHER_BUCKET}/sealed/{sha256(DRIFT_CONTENT)}/constraints.json",
            UNSEALED.format(bucket=ARTIFACTS),
            id="other-bucket",
        ),
        pytest.param(
            "https://example.com/constraints.json", UNSEALED.format(bucket=ARTIFACTS), id="https"
        ),
    ],
)
def test_a_drift_check_baseline_not_at_a_sealed_key_fails(
    aws, reports, context, sent, uri, problem
):
    release = aws.register()
    reports.expect_failure()

    result = _check(
        aws, release, reports, context, _with({}, "Bias", "PreTrainingConstraints", uri)
    )

    assert result["checks"] == ["drift-baselines-sealed"]
    shown = uri if uri.startswith("s3://") else repr(uri)  # not an S3 URI: quoted
    assert result["error"].endswith(
        f"drift-baselines-sealed: the drift-check baseline Bias.PreTrainingConstraints {shown} "
        f"{problem}"
    )
    assert [op for op, _ in sent].count("GetObject") == 2  # the model and monitoring baseline


def test_a_deleted_sealed_drift_check_baseline_fails(aws, reports, context):
    release = aws.register()
    [(key, _), *_] = drift_keys(aws, release).values()
    aws.s3.delete_object(Bucket=ARTIFACTS, Key=key)  # a delete marker is now current
    result = run(release, context, reports)
    assert result["checks"] == ["drift-baselines-sealed"]
    assert (
        f"could not read the drift-check baseline ModelDataQuality.Statistics "
        f"s3://{ARTIFACTS}/{key}: 404"
    ) in result["error"]


def test_every_failed_check_is_named_with_the_drift_check_baselines(aws, reports, context):
    release = aws.register(sealed=False)
    [(key, _), *_] = drift_keys(aws, release).values()
    aws.put(key, LOOSE_CONSTRAINTS.encode())
    aws.put(release.model_key, b"swapped")

    result = run(release, context, reports)

    assert result["checks"] == ["sealed", "drift-baselines-sealed", "model-unchanged"]


# -- same-group ----------------------------------------------------------------------------------


def test_a_version_of_another_group_fails(aws, reports, context, sent):
    release = aws.register(group=OTHER_GROUP)

    result = run(release, context, reports)

    assert result["checks"] == ["same-group"]
    assert result["error"] == (
        f"release check of {release.arn} for prod failed (same-group): same-group: "
        f"{release.arn} is not a version of {GROUP} in {ACCOUNT}/{REGION}: it is a version of "
        f"the group {OTHER_GROUP!r}"
    )
    assert sent == []  # not even read


@pytest.mark.parametrize(
    ("arn", "problem"),
    [
        pytest.param(
            f"arn:aws:sagemaker:{REGION}:210987654321:model-package/{GROUP}/1",
            f"it is in the account 210987654321, not this function's {ACCOUNT}",
            id="account",
        ),
        pytest.param(
            f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/{GROUP}/1",
            f"it is in the region eu-west-1, not this function's {REGION}",
            id="region",
        ),
        pytest.param(
            f"arn:aws-cn:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/1",
            "it is in the partition aws-cn, not this function's aws",
            id="partition",
        ),
        pytest.param(
            f"arn:aws:sagemaker:eu-west-1:210987654321:model-package/{OTHER_GROUP}/1",
            f"it is a version of the group {OTHER_GROUP!r}; it is in the account 210987654321, "
            f"not this function's {ACCOUNT}; it is in the region eu-west-1",
            id="all",
        ),
    ],
)
def test_a_version_of_another_account_or_region_fails(aws, reports, context, sent, arn, problem):
    release = aws.register()
    result = run(release, context, reports, model_package_arn=arn)
    assert result["checks"] == ["same-group"]
    assert problem in result["error"]
    assert sent == []


def test_the_group_is_compared_case_insensitively_in_the_arn(aws, reports, context):
    """SageMaker writes the group in lower case in ARNs; the described group must match."""
    release = aws.register()
    assert release.arn == release.arn.lower()
    reports.expect_success()
    assert handler.handler(job_event(params(release)), context)["status"] == "succeeded"


def test_a_described_group_other_than_the_arns_fails(aws, reports, context):
    """Stubbed: moto's registry never answers another group than the ARN's."""
    release = aws.register()
    with Stubber(handler._client("sagemaker")) as stub:
        stub.add_response(
            "describe_model_package",
            {
                "ModelPackageName": OTHER_GROUP,
                "ModelPackageGroupName": OTHER_GROUP,
                "ModelPackageArn": release.arn,
                "CreationTime": "2026-11-21T10:00:00Z",
                "ModelPackageStatus": "Completed",
                "ModelPackageStatusDetails": {"ValidationStatuses": []},
                "ModelApprovalStatus": "Approved",
            },
            {"ModelPackageName": release.arn},
        )
        result = run(release, context, reports)
        stub.assert_no_pending_responses()
    assert result["checks"] == ["same-group"]
    assert f"is in the group {OTHER_GROUP!r}, not {GROUP!r}" in result["error"]


def test_an_unknown_version_fails(aws, reports, context):
    release = aws.register()
    missing = release.arn.rsplit("/", 1)[0] + "/99"
    result = run(release, context, reports, model_package_arn=missing)
    assert result["checks"] == ["same-group"]
    assert f"could not read model package {missing}: ValidationException" in result["error"]


# -- approved ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["Rejected", "PendingManualApproval"])
def test_a_version_not_approved_fails(aws, reports, context, sent, status):
    release = aws.register()
    aws.set_status(release.arn, status)

    result = run(release, context, reports)

    assert result["checks"] == ["approved"]
    assert (
        f"approved: model package {release.arn} is {status}, not Approved: only an approved "
        "version is deployed"
    ) in result["error"]
    assert [op for op, _ in sent] == ["DescribeModelPackage"]  # no file read


# -- fingerprinted -------------------------------------------------------------------------------


def test_a_version_without_fingerprints_fails(aws, reports, context, sent):
    release = aws.register(fingerprints=False)

    result = run(release, context, reports)

    assert result["checks"] == ["fingerprinted"]
    assert result["error"].endswith(
        "fingerprinted: the version's customer metadata does not hold its fingerprints (was it "
        "registered without the Fingerprint step?): no ModelArtifactSha256 and no "
        "ModelArtifactVersion; no MonitoringBaselineSha256 and no MonitoringBaselineVersion"
    )
    assert [op for op, _ in sent] == ["DescribeModelPackage"]


def test_a_version_without_any_metadata_fails(aws, reports, context):
    release = aws.register(monitoring_baseline=False, drift=None)
    arn = aws.sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification=aws.sagemaker.describe_model_package(ModelPackageName=release.arn)[
            "InferenceSpecification"
        ],
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]
    result = run(release, context, reports, model_package_arn=arn)
    assert result["checks"] == ["fingerprinted"]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        pytest.param(
            {"ModelArtifactSha256": None},
            "no ModelArtifactSha256",
            id="no-model-sha",
        ),
        pytest.param(
            {"ModelArtifactSha256": "ABCDEF" * 10 + "ABCD"},
            "is not a SHA-256 (64 lower-case hexadecimal digits)",
            id="upper-case-sha",
        ),
        pytest.param(
            {"ModelArtifactSha256": "none"},
            "ModelArtifactSha256 'none' is not a SHA-256",
            id="model-sha-none",
        ),
        pytest.param(
            {"ModelArtifactVersion": "none"},
            "ModelArtifactVersion 'none' is not an S3 version id",
            id="model-version-none",
        ),
        pytest.param(
            {"MonitoringBaselineVersion": None},
            "no MonitoringBaselineVersion",
            id="no-baseline-version",
        ),
        pytest.param(
            {"MonitoringBaselineSha256": "none", "MonitoringBaselineVersion": "none"},
            "MonitoringBaselineSha256 and MonitoringBaselineVersion are none, but the version "
            "has the MonitoringBaseline",
            id="baseline-fingerprint-none",
        ),
        pytest.param(
            {"MonitoringBaseline": None},
            "MonitoringBaselineSha256 and MonitoringBaselineVersion must be none: the version "
            "has no MonitoringBaseline",
            id="fingerprint-without-baseline",
        ),
    ],
)
def test_incomplete_fingerprints_fail(aws, reports, context, changes, problem):
    release = aws.register()
    metadata = {**release.metadata, **changes}
    arn = _register_metadata(aws, release, {k: v for k, v in metadata.items() if v is not None})
    reports.expect_failure()

    result = handler.handler(job_event({**params(release), "model_package_arn": arn}), context)

    assert result["checks"] == ["fingerprinted"]
    assert problem in result["error"]


# -- baselines-match -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["MonitoringBaseline", "DataQualityStatistics"])
def test_a_baseline_variable_none_while_the_registry_has_one_fails(aws, reports, context, name):
    """The "production runs unmonitored" bypass: starting the deploy pipeline with a baseline
    variable overridden to none."""
    release = aws.register()

    result = run(release, context, reports, **{name: "none"})

    assert result["checks"] == ["baselines-match"]
    assert result["error"].endswith(
        f"baselines-match: the pipeline's baseline variables are not the version's: {name} is "
        f"none but the version has {release.baselines[name]}: the prod endpoint would run "
        "without that monitoring baseline"
    )


def test_another_baseline_passed_fails(aws, reports, context):
    release = aws.register()
    loose = f"s3://{ARTIFACTS}/{RUN}/loose/constraints.json"

    result = run(release, context, reports, DataQualityConstraints=loose, BiasConfig=loose)

    assert result["checks"] == ["baselines-match"]
    assert (
        f"DataQualityConstraints is {loose!r}, the version has "
        f"{release.baselines['DataQualityConstraints']!r}; BiasConfig is {loose!r}, the version "
        "has 'none'"
    ) in result["error"]


def test_a_baseline_passed_for_a_version_without_one_fails(aws, reports, context):
    release = aws.register(monitoring_baseline=False, drift=None)
    other = f"s3://{ARTIFACTS}/pipelines/old/MonitoringBaseline/statistics.json"
    result = run(release, context, reports, MonitoringBaseline=other)
    assert f"MonitoringBaseline is {other!r}, the version has 'none'" in result["error"]


def test_the_mapping_is_deploy_routers():
    """The registry side of baselines-match is what lambda/deploy_router passes, also for
    malformed or absent entries (loaded here from its file: the handlers ship separately)."""
    name = "release_check_tests_deploy_router"  # unique: not the deploy router's own tests'
    router = load_handler(name, DEPLOY_ROUTER)

    assert (*router.BASELINE_VARIABLES, "MonitoringBaseline") == handler.BASELINE_VARIABLES
    uri = f"s3://{ARTIFACTS}/b/statistics.json"
    cases: list[dict[str, Any]] = [
        {},
        {"ModelDataQuality": {"Statistics": {"S3Uri": uri}}},
        {"ModelDataQuality": {"Statistics": {"S3Uri": "https://x/statistics.json"}}},
        {"ModelDataQuality": {"Statistics": {"S3Uri": "s3://Bad_Bucket/x"}}},
        {"ModelDataQuality": {"Statistics": {"S3Uri": f"s3://{ARTIFACTS}/{'k' * 1000}"}}},
        {"ModelDataQuality": {"Statistics": {"S3Uri": 42}}},
        {"ModelDataQuality": "not an object"},
        {
            section: {source: {"S3Uri": f"{uri}-{section}-{source}"}}
            for _, (section, source) in handler._BASELINE_SOURCES
        },
        {
            "Bias": {
                "ConfigFile": {"S3Uri": f"{uri}/c"},
                "PostTrainingConstraints": {"S3Uri": f"{uri}/p"},
            },
            "Explainability": {
                "ConfigFile": {"S3Uri": f"{uri}/e"},
                "Constraints": {"S3Uri": f"{uri}/x"},
            },
        },
    ]
    for drift in cases:
        ours = handler.registry_baselines({"DriftCheckBaselines": drift})
        assert ours.pop("MonitoringBaseline") == "none"
        assert ours == router.baseline_variables(drift), drift


# -- malformed jobs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "error"),
    [
        pytest.param("{not json", "UserParameters is not valid JSON", id="not-json"),
        pytest.param("[1, 2]", "UserParameters must be a JSON object, got array", id="array"),
        pytest.param({"stage": None}, "UserParameters.stage is missing", id="no-stage"),
        pytest.param(
            {"stage": "production"},
            "UserParameters.stage 'production' is not one of staging, prod",
            id="bad-stage",
        ),
        pytest.param(
            {"model_package_arn": "#{variables.ModelPackageArn}"},
            "is not a versioned model package ARN (was the pipeline started without the "
            "ModelPackageArn variable?)",
            id="unresolved-arn",
        ),
        pytest.param(
            {"model_package_arn": None}, "UserParameters.model_package_arn is missing", id="no-arn"
        ),
        pytest.param(
            {"endpoint_name": "x"},
            "UserParameters has unknown keys 'endpoint_name' (it takes stage, model_package_arn, "
            "baselines)",
            id="unknown-key",
        ),
        pytest.param({"baselines": None}, "UserParameters.baselines is missing", id="no-baselines"),
        pytest.param(
            {"baselines": ["none"]},
            "UserParameters.baselines must be an object, got array",
            id="baselines-array",
        ),
        pytest.param(
            {"baselines": {}},
            "UserParameters.baselines misses DataQualityStatistics, DataQualityConstraints, "
            "ModelQualityConstraints, BiasConfig, BiasConstraints, ExplainabilityConfig, "
            "ExplainabilityConstraints (every",
            id="baselines-empty",
        ),
        pytest.param(
            "missing-one",
            "UserParameters.baselines misses BiasConfig (every baseline variable is "
            'compared: pass "#{variables.<name>}" for each)',
            id="baselines-missing-one",
        ),
        pytest.param(
            "unknown-name",
            "UserParameters.baselines has unknown names 'ModelQualityStatistics'",
            id="baselines-unknown",
        ),
        pytest.param(
            "not-a-string",
            "UserParameters.baselines.BiasConfig must be a string, got null",
            id="baseline-null",
        ),
        pytest.param(
            "empty",
            "UserParameters.baselines.MonitoringBaseline must not be empty",
            id="baseline-empty",
        ),
    ],
)
def test_a_malformed_job_is_reported_as_a_configuration_failure(
    aws, reports, context, sent, capsys, variant, error
):
    release = aws.register()
    good = params(release)
    variants = {
        "missing-one": {
            **good,
            "baselines": {k: v for k, v in good["baselines"].items() if k != "BiasConfig"},
        },
        "unknown-name": {
            **good,
            "baselines": {**good["baselines"], "ModelQualityStatistics": "none"},
        },
        "not-a-string": {**good, "baselines": {**good["baselines"], "BiasConfig": None}},
        "empty": {**good, "baselines": {**good["baselines"], "MonitoringBaseline": ""}},
    }
    if isinstance(variant, dict):
        parameters: Any = {k: v for k, v in {**good, **variant}.items() if v is not None}
    else:
        parameters = variants.get(variant, variant)
    reports.expect_failure("ConfigurationError")

    result = handler.handler(job_event(parameters), context)

    assert result["status"] == "failed"
    assert error in result["error"]
    failure = reports.sent_failure()
    assert failure["message"] == result["error"]
    assert failure["message"].startswith("release check not run, the job is misconfigured: ")
    assert sent == []  # nothing read
    [line] = log_lines(capsys)
    assert (line["level"], line["message"], line["job_id"]) == (
        "ERROR",
        "job misconfigured",
        JOB_ID,
    )


@pytest.mark.parametrize(
    ("event", "error"),
    MALFORMED_JOB_EVENTS,
)
def test_a_malformed_event_without_a_job_id_is_rejected(
    aws, reports, context, capsys, event, error
):
    release = aws.register()
    events = {
        "job_without_id": job_event("{not json", job_id=None),
        "job_with_bad_id": job_event(params(release), job_id="../../etc"),
    }

    result = handler.handler(events.get(event, event) if isinstance(event, str) else event, context)

    assert result == {"status": "rejected", "error": result["error"]}
    assert error in result["error"]
    assert reports.sent == []  # nothing to report to
    [line] = log_lines(capsys)
    assert (line["level"], line["status"]) == ("ERROR", "rejected")


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MODEL_PACKAGE_GROUP", None, "MODEL_PACKAGE_GROUP is not set"),
        ("MODEL_PACKAGE_GROUP", "models_of_churn", "is not a model package group name"),
        ("ARTIFACTS_BUCKET", None, "ARTIFACTS_BUCKET is not set"),
        ("ARTIFACTS_BUCKET", "Artifacts", "ARTIFACTS_BUCKET='Artifacts' is not an S3 bucket name"),
        ("SEALED_PREFIX", None, "SEALED_PREFIX is not set"),
        ("SEALED_PREFIX", "", "SEALED_PREFIX is not set"),
        ("SEALED_PREFIX", "sealed", "SEALED_PREFIX='sealed' is not a key prefix"),
        ("SEALED_PREFIX", "/sealed/", "SEALED_PREFIX='/sealed/' is not a key prefix"),
        ("SEALED_PREFIX", "sealed//", "SEALED_PREFIX='sealed//' is not a key prefix"),
        ("SEALED_PREFIX", "sealed/*", "SEALED_PREFIX='sealed/*' is not a key prefix"),
    ],
)
def test_bad_settings_are_reported_as_a_configuration_failure(
    aws, reports, context, sent, monkeypatch, name, value, message
):
    release = aws.register()
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)
    reports.expect_failure("ConfigurationError")

    result = handler.handler(job_event(params(release)), context)

    assert result["error"].startswith("release check not run, the function is misconfigured: ")
    assert message in result["error"]
    assert sent == []


def test_every_bad_setting_is_named_at_once(aws, reports, context, monkeypatch):
    release = aws.register()
    monkeypatch.delenv("MODEL_PACKAGE_GROUP")
    monkeypatch.setenv("ARTIFACTS_BUCKET", "s3://x")
    monkeypatch.delenv("SEALED_PREFIX")
    reports.expect_failure("ConfigurationError")
    result = handler.handler(job_event(params(release)), context)
    assert "MODEL_PACKAGE_GROUP is not set" in result["error"]
    assert "ARTIFACTS_BUCKET='s3://x'" in result["error"]
    assert "SEALED_PREFIX is not set" in result["error"]


@pytest.mark.parametrize(
    "context",
    [
        None,
        SimpleNamespace(aws_request_id="r"),
        SimpleNamespace(aws_request_id="r", invoked_function_arn="not-an-arn"),
    ],
)
def test_without_its_own_arn_the_function_cannot_check(aws, reports, sent, context):
    release = aws.register()
    reports.expect_failure("ConfigurationError")
    result = handler.handler(job_event(params(release)), context)
    assert "cannot tell its own account and region" in result["error"]
    assert sent == []


def test_bad_settings_without_a_job_id_are_rejected(reports, monkeypatch):
    monkeypatch.delenv("ARTIFACTS_BUCKET")
    result = handler.handler({"Records": []}, None)
    assert result["status"] == "rejected"
    assert "ARTIFACTS_BUCKET is not set" in result["error"]
    assert result["error"].endswith("(and no usable CodePipeline.job.id to report to)")
    assert reports.sent == []


def test_bad_configuration_is_logged_at_cold_start():
    env = {k: v for k, v in os.environ.items() if k != "MODEL_PACKAGE_GROUP"}
    env["AWS_LAMBDA_FUNCTION_NAME"] = f"{PROJECT}-release-check"
    lines = [json.loads(line) for line in cold_start(handler.__file__, env).splitlines()]
    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert "cold start" in lines[0]["message"]
    assert "MODEL_PACKAGE_GROUP is not set" in lines[0]["error"]


def test_module_imports_quietly_with_good_settings():
    env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME=f"{PROJECT}-release-check")
    assert cold_start(handler.__file__, env) == ""


# -- reporting errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "breaks"),
    [("put_job_success_result", False), ("put_job_failure_result", True)],
)
def test_a_failed_report_is_raised_for_a_retry(aws, reports, context, capsys, operation, breaks):
    release = aws.register()
    if breaks:
        aws.put(release.model_key, b"swapped")
    reports.expect_error(operation, "ThrottlingException")

    with pytest.raises(ClientError) as raised:
        handler.handler(job_event(params(release)), context)

    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["operation"] == ("PutJobFailureResult" if breaks else "PutJobSuccessResult")
    assert line["job_id"] == JOB_ID


def test_a_failed_configuration_report_is_raised(aws, reports, context):
    reports.expect_error("put_job_failure_result", "InvalidJobStateException")
    with pytest.raises(ClientError):
        handler.handler(job_event("{not json"), context)


def test_failure_message_is_capped_at_the_api_limit(aws, reports, context):
    release = aws.register()
    job = handler.parse_job(job_event(params(release)))
    failures = [handler.Failure("baselines-match", "x" * 400) for _ in range(20)]
    message = handler.failure_message(job, failures)
    assert len(message) == 5000
    assert message.endswith("...")


def test_monitoring_baseline_may_be_left_out(aws, reports, context):
    """The open monitoring reads MonitoringBaseline from the registry: a pipeline that does not
    carry it as a variable passes the others only."""
    release = aws.register()
    good = params(release)
    parameters = {
        **good,
        "baselines": {k: v for k, v in good["baselines"].items() if k != "MonitoringBaseline"},
    }
    reports.expect_success()
    result = handler.handler(job_event(parameters), context)
    assert result["status"] == "succeeded", result
    assert "the 7 baseline variables match the registry" in result["summary"]
