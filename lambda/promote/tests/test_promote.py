"""promote handler: moto for the model registry and the two accounts' artifacts buckets,
Stubber for the job reports.

See conftest.py for what moto does here and why PutJobSuccessResult / PutJobFailureResult are
stubbed (moto 5.2.5 has neither).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import platform_fingerprint as fp
import promote_handler as handler
import pytest
from botocore.exceptions import ClientError
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
DEV_ACCOUNT = "123456789012"
PROJECT = "mlops-dev-churn"
GROUP = f"{PROJECT}-models"
OTHER_GROUP = "other-team-models"
SOURCE = f"{PROJECT}-artifacts-{DEV_ACCOUNT}"
TARGET = "mlops-prod-churn-artifacts-210987654321"
UNVERSIONED = "mlops-prod-churn-scratch-210987654321"
JOB_ID = "11111111-abcd-1111-abcd-111111abcdef"
# The stage's data key (DATA_KEY_ARN), in the target account.
DATA_KEY = "arn:aws:kms:us-east-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# The stage's VPC placement (SUBNET_IDS, SECURITY_GROUP_ID): ids of 17 and of 8 hex digits.
SUBNET_IDS = "subnet-0123456789abcdef0,subnet-0fedcba9876543210,subnet-1a2b3c4d"
SECURITY_GROUP = "sg-0a1b2c3d4e5f67890"
VPC = {"SUBNET_IDS": SUBNET_IDS, "SECURITY_GROUP_ID": SECURITY_GROUP}
MODEL_KEY = "models/pipelines-k1ls9tc3wnw6-Train-Ab12Cd34Ef/output/model.tar.gz"
MODEL = bytes(range(256)) * 1000
SEALED = "sealed/"
# The baseline output variables: the deploy templates' baseline parameter of each promoted
# DriftCheckBaselines file (the deploy router's mapping).
BASELINE_OUTPUTS = {
    "DataQualityStatistics": "ModelDataQuality.Statistics",
    "DataQualityConstraints": "ModelDataQuality.Constraints",
    "ModelQualityConstraints": "ModelQuality.Constraints",
    "BiasConstraints": "Bias.PostTrainingConstraints",
    "ExplainabilityConstraints": "Explainability.Constraints",
}
# Every sealed DriftCheckBaselines file (conftest.py's DRIFT), in the order they are copied.
DRIFT_NAMES = (
    "ModelDataQuality.Statistics",
    "ModelDataQuality.Constraints",
    "ModelQuality.Statistics",
    "ModelQuality.Constraints",
    "Bias.PreTrainingConstraints",
    "Bias.PostTrainingConstraints",
    "Explainability.Constraints",
)


# -- helpers -------------------------------------------------------------------------------------


def job_event(parameters: Any, job_id: str | None = JOB_ID) -> dict[str, Any]:
    """A CodePipeline "Invoke Lambda" event (UserParameters as CodePipeline resolved them)."""
    return codepipeline_event(
        parameters, job_id, account="210987654321", function_name="mlops-prod-churn-promote"
    )


def params(release: Any) -> dict[str, Any]:
    return {"model_package_arn": release.arn}


def promote(release: Any, context: Any, reports: Any) -> dict[str, Any]:
    """Promotes ``release`` expecting a success; returns the result."""
    reports.expect_success(output_variables=True)
    result = handler.handler(job_event(params(release)), context)
    assert result["status"] == "succeeded", result
    return result


def refuse(release: Any, context: Any, reports: Any, parameters: Any = None) -> dict[str, Any]:
    """Promotes ``release`` expecting a JobFailed report; returns the result."""
    reports.expect_failure()
    result = handler.handler(job_event(parameters or params(release)), context)
    assert result["status"] == "failed"
    assert reports.sent_failure()["message"] == result["error"]
    return result


def target_uri(file: Any) -> str:
    return f"s3://{TARGET}/{file.key}"


def outputs_of(release: Any) -> dict[str, str]:
    files = release.files
    return {
        "model_data_url": target_uri(files["model"]),
        "monitoring_baseline": target_uri(files["baseline"]) if "baseline" in files else "none",
        "evaluation_report": target_uri(files["evaluation"]),
        "model_package_arn": release.arn,
        "model_sha256": files["model"].sha256,
        **{
            name: target_uri(release.drift[source]) if source in release.drift else "none"
            for name, source in BASELINE_OUTPUTS.items()
        },
    }


# -- a promotion ---------------------------------------------------------------------------------


def test_an_approved_version_is_promoted(aws, reports, context, sent, capsys):
    release = aws.register()
    # registered as the training pipeline does: the sealed copies in the source bucket
    model = release.files["model"]
    assert model.uri == f"s3://{SOURCE}/sealed/{sha256(MODEL)}/model.tar.gz"

    result = promote(release, context, reports)

    # the target copies are byte-identical, at the same keys, each one version
    for name, file in release.files.items():
        assert aws.read(file.key) == file.content, name
        assert len(aws.versions(file.key)) == 1, name
    assert aws.keys() == sorted(file.key for file in release.files.values())
    assert aws.uploads() == []
    # the output variables name the target copies, in the target bucket
    report = reports.sent_success()
    assert report["outputVariables"] == outputs_of(release)
    assert list(report["outputVariables"]) == list(handler.OUTPUT_VARIABLES)
    assert result["outputs"] == report["outputVariables"]
    assert report["outputVariables"]["model_data_url"] == (
        f"s3://{TARGET}/sealed/{sha256(MODEL)}/model.tar.gz"
    )
    summary = report["executionDetails"]["summary"]
    assert summary == result["summary"]
    assert summary.startswith(f"{release.arn} (Approved) promoted to {TARGET}, model artifact ")
    assert summary.count("(copied, SHA-256") == 3
    # the registry once; per file: the recorded source version's size, a write-once multipart
    # copy of exactly that version, then the target copy's own version read back and hashed
    assert sent[0] == ("DescribeModelPackage", {"ModelPackageName": release.arn})
    assert [op for op, _ in sent[1:]] == [
        "HeadObject",
        "CreateMultipartUpload",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "GetObject",
    ] * 3
    for index, name in enumerate(("model", "baseline", "evaluation")):
        file = release.files[name]
        head, create, copy, complete, get = (p for _, p in sent[1 + 5 * index : 6 + 5 * index])
        assert head == {"Bucket": SOURCE, "Key": file.key, "VersionId": file.version}
        assert create == {"Bucket": TARGET, "Key": file.key}  # the target's default key applies
        assert copy["CopySource"] == {"Bucket": SOURCE, "Key": file.key, "VersionId": file.version}
        assert "CopySourceRange" not in copy  # one part: the whole object
        assert (complete["Bucket"], complete["Key"], complete["IfNoneMatch"]) == (
            TARGET,
            file.key,
            "*",
        )
        assert get == {"Bucket": TARGET, "Key": file.key, "VersionId": aws.versions(file.key)[0]}
    [line] = log_lines(capsys)
    assert (line["level"], line["message"], line["status"]) == ("INFO", "promoted", "succeeded")
    assert (line["job_id"], line["model_package_arn"], line["target_bucket"]) == (
        JOB_ID,
        release.arn,
        TARGET,
    )
    assert (line["model_uri"], line["model_sha256"], line["model_copied"]) == (
        target_uri(model),
        sha256(MODEL),
        True,
    )
    assert line["model_version"] == aws.versions(model.key)[0]


def test_a_replayed_job_reports_the_same_and_writes_nothing_new(aws, reports, context, sent):
    release = aws.register()
    first = promote(release, context, reports)
    versions = {name: aws.versions(f.key) for name, f in release.files.items()}
    reports.sent.clear()
    sent.clear()

    again = promote(release, context, reports)

    assert again["outputs"] == first["outputs"] == outputs_of(release)
    assert reports.sent_success()["outputVariables"] == first["outputs"]
    assert {name: aws.versions(f.key) for name, f in release.files.items()} == versions
    assert aws.uploads() == []  # each refused upload was aborted
    assert again["summary"].count("(already there, SHA-256") == 3
    # the copy is refused by the target (If-None-Match), the existing object hashed instead
    assert [op for op, _ in sent[1:]] == [
        "HeadObject",
        "CreateMultipartUpload",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "HeadObject",
        "GetObject",
    ] * 3


def test_another_version_with_the_same_files_shares_the_copies(aws, reports, context):
    first = aws.register()
    promote(first, context, reports)
    reports.sent.clear()
    second = aws.register()
    assert second.arn != first.arn

    result = promote(second, context, reports)

    assert result["outputs"] == outputs_of(second)
    assert result["outputs"]["model_data_url"] == outputs_of(first)["model_data_url"]
    assert all(len(aws.versions(f.key)) == 1 for f in second.files.values())


def test_a_version_without_a_monitoring_baseline_is_promoted(aws, reports, context, sent):
    release = aws.register(monitoring_baseline=False)
    assert release.metadata["MonitoringBaselineSha256"] == "none"

    result = promote(release, context, reports)

    assert result["outputs"]["monitoring_baseline"] == "none"
    assert result["outputs"] == outputs_of(release)
    assert "no monitoring baseline" in result["summary"]
    assert aws.keys() == sorted(f.key for f in release.files.values())
    assert [p["Key"] for op, p in sent if op == "CompleteMultipartUpload"] == [
        release.files["model"].key,
        release.files["evaluation"].key,
    ]


def test_the_recorded_source_version_is_copied_even_if_the_source_changed(aws, reports, context):
    """A new version at the sealed source key after registration (possible only with a loosened
    development bucket policy): the recorded VersionId is copied, so the copy still matches."""
    release = aws.register()
    model = release.files["model"]
    newer = aws.put(model.key, b"swapped model")
    assert newer != model.version

    result = promote(release, context, reports)

    assert aws.read(model.key) == MODEL
    assert result["outputs"]["model_sha256"] == sha256(MODEL)


def test_large_files_are_copied_in_parts(aws, reports, context, sent, monkeypatch):
    part = fp.MIN_PART_SIZE
    large = bytes(range(256)) * (2 * part // 256) + b"end"  # two 5 MiB parts and 3 bytes
    monkeypatch.setattr(handler, "PART_SIZE", part)
    release = aws.register(model=large)

    promote(release, context, reports)

    key = release.files["model"].key
    assert aws.read(key) == large
    assert [p.get("CopySourceRange") for op, p in sent if op == "UploadPartCopy"][:3] == [
        f"bytes=0-{part - 1}",
        f"bytes={part}-{2 * part - 1}",
        f"bytes={2 * part}-{len(large) - 1}",
    ]


def test_the_result_does_not_depend_on_the_chunk_size(aws, reports, context, monkeypatch):
    release = aws.register()
    monkeypatch.setattr(handler, "CHUNK_SIZE", 1000)
    assert promote(release, context, reports)["outputs"] == outputs_of(release)


def test_the_group_is_compared_case_insensitively_in_the_arn(aws, reports, context, monkeypatch):
    """SageMaker writes the group name in lower case in version ARNs."""
    mixed = "MLOps-Dev-Churn-Models"
    aws.sagemaker.create_model_package_group(ModelPackageGroupName=mixed)
    monkeypatch.setenv(
        "SOURCE_MODEL_PACKAGE_GROUP_ARN",
        f"arn:aws:sagemaker:{REGION}:{DEV_ACCOUNT}:model-package-group/{mixed}",
    )
    release = aws.register(group=mixed)
    assert f"model-package/{mixed.lower()}/" in release.arn
    promote(release, context, reports)


# -- Model Monitor baselines (DriftCheckBaselines, the closed-service option) ----------------------


def test_a_version_with_model_monitor_baselines_is_promoted(aws, reports, context, sent, capsys):
    release = aws.register(drift=DRIFT_NAMES)
    assert list(release.drift) == list(DRIFT_NAMES)
    statistics = release.drift["ModelDataQuality.Statistics"]
    assert statistics.uri.startswith(f"s3://{SOURCE}/sealed/{statistics.sha256}/")

    result = promote(release, context, reports)

    # every sealed file is copied byte-identical to the same key, one version each; the
    # Clarify configs (the project's code, not sealed) are not copied
    for name, file in release.drift.items():
        assert aws.read(file.key) == file.content, name
        assert len(aws.versions(file.key)) == 1, name
    copied = [*release.files.values(), *release.drift.values()]
    assert aws.keys() == sorted(file.key for file in copied)
    keys = aws.keys()
    assert not any("ml/code" in key for key in keys)
    assert aws.uploads() == []
    # one output variable per baseline parameter of the deploy templates, the target copies
    report = reports.sent_success()
    assert report["outputVariables"] == result["outputs"] == outputs_of(release)
    assert result["outputs"]["DataQualityStatistics"] == (
        f"s3://{TARGET}/sealed/{statistics.sha256}/statistics.json"
    )
    for name, source in BASELINE_OUTPUTS.items():
        assert result["outputs"][name] == f"s3://{TARGET}/{release.drift[source].key}"
    assert "BiasConfig" not in result["outputs"]
    assert "ExplainabilityConfig" not in result["outputs"]
    # the drift files after the three others: HeadObject of the current version (there is no
    # recorded one), a write-once copy of exactly that version, the copy's version hashed
    ops = [op for op, _ in sent]
    assert ops[16:] == [
        "HeadObject",
        "CreateMultipartUpload",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "GetObject",
    ] * len(DRIFT_NAMES)
    for index, name in enumerate(DRIFT_NAMES):
        file = release.drift[name]
        head, create, copy, complete, get = (p for _, p in sent[16 + 5 * index : 21 + 5 * index])
        assert head == {"Bucket": SOURCE, "Key": file.key}
        assert create == {"Bucket": TARGET, "Key": file.key}
        assert copy["CopySource"] == {"Bucket": SOURCE, "Key": file.key, "VersionId": file.version}
        assert (complete["Key"], complete["IfNoneMatch"]) == (file.key, "*")
        assert get == {"Bucket": TARGET, "Key": file.key, "VersionId": aws.versions(file.key)[0]}
    summary = result["summary"]
    assert summary.count("(copied, SHA-256") == 3
    assert f"7 drift-check baseline files under s3://{TARGET}/sealed/" in summary
    assert "ModelDataQuality.Statistics (copied)" in summary
    [line] = log_lines(capsys)
    assert line["status"] == "succeeded"
    assert list(line["drift_baselines"]) == list(DRIFT_NAMES)
    assert line["drift_baselines"]["ModelDataQuality.Statistics"] == {
        "uri": f"s3://{TARGET}/{statistics.key}",
        "version": aws.versions(statistics.key)[0],
        "sha256": statistics.sha256,
        "copied": True,
    }


def test_a_replay_with_model_monitor_baselines_writes_no_new_versions(
    aws, reports, context, sent, capsys
):
    release = aws.register(drift=DRIFT_NAMES)
    first = promote(release, context, reports)
    keys = aws.keys()
    versions = {key: aws.versions(key) for key in keys}
    reports.sent.clear()
    sent.clear()
    capsys.readouterr()

    again = promote(release, context, reports)

    assert again["outputs"] == first["outputs"] == outputs_of(release)
    assert aws.keys() == keys
    assert {key: aws.versions(key) for key in keys} == versions
    assert aws.uploads() == []
    assert "ModelDataQuality.Statistics (already there)" in again["summary"]
    assert "(copied)" not in again["summary"]
    [line] = log_lines(capsys)
    assert all(not d["copied"] for d in line["drift_baselines"].values())
    # each copy refused by the target (If-None-Match), the existing object hashed instead
    assert [op for op, _ in sent[22:]] == [
        "HeadObject",
        "CreateMultipartUpload",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "HeadObject",
        "GetObject",
    ] * len(DRIFT_NAMES)


def test_baselines_the_version_does_not_have_are_none(aws, reports, context, capsys):
    release = aws.register(drift=["ModelDataQuality.Constraints", "Bias.PreTrainingConstraints"])

    result = promote(release, context, reports)

    outputs = result["outputs"]
    assert outputs["DataQualityConstraints"] == target_uri(
        release.drift["ModelDataQuality.Constraints"]
    )
    for name in BASELINE_OUTPUTS:
        if name != "DataQualityConstraints":
            assert outputs[name] == "none", name
    # the pre-training bias report has no template parameter: copied all the same
    pre = release.drift["Bias.PreTrainingConstraints"]
    assert aws.read(pre.key) == pre.content
    assert "2 drift-check baseline files" in result["summary"]
    assert list(log_lines(capsys)[0]["drift_baselines"]) == [
        "ModelDataQuality.Constraints",
        "Bias.PreTrainingConstraints",
    ]


def test_a_version_without_model_monitor_baselines_outputs_none(aws, reports, context, capsys):
    release = aws.register()
    result = promote(release, context, reports)
    assert {name: result["outputs"][name] for name in BASELINE_OUTPUTS} == dict.fromkeys(
        BASELINE_OUTPUTS, "none"
    )
    assert result["summary"].endswith(", no drift-check baseline files")
    assert "drift_baselines" not in log_lines(capsys)[0]


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        (
            f"s3://{SOURCE}/pipelines/k1ls9tc3wnw6/baselines/data-quality/statistics.json",
            f"is not sealed (an object of {SOURCE!r} under 'sealed/'): a version registered with "
            "unsealed files is not promoted, register it again through the Fingerprint step",
        ),
        (
            f"s3://{TARGET}/sealed/{'a' * 64}/statistics.json",
            f"is not sealed (an object of {SOURCE!r} under 'sealed/')",
        ),
        (
            f"s3://{SOURCE}/sealed/{'A' * 64}/statistics.json",
            "is not a sealed object key (sealed/<sha256>/<file name>)",
        ),
        (
            f"s3://{SOURCE}/sealed/{'a' * 64}/nested/statistics.json",
            "is not a sealed object key (sealed/<sha256>/<file name>)",
        ),
        # not an s3:// URI (SageMaker admits https://): shown quoted
        ("https://example.com/statistics.json", "is not sealed"),
    ],
    ids=["pipeline-key", "other-bucket", "upper-case-sha", "nested", "not-s3"],
)
def test_a_drift_check_baseline_not_sealed_is_refused_before_anything_is_copied(
    aws, reports, context, sent, uri, problem
):
    release = aws.register(drift=DRIFT_NAMES, drift_uris={"ModelDataQuality.Statistics": uri})

    result = refuse(release, context, reports)

    assert result["checks"] == ["sealed"]
    shown = uri if uri.startswith("s3://") else repr(uri)
    assert (
        f"the drift-check baseline ModelDataQuality.Statistics {shown} {problem}"
        in (result["error"])
    )
    assert "ModelDataQuality.Constraints" not in result["error"]  # the sealed ones pass
    assert [op for op, _ in sent] == ["DescribeModelPackage"]  # nothing read or copied
    assert aws.keys() == []


def test_every_drift_check_baseline_not_sealed_is_named(aws, reports, context):
    unsealed = {name: f"s3://{SOURCE}/pipelines/k1ls9tc3wnw6/{name}.json" for name in DRIFT_NAMES}
    release = aws.register(drift=DRIFT_NAMES, drift_uris=unsealed)
    result = refuse(release, context, reports)
    assert result["checks"] == ["sealed"]
    for name, uri in unsealed.items():
        assert f"the drift-check baseline {name} {uri} is not sealed" in result["error"]
    assert aws.keys() == []


def test_a_drift_check_baseline_not_holding_what_its_key_names_is_refused(
    aws, reports, context, sent
):
    """A DriftCheckBaselines file at sealed/<X>/constraints.json whose content is not X (only
    possible with a loosened development bucket policy): copied, then the copy is hashed in the
    target account and refused."""
    name = "ModelDataQuality.Constraints"
    release = aws.register(drift=DRIFT_NAMES)
    sealed = release.drift[name]
    source_version = aws.put(sealed.key, b"loosened constraints")  # a later version

    result = refuse(release, context, reports)

    assert result["checks"] == ["verified"]
    [version] = aws.versions(sealed.key)
    assert result["error"].endswith(
        f"verified: the copy s3://{TARGET}/{sealed.key} (version {version!r}) of the "
        f"drift-check baseline {name} {sealed.uri} version {source_version!r} has the SHA-256 "
        f"{sha256(b'loosened constraints')}, not the {sealed.sha256} its sealed key names: the "
        "sealed source object does not hold what its key says, it is not the file the "
        "Fingerprint step sealed (the copy stays, write-once; nothing is deployed from it)"
    )
    copies = [op for op, p in sent if op == "UploadPartCopy" and p["Key"] == sealed.key]
    assert copies  # hashed on the copy, in the target bucket
    assert aws.read(sealed.key) == b"loosened constraints"  # the copy stays (write-once)
    # the others were promoted all the same
    other = release.drift["ModelDataQuality.Statistics"]
    assert aws.read(other.key) == other.content


def test_a_target_drift_key_holding_other_content_is_refused(aws, reports, context):
    release = aws.register(drift=DRIFT_NAMES)
    sealed = release.drift["Explainability.Constraints"]
    squatter = aws.put(sealed.key, b"not the report", bucket=TARGET)

    result = refuse(release, context, reports)

    assert result["checks"] == ["copied"]
    assert (
        f"copied: s3://{TARGET}/{sealed.key} already exists with the SHA-256 "
        f"{sha256(b'not the report')} (version {squatter!r}), not the {sealed.sha256} its "
        "sealed key names of the drift-check baseline Explainability.Constraints: a sealed "
        "object is never replaced"
    ) in result["error"]
    assert aws.versions(sealed.key) == [squatter]


def test_a_drift_check_baseline_too_long_for_a_variable_is_copied_and_output_as_none(
    aws, reports, context, capsys
):
    """A target URI over CodePipeline's 1000 characters for a variable value: the deploy
    router's mapping passes it as none (logged), as it does in the development account."""
    name = "ModelDataQuality.Statistics"
    content = b'{"long": true}'
    key = f"{SEALED}{sha256(content)}/{'s' * 900}.json"
    aws.put(key, content)
    uri = f"s3://{SOURCE}/{key}"
    assert len(f"s3://{TARGET}/{key}") > 1000
    release = aws.register(drift=[name], drift_uris={name: uri})

    result = promote(release, context, reports)

    assert result["outputs"]["DataQualityStatistics"] == "none"
    assert aws.read(key) == content  # copied and verified all the same
    warning, done = log_lines(capsys)
    assert (warning["level"], warning["variable"]) == ("WARNING", "DataQualityStatistics")
    assert "is longer than 1000 characters" in warning["error"]
    assert done["drift_baselines"][name]["uri"] == f"s3://{TARGET}/{key}"


def test_the_baseline_outputs_are_the_templates_parameters():
    """Named as the deploy templates' baseline parameters (constructs/.../monitor/settings.py,
    loaded from its file), one per sealed DriftCheckBaselines source the deploy router maps:
    every parameter but the Clarify configs; within CodePipeline's limits for output variables."""
    settings_file = (
        Path(handler.__file__).resolve().parents[2]
        / "constructs/mlops_constructs/monitor/settings.py"
    )
    settings = load_handler("promote_tests_monitor_settings", settings_file)

    assert tuple(BASELINE_OUTPUTS) == handler.BASELINE_OUTPUTS
    assert set(BASELINE_OUTPUTS) == set(settings.BASELINE_PARAMETERS) - {
        "BiasConfig",
        "ExplainabilityConfig",
    }
    sources = {name: ".".join(path) for name, path in handler.BASELINE_SOURCES}
    assert {name: sources[name] for name in BASELINE_OUTPUTS} == BASELINE_OUTPUTS
    assert set(DRIFT_NAMES) == set(handler.DRIFT_KINDS)
    assert len(handler.OUTPUT_VARIABLES) == len(set(handler.OUTPUT_VARIABLES)) == 10
    # with DATA_KEY_ARN: one more, with the VPC placement two more, none one of the others
    every = (*handler.OUTPUT_VARIABLES, handler.DATA_KEY_OUTPUT, *handler.VPC_OUTPUTS)
    assert handler.DATA_KEY_OUTPUT == "data_key_arn"
    assert handler.VPC_OUTPUTS == ("subnet_ids", "security_group_id")
    assert len(set(every)) == 13
    assert all(re.fullmatch(r"[A-Za-z0-9@\-_]+", name) for name in every)


def test_the_longest_data_key_arn_accepted_fits_a_variable():
    """A pipeline variable's value holds at most 1000 characters: the longest key ARN the
    setting accepts (a 32-character region, a 128-character key id) is far shorter."""
    longest = f"arn:aws-iso-b:kms:{'r' * 32}:210987654321:key/{'k' * 128}"
    assert handler.load_config({**os.environ, "DATA_KEY_ARN": longest}).data_key_arn == longest
    assert len(longest) < 1000
    too_long = longest.replace("k" * 128, "k" * 129)
    with pytest.raises(handler.ConfigError, match="DATA_KEY_ARN="):
        handler.load_config({**os.environ, "DATA_KEY_ARN": too_long})


# -- regions: the development registry and bucket in another region than the function ----------

# conftest.py's dev_region fixture puts them there
DEV_REGION = "eu-west-1"
# Per file, in the function's region: the write-once multipart copy into the target bucket
# (CopySource: the source bucket), then the copy's own version read back and hashed.
COPY_IN_TARGET = ["CreateMultipartUpload", "UploadPartCopy", "CompleteMultipartUpload", "GetObject"]


def assert_each_bucket_in_its_region(sent: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Every S3 request on the source bucket went to DEV_REGION, every one on the target bucket
    to the function's region (a CopySource names the source from the target's region)."""
    buckets = {(region, params["Bucket"]) for region, _, params in sent if "Bucket" in params}
    assert buckets == {(DEV_REGION, SOURCE), (REGION, TARGET)}


def test_a_version_registered_in_another_region_is_promoted(
    aws, dev_region, reports, context, sent_by_region, capsys
):
    """The development registry and artifacts bucket in eu-west-1, the function and the target
    bucket in us-east-1: the version is described in its ARN's region, each source version's
    HeadObject goes to the source group's region, the copy and its verification to the
    function's own, and the copies are byte-identical in the target bucket."""
    release = dev_region.register(drift=DRIFT_NAMES)
    assert release.arn.startswith(f"arn:aws:sagemaker:{DEV_REGION}:{DEV_ACCOUNT}:model-package/")
    with pytest.raises(ClientError):  # the function's region's registry does not have it
        aws.sagemaker.describe_model_package(ModelPackageName=release.arn)

    result = promote(release, context, reports)

    copied = [*release.files.values(), *release.drift.values()]
    for file in copied:  # read with the function's region's client
        assert aws.read(file.key) == file.content, file.key
        assert len(aws.versions(file.key)) == 1, file.key
    assert aws.keys() == sorted(file.key for file in copied)
    assert aws.uploads() == []
    assert result["outputs"] == reports.sent_success()["outputVariables"] == outputs_of(release)
    assert result["summary"].startswith(f"{release.arn} (Approved) promoted to {TARGET}")
    assert sent_by_region[0] == (
        DEV_REGION,
        "DescribeModelPackage",
        {"ModelPackageName": release.arn},
    )
    per_file = [(DEV_REGION, "HeadObject"), *((REGION, op) for op in COPY_IN_TARGET)]
    assert [(region, op) for region, op, _ in sent_by_region[1:]] == per_file * len(copied)
    for index, file in enumerate(copied):
        head, create, copy, complete, get = (
            params for _, _, params in sent_by_region[1 + 5 * index : 6 + 5 * index]
        )
        # the three registered files by their recorded version, the drift files' current one
        recorded = {"VersionId": file.version} if file in release.files.values() else {}
        assert head == {"Bucket": SOURCE, "Key": file.key, **recorded}
        assert create == {"Bucket": TARGET, "Key": file.key}
        assert (copy["Bucket"], copy["Key"]) == (TARGET, file.key)
        assert copy["CopySource"] == {"Bucket": SOURCE, "Key": file.key, "VersionId": file.version}
        assert (complete["Bucket"], complete["IfNoneMatch"]) == (TARGET, "*")
        assert get == {"Bucket": TARGET, "Key": file.key, "VersionId": aws.versions(file.key)[0]}
    assert_each_bucket_in_its_region(sent_by_region)
    [line] = log_lines(capsys)
    assert (line["status"], line["source_model_package_group"]) == (
        "succeeded",
        f"arn:aws:sagemaker:{DEV_REGION}:{DEV_ACCOUNT}:model-package-group/{GROUP}",
    )


def test_a_replay_across_regions_reads_the_existing_copy_in_the_functions_region(
    aws, dev_region, reports, context, sent_by_region
):
    release = dev_region.register()
    first = promote(release, context, reports)
    versions = {name: aws.versions(f.key) for name, f in release.files.items()}
    reports.sent.clear()
    sent_by_region.clear()

    again = promote(release, context, reports)

    assert again["outputs"] == first["outputs"] == outputs_of(release)
    assert {name: aws.versions(f.key) for name, f in release.files.items()} == versions
    assert aws.uploads() == []
    # refused by the target (If-None-Match), aborted, and the existing copy found and hashed
    # there: only the source version's HeadObject leaves the function's region
    assert [(region, op) for region, op, _ in sent_by_region] == [
        (DEV_REGION, "DescribeModelPackage"),
        *[
            (DEV_REGION, "HeadObject"),
            (REGION, "CreateMultipartUpload"),
            (REGION, "UploadPartCopy"),
            (REGION, "CompleteMultipartUpload"),
            (REGION, "AbortMultipartUpload"),
            (REGION, "HeadObject"),
            (REGION, "GetObject"),
        ]
        * 3,
    ]
    assert_each_bucket_in_its_region(sent_by_region)


def test_a_missing_source_version_in_another_region_is_reported(
    aws, dev_region, reports, context, sent_by_region
):
    release = dev_region.register()
    model = release.files["model"]
    dev_region.s3.delete_object(Bucket=SOURCE, Key=model.key, VersionId=model.version)

    result = refuse(release, context, reports)

    assert result["checks"] == ["copied"]
    assert (
        f"could not copy the model artifact {model.uri} version {model.version!r} to "
        f"s3://{TARGET}/{model.key}: "
    ) in result["error"]
    assert sent_by_region[1] == (
        DEV_REGION,
        "HeadObject",
        {"Bucket": SOURCE, "Key": model.key, "VersionId": model.version},
    )
    assert aws.versions(model.key) == []
    assert aws.uploads() == []


def test_in_one_region_every_request_goes_to_the_functions_region(
    aws, reports, context, sent_by_region
):
    """The source group in the function's own region: nothing leaves it (as before regions
    were taken into account)."""
    release = aws.register(drift=["ModelDataQuality.Statistics"])
    promote(release, context, reports)
    assert {region for region, _, _ in sent_by_region} == {REGION}
    assert len(sent_by_region) == 1 + 5 * 4


# -- the stage's data key (DATA_KEY_ARN) ---------------------------------------------------------


def test_the_data_key_arn_is_output_last_when_set(aws, reports, context, monkeypatch, capsys):
    """The release pipeline passes it to the endpoint template's DataKeyArn parameter: the
    tooling account cannot know the key's random id."""
    monkeypatch.setenv("DATA_KEY_ARN", DATA_KEY)
    release = aws.register(drift=DRIFT_NAMES)

    result = promote(release, context, reports)

    report = reports.sent_success()  # the Stubber validated the name against the API model
    assert report["outputVariables"] == {**outputs_of(release), "data_key_arn": DATA_KEY}
    assert list(report["outputVariables"]) == [*handler.OUTPUT_VARIABLES, "data_key_arn"]
    assert result["outputs"] == report["outputVariables"]
    [line] = log_lines(capsys)
    assert (line["status"], line["data_key_arn"]) == ("succeeded", DATA_KEY)


def test_a_replayed_job_outputs_the_same_data_key_arn(aws, reports, context, monkeypatch):
    monkeypatch.setenv("DATA_KEY_ARN", DATA_KEY)
    release = aws.register()
    first = promote(release, context, reports)
    reports.sent.clear()
    assert promote(release, context, reports)["outputs"] == first["outputs"]
    assert first["outputs"]["data_key_arn"] == DATA_KEY


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_without_a_data_key_arn_there_is_no_such_output(
    aws, reports, context, monkeypatch, capsys, value
):
    if value is not None:
        monkeypatch.setenv("DATA_KEY_ARN", value)  # empty counts as unset
    release = aws.register()

    result = promote(release, context, reports)

    assert "data_key_arn" not in result["outputs"]
    assert list(reports.sent_success()["outputVariables"]) == list(handler.OUTPUT_VARIABLES)
    [line] = log_lines(capsys)
    assert "data_key_arn" not in line


def test_a_data_key_arn_is_not_output_on_a_failure(aws, reports, context, monkeypatch):
    monkeypatch.setenv("DATA_KEY_ARN", DATA_KEY)
    release = aws.register(status="Rejected")
    result = refuse(release, context, reports)
    assert result["checks"] == ["approved"]
    assert "outputs" not in result


# -- the stage's VPC placement (SUBNET_IDS, SECURITY_GROUP_ID) -----------------------------------


def six_subnets(digits: int = 17) -> str:
    return ",".join(f"subnet-{str(n) * digits}" for n in range(1, 7))


def test_the_vpc_placement_is_output_last_when_set(aws, reports, context, monkeypatch, capsys):
    """The release pipeline passes them to the endpoint template's SubnetIds and SecurityGroupId
    parameters (VPC mode): the tooling account cannot know the generated ids. After
    data_key_arn."""
    monkeypatch.setenv("DATA_KEY_ARN", DATA_KEY)
    for name, value in VPC.items():
        monkeypatch.setenv(name, value)
    release = aws.register(drift=DRIFT_NAMES)

    result = promote(release, context, reports)

    report = reports.sent_success()  # the Stubber validated the names against the API model
    assert report["outputVariables"] == {
        **outputs_of(release),
        "data_key_arn": DATA_KEY,
        "subnet_ids": SUBNET_IDS,
        "security_group_id": SECURITY_GROUP,
    }
    assert list(report["outputVariables"]) == [
        *handler.OUTPUT_VARIABLES,
        "data_key_arn",
        "subnet_ids",
        "security_group_id",
    ]
    assert result["outputs"] == report["outputVariables"]
    [line] = log_lines(capsys)
    assert line["status"] == "succeeded"
    assert (line["data_key_arn"], line["subnet_ids"], line["security_group_id"]) == (
        DATA_KEY,
        SUBNET_IDS,
        SECURITY_GROUP,
    )


def test_the_vpc_placement_without_a_data_key_arn_is_output_last(
    aws, reports, context, monkeypatch, capsys
):
    for name, value in VPC.items():
        monkeypatch.setenv(name, value)
    release = aws.register()

    result = promote(release, context, reports)

    assert list(reports.sent_success()["outputVariables"]) == [
        *handler.OUTPUT_VARIABLES,
        "subnet_ids",
        "security_group_id",
    ]
    assert result["outputs"] == {
        **outputs_of(release),
        "subnet_ids": SUBNET_IDS,
        "security_group_id": SECURITY_GROUP,
    }
    [line] = log_lines(capsys)
    assert (line["subnet_ids"], line["security_group_id"]) == (SUBNET_IDS, SECURITY_GROUP)
    assert "data_key_arn" not in line


def test_a_replayed_job_outputs_the_same_vpc_placement(aws, reports, context, monkeypatch):
    for name, value in VPC.items():
        monkeypatch.setenv(name, value)
    release = aws.register()
    first = promote(release, context, reports)
    reports.sent.clear()
    assert promote(release, context, reports)["outputs"] == first["outputs"]
    assert first["outputs"]["subnet_ids"] == SUBNET_IDS


@pytest.mark.parametrize(
    "values",
    [(None, None), ("", ""), (None, ""), ("", None)],
    ids=["unset", "empty", "unset-and-empty", "empty-and-unset"],
)
def test_without_a_vpc_placement_there_are_no_such_outputs(
    aws, reports, context, monkeypatch, capsys, values
):
    for name, value in zip(VPC, values, strict=True):
        if value is not None:
            monkeypatch.setenv(name, value)  # empty counts as unset
    release = aws.register()

    result = promote(release, context, reports)

    assert not {"subnet_ids", "security_group_id"} & set(result["outputs"])
    assert list(reports.sent_success()["outputVariables"]) == list(handler.OUTPUT_VARIABLES)
    [line] = log_lines(capsys)
    assert not {"subnet_ids", "security_group_id"} & set(line)


def test_a_vpc_placement_is_not_output_on_a_failure(aws, reports, context, monkeypatch, capsys):
    for name, value in VPC.items():
        monkeypatch.setenv(name, value)
    release = aws.register(status="Rejected")
    result = refuse(release, context, reports)
    assert result["checks"] == ["approved"]
    assert "outputs" not in result
    line = log_lines(capsys)[-1]
    assert (line["status"], line["subnet_ids"]) == ("failed", SUBNET_IDS)  # logged all the same


@pytest.mark.parametrize(
    ("subnets", "group"),
    [
        ("subnet-1a2b3c4d", "sg-1a2b3c4d"),  # 8 hex digits
        ("subnet-0123456789abcdef0", SECURITY_GROUP),  # 17
        (six_subnets(), SECURITY_GROUP),  # the most
        (six_subnets(8), "sg-00000000"),
        (SUBNET_IDS, SECURITY_GROUP),
    ],
)
def test_a_well_formed_vpc_placement_is_taken_as_set(subnets, group):
    config = handler.load_config({**os.environ, "SUBNET_IDS": subnets, "SECURITY_GROUP_ID": group})
    assert config.vpc == handler.VpcPlacement(subnets, group)


def test_the_longest_vpc_placement_accepted_fits_a_variable():
    """A pipeline variable's value holds at most 1000 characters: six subnet ids of 17 hex
    digits and their commas take 149; every output together stays far below CodePipeline's cap
    on an action's output variables."""
    longest = six_subnets()
    assert len(longest) == 149
    config = handler.load_config(
        {**os.environ, "SUBNET_IDS": longest, "SECURITY_GROUP_ID": SECURITY_GROUP}
    )
    assert config.vpc == handler.VpcPlacement(longest, SECURITY_GROUP)
    assert len(SECURITY_GROUP) == 20
    # thirteen values of at most 1000 characters, with their names
    assert 13 * (1000 + 32) < 122_880
    with pytest.raises(handler.ConfigError, match="it lists 7, over 6"):
        handler.load_config(
            {
                **os.environ,
                "SUBNET_IDS": f"{longest},subnet-77777777",
                "SECURITY_GROUP_ID": SECURITY_GROUP,
            }
        )


def subnets_malformed(value: str, *reasons: str) -> tuple[str, ...]:
    return (
        f"SUBNET_IDS={value!r} is not this serving environment's subnets as 1 to 6 distinct "
        "subnet ids separated by commas, without spaces (each subnet- and 8 or 17 lower-case hex "
        f"digits): {', '.join(reasons)}",
    )


def group_malformed(value: str) -> tuple[str, ...]:
    return (
        f"SECURITY_GROUP_ID={value!r} is not a security group id (sg- and 8 or 17 lower-case hex "
        "digits, without spaces: this serving environment's endpoint security group)",
    )


SUBNETS_ONLY = "SUBNET_IDS is set but SECURITY_GROUP_ID is not: this serving environment's VPC "
GROUP_ONLY = "SECURITY_GROUP_ID is set but SUBNET_IDS is not: this serving environment's VPC "
A, B = "subnet-0123456789abcdef0", "subnet-0fedcba9876543210"
# Bad VPC placements: (id, SUBNET_IDS, SECURITY_GROUP_ID (None: unset), the configuration
# error's problems, exactly these, in order).
BAD_VPC_PLACEMENTS = [
    ("subnets-only", SUBNET_IDS, None, (SUBNETS_ONLY,)),
    ("group-only", None, SECURITY_GROUP, (GROUP_ONLY,)),
    ("subnets-and-empty-group", SUBNET_IDS, "", (SUBNETS_ONLY,)),
    ("group-and-empty-subnets", "", SECURITY_GROUP, (GROUP_ONLY,)),
    (
        "malformed-subnets-only",
        "subnet-1a2b3c",
        None,
        (*subnets_malformed("subnet-1a2b3c", "'subnet-1a2b3c' is not a subnet id"), SUBNETS_ONLY),
    ),
    ("malformed-group-only", None, "sg-1", (*group_malformed("sg-1"), GROUP_ONLY)),
    *(
        (f"subnets-{case}", value, SECURITY_GROUP, subnets_malformed(value, *reasons))
        for case, value, reasons in [
            ("7-digits", "subnet-1a2b3c4", ["'subnet-1a2b3c4' is not a subnet id"]),
            ("9-digits", "subnet-1a2b3c4d5", ["'subnet-1a2b3c4d5' is not a subnet id"]),
            ("16-digits", A[:-1], [f"{A[:-1]!r} is not a subnet id"]),
            ("18-digits", f"{A}0", [f"'{A}0' is not a subnet id"]),
            ("upper-case", A.upper(), [f"{A.upper()!r} is not a subnet id"]),
            ("upper-case-hex", "subnet-1A2B3C4D", ["'subnet-1A2B3C4D' is not a subnet id"]),
            ("not-hex", "subnet-1a2b3c4g", ["'subnet-1a2b3c4g' is not a subnet id"]),
            ("a-security-group", SECURITY_GROUP, [f"{SECURITY_GROUP!r} is not a subnet id"]),
            ("space-after-comma", f"{A}, {B}", [f"' {B}' is not a subnet id"]),
            ("trailing-space", f"{A} ", [f"'{A} ' is not a subnet id"]),
            ("blank", " ", ["' ' is not a subnet id"]),
            ("trailing-comma", f"{A},", ["'' is not a subnet id"]),
            ("empty-item", f"{A},,{B}", ["'' is not a subnet id"]),
            ("comma-only", ",", ["'' is not a subnet id"]),  # named once
            ("malformed-twice", "subnet-x,subnet-x", ["'subnet-x' is not a subnet id"]),
            ("semicolons", f"{A};{B}", [f"'{A};{B}' is not a subnet id"]),
            ("json-list", f'["{A}"]', [f"'[\"{A}\"]' is not a subnet id"]),
            ("duplicate", f"{A},{B},{A}", [f"{A!r} is listed more than once"]),
            (
                "duplicates",
                f"{B},{A},{A},{B},{A}",
                [f"{A!r} is listed more than once", f"{B!r} is listed more than once"],
            ),
            ("seven", f"{six_subnets(8)},{A}", ["it lists 7, over 6"]),
            (
                "everything",
                f"{six_subnets()},{A},{A},subnet-x",
                [
                    "'subnet-x' is not a subnet id",
                    f"{A!r} is listed more than once",
                    "it lists 9, over 6",
                ],
            ),
        ]
    ),
    *(
        (f"group-{case}", SUBNET_IDS, value, group_malformed(value))
        for case, value in [
            ("7-digits", "sg-1a2b3c4"),
            ("9-digits", "sg-1a2b3c4d5"),
            ("16-digits", SECURITY_GROUP[:-1]),
            ("upper-case", SECURITY_GROUP.upper()),
            ("a-subnet", A),
            ("trailing-space", f"{SECURITY_GROUP} "),
            ("blank", " "),
            ("two", f"{SECURITY_GROUP},sg-1a2b3c4d"),
            ("a-name", "default"),
            ("an-arn", f"arn:aws:ec2:us-east-1:210987654321:security-group/{SECURITY_GROUP}"),
        ]
    ),
]


def vpc_changes(subnets: str | None, group: str | None) -> dict[str, str | None]:
    return {"SUBNET_IDS": subnets, "SECURITY_GROUP_ID": group}


def config_problems(error: str) -> list[str]:
    """The problems a configuration error names (``; ``-separated)."""
    return error.split("; ")


@pytest.mark.parametrize(
    ("subnets", "group", "problems"),
    [case[1:] for case in BAD_VPC_PLACEMENTS],
    ids=[case[0] for case in BAD_VPC_PLACEMENTS],
)
def test_a_bad_vpc_placement_is_a_configuration_failure(
    aws, reports, context, sent, monkeypatch, capsys, subnets, group, problems
):
    for name, value in vpc_changes(subnets, group).items():
        if value is not None:
            monkeypatch.setenv(name, value)
    reports.expect_failure("ConfigurationError")
    version = f"arn:aws:sagemaker:{REGION}:{DEV_ACCOUNT}:model-package/{GROUP}/1"  # not read

    result = handler.handler(job_event({"model_package_arn": version}), context)

    prefix = "promotion not run, the function is misconfigured: "
    assert result["status"] == "failed"
    assert result["error"].startswith(prefix)
    named = config_problems(result["error"].removeprefix(prefix))
    assert len(named) == len(problems), named
    assert all(p.startswith(expected) for p, expected in zip(named, problems, strict=True)), named
    assert reports.sent_failure()["type"] == "ConfigurationError"
    assert sent == []
    line = log_lines(capsys)[-1]
    assert (line["level"], line["status"]) == ("ERROR", "failed")
    assert not {"subnet_ids", "security_group_id"} & set(line)


def cold_starts(changes: list[dict[str, str | None]]) -> list[list[dict[str, Any]]]:
    """Runs handler.py's module code once per environment (this process's, with ``changes``:
    None unsets) in one new interpreter, as so many Lambda cold starts (they share only the
    imported libraries; one interpreter each would take a second apiece); each one's log
    lines."""
    separator = "--- next cold start ---"
    script = (
        "import json, os, runpy, sys\n"
        "base = dict(os.environ)\n"
        "for changes in json.loads(sys.argv[2]):\n"
        "    os.environ.clear()\n"
        "    os.environ.update(base)\n"
        "    for name, value in changes.items():\n"
        "        if value is None:\n"
        "            os.environ.pop(name, None)\n"
        "        else:\n"
        "            os.environ[name] = value\n"
        "    runpy.run_path(sys.argv[1])\n"
        f"    print({separator!r}, flush=True)\n"
    )
    env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME="mlops-prod-churn-promote")
    proc = subprocess.run(
        [sys.executable, "-c", script, handler.__file__, json.dumps(changes)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    outputs = proc.stdout.split(f"{separator}\n")
    assert outputs.pop() == ""
    return [[json.loads(line) for line in output.splitlines()] for output in outputs]


def test_a_bad_vpc_placement_is_logged_at_cold_start():
    every = cold_starts(
        [vpc_changes(subnets, group) for _, subnets, group, _ in BAD_VPC_PLACEMENTS]
    )
    assert len(every) == len(BAD_VPC_PLACEMENTS)
    for (case, _, _, problems), lines in zip(BAD_VPC_PLACEMENTS, every, strict=True):
        assert len(lines) == 1, (case, lines)
        [line] = lines
        assert (line["level"], line["status"]) == ("ERROR", "failed"), case
        named = config_problems(line["error"])
        assert len(named) == len(problems), (case, named)
        assert all(p.startswith(e) for p, e in zip(named, problems, strict=True)), (case, named)


def test_module_imports_quietly_with_a_good_vpc_placement():
    good = [
        vpc_changes(SUBNET_IDS, SECURITY_GROUP),
        vpc_changes(six_subnets(), "sg-1a2b3c4d"),
        vpc_changes("", ""),
        vpc_changes(None, None),
    ]
    assert cold_starts(good) == [[]] * len(good)


# -- refused before anything is copied -----------------------------------------------------------


def test_a_version_of_another_group_is_refused_unread(aws, reports, context, sent):
    release = aws.register(group=OTHER_GROUP)
    result = refuse(release, context, reports)
    assert result["checks"] == ["same-group"]
    assert result["error"] == (
        f"promotion of {release.arn} to {TARGET} failed (same-group): same-group: "
        f"{release.arn} is not a version of "
        f"arn:aws:sagemaker:{REGION}:{DEV_ACCOUNT}:model-package-group/{GROUP}: it is a version "
        f"of the group {OTHER_GROUP!r}"
    )
    assert sent == []
    assert aws.keys() == []


@pytest.mark.parametrize(
    ("replace", "problem"),
    [
        (
            (f":{DEV_ACCOUNT}:", ":210987654321:"),
            f"it is in the account 210987654321, not the source group's {DEV_ACCOUNT}",
        ),
        (
            (f":{REGION}:", ":eu-west-1:"),
            f"it is in the region eu-west-1, not the source group's {REGION}",
        ),
        (("arn:aws:", "arn:aws-cn:"), "it is in the partition aws-cn, not the source group's aws"),
    ],
    ids=["account", "region", "partition"],
)
def test_a_version_of_another_account_region_or_partition_is_refused_unread(
    aws, reports, context, sent, replace, problem
):
    release = aws.register()
    arn = release.arn.replace(*replace)
    result = refuse(release, context, reports, {"model_package_arn": arn})
    assert result["checks"] == ["same-group"]
    assert result["error"].endswith(problem)
    assert sent == []


def test_an_unknown_version_is_refused(aws, reports, context):
    release = aws.register()
    arn = release.arn.rsplit("/", 1)[0] + "/99"
    result = refuse(release, context, reports, {"model_package_arn": arn})
    assert result["checks"] == ["same-group"]
    assert f"could not read model package {arn}: ValidationException: " in result["error"]


@pytest.mark.parametrize("status", ["PendingManualApproval", "Rejected"])
def test_a_version_not_approved_is_refused(aws, reports, context, sent, status):
    release = aws.register(status=status)
    result = refuse(release, context, reports)
    assert result["checks"] == ["approved"]
    assert f"is {status}, not Approved: only an approved version is promoted" in result["error"]
    assert [op for op, _ in sent] == ["DescribeModelPackage"]
    assert aws.keys() == []


def test_a_version_approved_then_rejected_is_refused(aws, reports, context):
    release = aws.register()
    aws.set_status(release.arn, "Rejected")
    assert refuse(release, context, reports)["checks"] == ["approved"]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"ModelArtifactSha256": None}, "no ModelArtifactSha256"),
        (
            {"EvaluationReportSha256": None, "EvaluationReportVersion": None},
            "no EvaluationReportSha256 and no EvaluationReportVersion",
        ),
        ({"ModelArtifactSha256": "ABC"}, "ModelArtifactSha256 'ABC' is not a SHA-256"),
        (
            {"EvaluationReportVersion": "none"},
            "EvaluationReportVersion 'none' is not an S3 version",
        ),
        (
            {"MonitoringBaselineSha256": "none", "MonitoringBaselineVersion": "none"},
            "MonitoringBaselineSha256 and MonitoringBaselineVersion are none, but the version has "
            "the MonitoringBaseline",
        ),
    ],
    ids=["model-sha", "evaluation-both", "bad-sha", "version-none", "baseline-none"],
)
def test_a_version_without_its_fingerprints_is_refused(aws, reports, context, changes, problem):
    release = aws.register(metadata=changes)
    result = refuse(release, context, reports)
    assert result["checks"] == ["fingerprinted"]
    assert problem in result["error"]
    assert aws.keys() == []


def test_baseline_fingerprints_without_a_baseline_are_refused(aws, reports, context):
    release = aws.register(
        monitoring_baseline=False,
        metadata={"MonitoringBaselineSha256": sha256(b"x"), "MonitoringBaselineVersion": "v1"},
    )
    result = refuse(release, context, reports)
    assert result["checks"] == ["fingerprinted"]
    assert "must be none: the version has no MonitoringBaseline" in result["error"]


def test_a_version_registered_with_unsealed_files_is_refused(aws, reports, context, sent):
    release = aws.register(sealed=False)
    result = refuse(release, context, reports)
    assert result["checks"] == ["sealed"]
    # every file is named
    for file in release.files.values():
        assert (
            f"{file.uri} is not sealed (an object of {SOURCE!r} under 'sealed/')"
            in (result["error"])
        )
    assert "register it again through the Fingerprint step" in result["error"]
    assert [op for op, _ in sent] == ["DescribeModelPackage"]  # nothing read or copied
    assert aws.keys() == []


def test_a_file_sealed_in_another_bucket_is_refused(aws, reports, context):
    """A version whose files are sealed in some other bucket (the target's, here) is not the
    development account's release."""
    release = aws.register()
    model = release.files["model"]
    elsewhere = f"s3://{TARGET}/{model.key}"
    aws.s3.put_object(Bucket=TARGET, Key=model.key, Body=MODEL)
    arn = aws.create_package(elsewhere, release.files["evaluation"].uri, release.metadata)
    result = refuse(release, context, reports, {"model_package_arn": arn})
    assert result["checks"] == ["sealed"]
    assert f"the model artifact {elsewhere} is not sealed" in result["error"]


def test_a_key_addressed_by_another_sha256_than_recorded_is_refused(aws, reports, context, sent):
    release = aws.register(metadata={"ModelArtifactSha256": sha256(b"another model")})
    result = refuse(release, context, reports)
    assert result["checks"] == ["sealed"]
    assert (
        f"the model artifact {release.files['model'].uri} is the sealed copy of the SHA-256 "
        f"{sha256(MODEL)}, not of the registered {sha256(b'another model')}"
    ) in result["error"]
    assert [op for op, _ in sent] == ["DescribeModelPackage"]
    assert aws.keys() == []


def test_a_version_without_an_evaluation_report_is_refused(aws, reports, context):
    release = aws.register(evaluation_report=False)
    result = refuse(release, context, reports)
    assert result["checks"] == ["sealed"]
    assert (
        "the version registers no evaluation report (ModelMetrics.ModelQuality.Statistics.S3Uri)"
        in result["error"]
    )


# -- refused while copying or verifying ----------------------------------------------------------


def test_a_target_key_holding_other_content_is_refused(aws, reports, context, sent):
    release = aws.register()
    model = release.files["model"]
    squatter = aws.put(model.key, b"not the model", bucket=TARGET)

    result = refuse(release, context, reports)

    assert result["checks"] == ["copied"]
    assert (
        f"s3://{TARGET}/{model.key} already exists with the SHA-256 {sha256(b'not the model')} "
        f"(version {squatter!r}), not the registered {sha256(MODEL)} of the model artifact: a "
        "sealed object is never replaced"
    ) in result["error"]
    assert aws.versions(model.key) == [squatter]  # not replaced
    assert aws.uploads() == []
    # the other files were still promoted (and named nowhere in the message)
    assert aws.read(release.files["baseline"].key) == release.files["baseline"].content
    assert "baseline" not in result["error"]


def test_a_copy_that_does_not_hold_the_recorded_sha256_is_refused(aws, reports, context):
    """A registry recording, for the key sealed/<X>/..., a version that does not hold X: the
    target copy is hashed in the target account and refused."""
    release = aws.register()
    model = release.files["model"]
    other = aws.put(model.key, b"tampered")  # a later version of the sealed source key
    release.arn = aws.create_package(
        model.uri,
        release.files["evaluation"].uri,
        release.metadata | {"ModelArtifactVersion": other},
    )

    result = refuse(release, context, reports)

    assert result["checks"] == ["verified"]
    [version] = aws.versions(model.key)
    assert (
        f"the copy s3://{TARGET}/{model.key} (version {version!r}) of the model artifact "
        f"{model.uri} version {other!r} has the SHA-256 {sha256(b'tampered')}, not the "
        f"registered {sha256(MODEL)}"
    ) in result["error"]


def test_an_aws_error_while_copying_is_reported_and_the_upload_aborted(
    aws, reports, context, sent, capsys
):
    """The recorded source version is gone once the copy starts (UploadPartCopy answers 404):
    a failure is reported (not raised), the multipart upload is aborted, nothing written."""
    release = aws.register()
    model = release.files["model"]

    def delete_version(params: dict[str, Any], **_: Any) -> None:
        if params["Key"] == model.key:
            aws.s3.delete_object(Bucket=SOURCE, Key=model.key, VersionId=model.version)

    events = handler._client("s3").meta.events
    events.register("provide-client-params.s3.CreateMultipartUpload", delete_version)
    try:
        result = refuse(release, context, reports)
    finally:
        events.unregister("provide-client-params.s3.CreateMultipartUpload", delete_version)

    assert result["checks"] == ["copied"]
    assert (
        f"could not copy the model artifact {model.uri} version {model.version!r} to "
        f"s3://{TARGET}/{model.key}: "
    ) in result["error"]
    assert aws.uploads() == []
    assert aws.versions(model.key) == []
    ops = [op for op, _ in sent]
    assert ops[1:5] == [
        "HeadObject",
        "CreateMultipartUpload",
        "UploadPartCopy",
        "AbortMultipartUpload",
    ]
    [line] = log_lines(capsys)
    assert (line["level"], line["status"], line["checks"]) == ("ERROR", "failed", ["copied"])
    assert "model_uri" not in line  # not promoted
    assert line["baseline_copied"] is True


def test_a_missing_source_version_is_reported(aws, reports, context):
    release = aws.register()
    model = release.files["model"]
    aws.s3.delete_object(Bucket=SOURCE, Key=model.key, VersionId=model.version)
    result = refuse(release, context, reports)
    assert result["checks"] == ["copied"]
    assert f"could not copy the model artifact {model.uri}" in result["error"]
    assert aws.uploads() == []


def test_an_unversioned_target_bucket_is_refused(aws, reports, context, monkeypatch):
    monkeypatch.setenv("TARGET_BUCKET", UNVERSIONED)
    release = aws.register()
    result = refuse(release, context, reports)
    assert result["checks"] == ["copied"]
    assert "has no version id: the target bucket must be versioned" in result["error"]


# -- malformed jobs and settings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "error"),
    [
        pytest.param("{not json", "UserParameters is not valid JSON", id="not-json"),
        pytest.param("[]", "UserParameters must be a JSON object, got array", id="array"),
        pytest.param({}, "UserParameters.model_package_arn is missing", id="no-arn"),
        pytest.param(
            {"model_package_arn": "#{variables.ModelPackageArn}"},
            "is not a versioned model package ARN (was the pipeline started without the "
            "ModelPackageArn variable?)",
            id="unresolved",
        ),
        pytest.param(
            {"model_package_arn": 4}, "UserParameters.model_package_arn must be a string", id="num"
        ),
        pytest.param(
            {"model_package_arn": "x", "stage": "prod"},
            "UserParameters has unknown keys 'stage' (it takes model_package_arn)",
            id="unknown-key",
        ),
    ],
)
def test_a_malformed_job_is_reported_as_a_configuration_failure(
    aws, reports, context, sent, capsys, parameters, error
):
    reports.expect_failure("ConfigurationError")

    result = handler.handler(job_event(parameters), context)

    assert result["status"] == "failed"
    assert error in result["error"]
    failure = reports.sent_failure()
    assert failure["message"] == result["error"]
    assert failure["message"].startswith("promotion not run, the job is misconfigured: ")
    assert sent == []
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
    aws, reports, context, sent, capsys, event, error
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
    assert sent == []
    [line] = log_lines(capsys)
    assert (line["level"], line["status"]) == ("ERROR", "rejected")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SOURCE_MODEL_PACKAGE_GROUP_ARN", None, "SOURCE_MODEL_PACKAGE_GROUP_ARN is not set"),
        (
            "SOURCE_MODEL_PACKAGE_GROUP_ARN",
            GROUP,
            f"SOURCE_MODEL_PACKAGE_GROUP_ARN={GROUP!r} is not a model package group ARN",
        ),
        (
            "SOURCE_MODEL_PACKAGE_GROUP_ARN",
            f"arn:aws:sagemaker:{REGION}:{DEV_ACCOUNT}:model-package/{GROUP}/1",
            "is not a model package group ARN",
        ),
        ("SOURCE_BUCKET", None, "SOURCE_BUCKET is not set"),
        ("SOURCE_BUCKET", "s3://x", "SOURCE_BUCKET='s3://x' is not an S3 bucket name"),
        ("TARGET_BUCKET", None, "TARGET_BUCKET is not set"),
        ("TARGET_BUCKET", "Target", "TARGET_BUCKET='Target' is not an S3 bucket name"),
        ("SEALED_PREFIX", None, "SEALED_PREFIX is not set"),
        ("SEALED_PREFIX", "sealed", "SEALED_PREFIX='sealed' is not a key prefix"),
        ("SEALED_PREFIX", "/sealed/", "SEALED_PREFIX='/sealed/' is not a key prefix"),
        (
            "DATA_KEY_ARN",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "DATA_KEY_ARN='1234abcd-12ab-34cd-56ef-1234567890ab' is not a KMS key ARN",
        ),
        (
            "DATA_KEY_ARN",
            "arn:aws:kms:us-east-1:210987654321:alias/mlops-prod-data",
            "DATA_KEY_ARN='arn:aws:kms:us-east-1:210987654321:alias/mlops-prod-data' is not a "
            "KMS key ARN",
        ),
        ("DATA_KEY_ARN", DATA_KEY.replace(":kms:", ":s3:"), "is not a KMS key ARN"),
        ("DATA_KEY_ARN", DATA_KEY.replace("210987654321", "2109876543"), "is not a KMS key ARN"),
        ("DATA_KEY_ARN", f"{DATA_KEY} ", "is not a KMS key ARN"),
        ("DATA_KEY_ARN", DATA_KEY.replace("key/", "key/a/"), "is not a KMS key ARN"),
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

    assert result["error"].startswith("promotion not run, the function is misconfigured: ")
    assert message in result["error"]
    assert reports.sent_failure()["type"] == "ConfigurationError"
    assert sent == []


def test_every_bad_setting_is_named_at_once(aws, reports, context, monkeypatch):
    monkeypatch.delenv("SOURCE_MODEL_PACKAGE_GROUP_ARN")
    monkeypatch.setenv("SOURCE_BUCKET", "s3://x")
    monkeypatch.delenv("TARGET_BUCKET")
    monkeypatch.setenv("SEALED_PREFIX", "sealed")
    monkeypatch.setenv("DATA_KEY_ARN", "alias/mlops-prod-data")
    monkeypatch.setenv("SUBNET_IDS", "subnet-1")
    monkeypatch.setenv("SECURITY_GROUP_ID", "sg-1")
    reports.expect_failure("ConfigurationError")
    result = handler.handler(job_event({"model_package_arn": "x"}), context)
    for message in (
        "SOURCE_MODEL_PACKAGE_GROUP_ARN is not set",
        "SOURCE_BUCKET='s3://x'",
        "TARGET_BUCKET is not set",
        "SEALED_PREFIX='sealed'",
        "DATA_KEY_ARN='alias/mlops-prod-data' is not a KMS key ARN",
        "SUBNET_IDS='subnet-1' is not",
        "SECURITY_GROUP_ID='sg-1' is not a security group id",
    ):
        assert message in result["error"]


def test_bad_settings_without_a_job_id_are_rejected(reports, monkeypatch):
    monkeypatch.delenv("TARGET_BUCKET")
    result = handler.handler({"Records": []}, None)
    assert result["status"] == "rejected"
    assert "TARGET_BUCKET is not set" in result["error"]
    assert result["error"].endswith("(and no usable CodePipeline.job.id to report to)")
    assert reports.sent == []


def test_bad_configuration_is_logged_at_cold_start():
    env = {k: v for k, v in os.environ.items() if k != "TARGET_BUCKET"}
    env["AWS_LAMBDA_FUNCTION_NAME"] = "mlops-prod-churn-promote"
    lines = [json.loads(line) for line in cold_start(handler.__file__, env).splitlines()]
    assert len(lines) == 1
    assert (lines[0]["level"], lines[0]["status"]) == ("ERROR", "failed")
    assert "TARGET_BUCKET is not set" in lines[0]["error"]


def test_a_bad_data_key_arn_is_logged_at_cold_start():
    env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME="mlops-prod-churn-promote")
    env["DATA_KEY_ARN"] = "mlops-prod-data"
    [line] = [json.loads(line) for line in cold_start(handler.__file__, env).splitlines()]
    assert (line["level"], line["status"]) == ("ERROR", "failed")
    assert "DATA_KEY_ARN='mlops-prod-data' is not a KMS key ARN" in line["error"]


def test_module_imports_quietly_with_good_settings():
    env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME="mlops-prod-churn-promote")
    assert cold_start(handler.__file__, env) == ""
    assert cold_start(handler.__file__, {**env, "DATA_KEY_ARN": DATA_KEY}) == ""


# -- reporting errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "breaks"),
    [("put_job_success_result", False), ("put_job_failure_result", True)],
)
def test_a_failed_report_is_raised_for_a_retry(aws, reports, context, capsys, operation, breaks):
    release = aws.register(status="Rejected" if breaks else "Approved")
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


def test_a_retried_report_after_a_failed_one_reports_the_same(aws, reports, context):
    """Lambda retries the invocation whose report failed: the files are there, the same outputs
    are reported."""
    release = aws.register()
    reports.expect_error("put_job_success_result", "ThrottlingException")
    with pytest.raises(ClientError):
        handler.handler(job_event(params(release)), context)
    reports.sent.clear()

    assert promote(release, context, reports)["outputs"] == outputs_of(release)


def test_failure_message_is_capped_at_the_api_limit(aws):
    release = aws.register()
    job = handler.parse_job(job_event(params(release)))
    config = handler.load_config(os.environ)
    failures = [handler.Failure("copied", "x" * 400) for _ in range(20)]
    message = handler.failure_message(job, config, failures)
    assert len(message) == 5000
    assert message.endswith("...")
