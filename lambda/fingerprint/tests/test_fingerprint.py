"""fingerprint handler against moto: a real versioned bucket, real SHA-256 of known content,
real sealed copies (multipart copies completed with If-None-Match).

The only stubs (botocore's ``Stubber`` on the handler's own S3 client) are what moto never
produces: HeadObject answering the VersionId ``null`` (real S3 does for an object written while
versioning was suspended; moto then answers no VersionId at all), version ids SageMaker
metadata cannot hold (of the source or of the sealed copy), GetObject serving another version
or fewer bytes than HeadObject said, and a throttling error. The sealing itself is tested in
detail in test_seal.py (platform_fingerprint.seal).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import unicodedata
from typing import Any

import fingerprint_handler as handler
import platform_fingerprint
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from lambda_testing import cold_start

# the same values as conftest.py (not imported from it: every Lambda folder has a conftest.py)
ACCOUNT = "123456789012"
PROJECT = "mlops-dev-churn"
ARTIFACTS = f"{PROJECT}-artifacts-{ACCOUNT}"
UNVERSIONED = f"{PROJECT}-scratch-{ACCOUNT}"
OTHER = f"other-team-artifacts-{ACCOUNT}"
SEALED = "sealed/"
EXECUTION_ID = "k1ls9tc3wnw6"
RUN = f"pipelines/{EXECUTION_ID}"
MODEL_KEY = f"models/pipelines-{EXECUTION_ID}-Train-Ab12Cd34Ef/output/model.tar.gz"
BASELINE_KEY = f"{RUN}/baselines/monitoring/statistics.json"
EVALUATION_KEY = f"{RUN}/evaluation/evaluation.json"

MODEL = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes: two chunks of the default size
BASELINE = json.dumps({"features": [{"name": "tenure_months", "mean": 31.2}]}).encode()
EVALUATION = json.dumps({"binary_classification_metrics": {"auc": {"value": 0.87}}}).encode()

# The Model Monitor baseline files of the closed-service option, as the pipeline writes them:
# event field -> (key, content).
MONITOR = {
    "data_statistics_uri": (
        f"{RUN}/baselines/data-quality/statistics.json",
        json.dumps({"version": 0.0, "features": [{"name": "tenure_months"}]}).encode(),
    ),
    "data_constraints_uri": (
        f"{RUN}/baselines/data-quality/constraints.json",
        json.dumps(
            {"version": 0.0, "features": [{"name": "tenure_months", "completeness": 1.0}]}
        ).encode(),
    ),
    "model_constraints_uri": (
        f"{RUN}/evaluation/constraints.json",
        json.dumps(
            {"version": 0.0, "binary_classification_constraints": {"auc": {"threshold": 0.8}}}
        ).encode(),
    ),
    "bias_pre_uri": (
        f"{RUN}/baselines/bias/analysis.json",
        json.dumps({"pre_training_bias_metrics": {"label": "churned"}}).encode(),
    ),
    "bias_post_uri": (
        f"{RUN}/baselines/model-bias/analysis.json",
        json.dumps({"post_training_bias_metrics": {"label": "churned"}}).encode(),
    ),
    "explainability_uri": (
        f"{RUN}/baselines/model-explainability/analysis.json",
        json.dumps({"explanations": {"kernel_shap": {}}}).encode(),
    ),
}
MONITOR_NONE = dict.fromkeys(MONITOR, "none")  # the answer of each Model Monitor file not given

# SageMaker's pattern for a customer metadata value, as the API documents it (Java syntax).
SAGEMAKER_PATTERN = r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$"


# -- helpers -------------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def uri(key: str, bucket: str = ARTIFACTS) -> str:
    return f"s3://{bucket}/{key}"


def sealed(data: bytes, source_key: str) -> str:
    """The sealed key of a file with this content: sealed/<sha256>/<file name>."""
    return f"{SEALED}{sha256(data)}/{source_key.rsplit('/', 1)[-1]}"


SEALED_MODEL = sealed(MODEL, MODEL_KEY)
SEALED_BASELINE = sealed(BASELINE, BASELINE_KEY)
SEALED_EVALUATION = sealed(EVALUATION, EVALUATION_KEY)


def event(**overrides: Any) -> dict[str, Any]:
    """The event the pipeline's Fingerprint step sends."""
    base: dict[str, Any] = {
        "model_uri": uri(MODEL_KEY),
        "baseline_uri": uri(BASELINE_KEY),
        "evaluation_uri": uri(EVALUATION_KEY),
        "execution_id": EXECUTION_ID,
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def upload(aws: Any, bucket: str = ARTIFACTS) -> dict[str, str | None]:
    """The three files as the training pipeline writes them; their VersionIds."""
    return {
        "model": aws.put(MODEL_KEY, MODEL, bucket),
        "baseline": aws.put(BASELINE_KEY, BASELINE, bucket),
        "evaluation": aws.put(EVALUATION_KEY, EVALUATION, bucket),
    }


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every stdout line the handler wrote, each parsed as one JSON object."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def assert_flat(result: dict[str, Any]) -> None:
    """LambdaStep outputs: exactly the answer's keys, in order, every value a string."""
    assert tuple(result) == handler.ANSWER_KEYS
    assert all(isinstance(value, str) for value in result.values())


def assert_metadata_values(result: dict[str, str]) -> None:
    """Every value of an ok answer is a valid customer metadata value."""
    for key, value in result.items():
        assert platform_fingerprint.METADATA_VALUE.fullmatch(value), (key, value)


# -- fingerprints ----------------------------------------------------------------------------------


def test_fingerprints_are_the_sha256_of_the_current_versions_sealed(aws, sent, capsys):
    versions = upload(aws)

    result = handler.handler(event())

    seals = {key: aws.versions(key) for key in (SEALED_MODEL, SEALED_BASELINE, SEALED_EVALUATION)}
    assert all(len(found) == 1 for found in seals.values())  # one version each
    assert result == {
        "status": "ok",
        "error": "none",
        "model_sha256": sha256(MODEL),
        "model_version": seals[SEALED_MODEL][0],
        "model_uri": uri(SEALED_MODEL),
        "baseline_sha256": sha256(BASELINE),
        "baseline_version": seals[SEALED_BASELINE][0],
        "baseline_uri": uri(SEALED_BASELINE),
        "evaluation_sha256": sha256(EVALUATION),
        "evaluation_version": seals[SEALED_EVALUATION][0],
        "evaluation_uri": uri(SEALED_EVALUATION),
        **MONITOR_NONE,  # none given
    }
    assert_flat(result)
    assert_metadata_values(result)
    # the sealed objects hold exactly the bytes hashed
    assert aws.read(SEALED_MODEL) == MODEL
    assert aws.read(SEALED_BASELINE) == BASELINE
    assert aws.read(SEALED_EVALUATION) == EVALUATION
    assert aws.uploads() == []
    # HeadObject for the current version, then GetObject of exactly that version, for every
    # file; only then the writes, each a multipart copy of exactly the version hashed
    files = (
        ("model", MODEL_KEY, SEALED_MODEL),
        ("baseline", BASELINE_KEY, SEALED_BASELINE),
        ("evaluation", EVALUATION_KEY, SEALED_EVALUATION),
    )
    reads = [
        (op, {"Bucket": ARTIFACTS, "Key": key, **({"VersionId": versions[name]} if get else {})})
        for name, key, _ in files
        for op, get in (("HeadObject", False), ("GetObject", True))
    ]
    assert sent[: len(reads)] == reads
    writes = sent[len(reads) :]
    assert [op for op, _ in writes] == [
        "CreateMultipartUpload",
        "UploadPartCopy",
        "CompleteMultipartUpload",
    ] * 3
    for (name, key, target), start in zip(files, range(0, 9, 3), strict=True):
        create, copy, complete = (params for _, params in writes[start : start + 3])
        assert create == {"Bucket": ARTIFACTS, "Key": target}  # no encryption headers
        assert copy["CopySource"] == {"Bucket": ARTIFACTS, "Key": key, "VersionId": versions[name]}
        assert "CopySourceRange" not in copy  # one part: the whole (small) object
        assert (copy["Key"], copy["PartNumber"], copy["UploadId"]) == (
            target,
            1,
            complete["UploadId"],
        )
        assert (complete["Key"], complete["IfNoneMatch"]) == (target, "*")
    [line] = log_lines(capsys)
    assert (line["level"], line["message"], line["status"]) == (
        "INFO",
        "fingerprinted and sealed",
        "ok",
    )
    assert line["execution_id"] == EXECUTION_ID
    assert (line["artifacts_bucket"], line["sealed_prefix"]) == (ARTIFACTS, SEALED)
    assert line["model_source_uri"] == uri(MODEL_KEY)
    assert line["model_source_version"] == versions["model"]
    assert line["model_uri"] == uri(SEALED_MODEL)
    assert (line["model_sha256"], line["model_version"]) == (
        sha256(MODEL),
        result["model_version"],
    )
    assert (line["model_bytes"], line["baseline_bytes"]) == (len(MODEL), len(BASELINE))
    assert line["model_newly_sealed"] is True


def test_empty_file_has_the_sha256_of_nothing_and_is_sealed(aws):
    upload(aws)
    aws.put(EVALUATION_KEY, b"")
    result = handler.handler(event())
    assert result["evaluation_sha256"] == sha256(b"")
    assert result["evaluation_sha256"] == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    target = sealed(b"", EVALUATION_KEY)
    assert result["evaluation_uri"] == uri(target)
    assert aws.versions(target) == [result["evaluation_version"]]
    assert aws.read(target, result["evaluation_version"]) == b""


def test_the_newest_version_is_the_one_fingerprinted(aws):
    upload(aws)
    newer = aws.put(MODEL_KEY, b"retrained model")
    result = handler.handler(event())
    assert newer is not None
    target = sealed(b"retrained model", MODEL_KEY)
    assert (result["model_uri"], result["model_sha256"]) == (
        uri(target),
        sha256(b"retrained model"),
    )
    assert aws.read(target, result["model_version"]) == b"retrained model"


def test_an_overwrite_after_head_object_is_not_hashed(aws, sent):
    """The version HeadObject answered is the one read, sealed and recorded, even if the key is
    overwritten before GetObject: version and hash always belong together."""
    versions = upload(aws)
    swapped: list[str | None] = []

    def overwrite(**_: Any) -> None:
        if not swapped:
            swapped.append(aws.put(MODEL_KEY, b"swapped model"))

    events = handler._client("s3").meta.events
    events.register("after-call.s3.HeadObject", overwrite)
    try:
        result = handler.handler(event())
    finally:
        events.unregister("after-call.s3.HeadObject", overwrite)

    assert swapped and swapped[0] != versions["model"]
    assert (result["model_uri"], result["model_sha256"]) == (uri(SEALED_MODEL), sha256(MODEL))
    assert aws.read(SEALED_MODEL, result["model_version"]) == MODEL
    assert sent[1] == (
        "GetObject",
        {"Bucket": ARTIFACTS, "Key": MODEL_KEY, "VersionId": versions["model"]},
    )
    # the next run sees the new version, with its own hash, sealed at its own key
    again = handler.handler(event())
    assert (again["model_uri"], again["model_sha256"]) == (
        uri(sealed(b"swapped model", MODEL_KEY)),
        sha256(b"swapped model"),
    )
    assert aws.read(sealed(b"swapped model", MODEL_KEY)) == b"swapped model"


def test_an_overwrite_after_hashing_is_not_what_is_sealed(aws, sent):
    """The copy pins the VersionId that was hashed: a swap between GetObject and the copy does
    not reach the sealed object (nor does any later write)."""
    versions = upload(aws)
    swapped: list[str | None] = []

    def overwrite(params: dict[str, Any], **_: Any) -> None:
        if not swapped and params["Key"] == SEALED_MODEL:
            swapped.append(aws.put(MODEL_KEY, b"swapped model"))

    events = handler._client("s3").meta.events
    events.register("provide-client-params.s3.CreateMultipartUpload", overwrite)
    try:
        result = handler.handler(event())
    finally:
        events.unregister("provide-client-params.s3.CreateMultipartUpload", overwrite)

    assert swapped and aws.read(MODEL_KEY) == b"swapped model"  # the source was swapped
    assert (result["status"], result["model_sha256"]) == ("ok", sha256(MODEL))
    assert aws.read(SEALED_MODEL, result["model_version"]) == MODEL
    [copy] = [params for op, params in sent if op == "UploadPartCopy" and "model" in params["Key"]]
    assert copy["CopySource"]["VersionId"] == versions["model"]


def test_hashing_reads_in_chunks_never_the_whole_object(aws, monkeypatch):
    upload(aws)
    monkeypatch.setattr(handler, "CHUNK_SIZE", 4096)
    reads: list[int | None] = []
    original = StreamingBody.read

    def spy(self: StreamingBody, amt: int | None = None) -> bytes:
        reads.append(amt)
        return original(self, amt)

    monkeypatch.setattr(StreamingBody, "read", spy)

    result = handler.handler(event())

    assert result["model_sha256"] == sha256(MODEL)
    assert result["baseline_sha256"] == sha256(BASELINE)
    assert None not in reads  # a read without a size would load the whole object
    assert set(reads) == {4096}
    assert len(reads) >= len(MODEL) // 4096


def test_no_baseline(aws, sent):
    versions = upload(aws)

    result = handler.handler(event(baseline_uri="none"))

    assert (
        result["status"],
        result["baseline_sha256"],
        result["baseline_version"],
        result["baseline_uri"],
    ) == ("ok", "none", "none", "none")
    assert (result["model_uri"], result["evaluation_uri"]) == (
        uri(SEALED_MODEL),
        uri(SEALED_EVALUATION),
    )
    assert_flat(result)
    assert_metadata_values(result)
    assert [params["Key"] for _, params in sent] == [MODEL_KEY] * 2 + [EVALUATION_KEY] * 2 + [
        SEALED_MODEL
    ] * 3 + [SEALED_EVALUATION] * 3
    assert [params["CopySource"] for op, params in sent if op == "UploadPartCopy"] == [
        {"Bucket": ARTIFACTS, "Key": MODEL_KEY, "VersionId": versions["model"]},
        {"Bucket": ARTIFACTS, "Key": EVALUATION_KEY, "VersionId": versions["evaluation"]},
    ]
    assert aws.versions(SEALED_BASELINE) == []


def test_replayed_event_gives_the_same_answer_and_writes_nothing_new(aws, sent, capsys):
    upload(aws)
    first = handler.handler(event())
    sent.clear()
    log_lines(capsys)

    again = handler.handler(event())

    assert again == first
    for key in (SEALED_MODEL, SEALED_BASELINE, SEALED_EVALUATION):
        assert len(aws.versions(key)) == 1
    assert aws.uploads() == []  # each refused upload was aborted
    completes = [op for op, _ in sent if op == "CompleteMultipartUpload"]
    assert len(completes) == 3  # each refused (412): If-None-Match, the key exists
    assert [op for op, _ in sent].count("AbortMultipartUpload") == 3
    [line] = log_lines(capsys)
    assert (line["status"], line["model_newly_sealed"], line["evaluation_newly_sealed"]) == (
        "ok",
        False,
        False,
    )


def test_an_identical_file_of_another_run_shares_the_sealed_object(aws):
    """Content-addressed: the same bytes written by another run are the same sealed object."""
    upload(aws)
    first = handler.handler(event())
    other_run = MODEL_KEY.replace(EXECUTION_ID, "zz99other000")
    aws.put(other_run, MODEL)
    second = handler.handler(event(model_uri=uri(other_run), execution_id="zz99other000"))
    assert (second["model_uri"], second["model_version"]) == (
        first["model_uri"],
        first["model_version"],
    )
    assert len(aws.versions(SEALED_MODEL)) == 1


def test_a_sealed_key_holding_other_content_is_an_error(aws, capsys):
    """A sealed object is never replaced: one that does not hold what its key says (written
    before the bucket policy, or by hand) stops the step instead of being trusted."""
    upload(aws)
    intruder = aws.put(SEALED_MODEL, b"not the model")

    result = handler.handler(event())

    assert result == {
        "status": "error",
        "error": (
            f"not fingerprintable: model_uri: {uri(SEALED_MODEL)} already exists with the "
            f"SHA-256 {sha256(b'not the model')} (version {intruder!r}), not {sha256(MODEL)}: a "
            "sealed object is never replaced, and this one does not hold what its key says"
        ),
        **dict.fromkeys(handler.ANSWER_KEYS[2:], ""),
    }
    assert aws.versions(SEALED_MODEL) == [intruder]  # not replaced
    assert aws.read(SEALED_MODEL) == b"not the model"
    assert aws.uploads() == []
    [line] = log_lines(capsys)
    assert (line["level"], line["message"]) == ("ERROR", "not fingerprintable")


def test_nothing_is_sealed_unless_every_file_is_fingerprinted(aws, sent):
    aws.put(MODEL_KEY, MODEL)
    aws.put(BASELINE_KEY, BASELINE)  # no evaluation report
    with pytest.raises(ClientError):
        handler.handler(event())
    assert [op for op, _ in sent if op not in ("HeadObject", "GetObject")] == []
    assert aws.versions(SEALED_MODEL) == []


def test_large_files_are_copied_in_parts(aws, sent, monkeypatch):
    """PART_SIZE is what the copy uses (S3's minimum here, which moto enforces)."""
    monkeypatch.setattr(handler, "PART_SIZE", platform_fingerprint.MIN_PART_SIZE)
    large = bytes(range(256)) * (2 * platform_fingerprint.MIN_PART_SIZE // 256) + b"tail"
    upload(aws)
    aws.put(MODEL_KEY, large)

    result = handler.handler(event(baseline_uri="none"))

    target = sealed(large, MODEL_KEY)
    assert (result["status"], result["model_uri"]) == ("ok", uri(target))
    assert aws.read(target, result["model_version"]) == large
    part = platform_fingerprint.MIN_PART_SIZE
    assert [
        params["CopySourceRange"]
        for op, params in sent
        if op == "UploadPartCopy" and params["Key"] == target
    ] == [
        f"bytes=0-{part - 1}",
        f"bytes={part}-{2 * part - 1}",
        f"bytes={2 * part}-{len(large) - 1}",
    ]


def test_a_failed_copy_is_aborted_logged_and_raised(aws, capsys):
    """The version hashed is gone before the copy (UploadPartCopy answers 404): the multipart
    upload is aborted, the AWS error raised, nothing sealed."""
    versions = upload(aws)

    def delete_version(params: dict[str, Any], **_: Any) -> None:
        if params["Key"] == SEALED_MODEL:
            aws.s3.delete_object(Bucket=ARTIFACTS, Key=MODEL_KEY, VersionId=versions["model"])

    events = handler._client("s3").meta.events
    events.register("provide-client-params.s3.CreateMultipartUpload", delete_version)
    try:
        with pytest.raises(ClientError) as raised:
            handler.handler(event())
    finally:
        events.unregister("provide-client-params.s3.CreateMultipartUpload", delete_version)

    assert raised.value.operation_name == "UploadPartCopy"
    assert aws.uploads() == []
    assert aws.versions(SEALED_MODEL) == []
    [line] = log_lines(capsys)
    assert (line["level"], line["status"], line["operation"]) == (
        "ERROR",
        "aws-error",
        "UploadPartCopy",
    )


# -- the Model Monitor baseline files ------------------------------------------------------------


def upload_monitor(aws: Any, fields: Any = MONITOR) -> dict[str, str | None]:
    """The Model Monitor files (of ``fields``) as the pipeline's jobs write them; VersionIds."""
    return {field: aws.put(*MONITOR[field]) for field in fields}


def monitor_event(**overrides: Any) -> dict[str, Any]:
    """The event of a project with every Model Monitor option on (``overrides`` replace or,
    with None, remove a field)."""
    return event(**({field: uri(key) for field, (key, _) in MONITOR.items()} | overrides))


def sealed_monitor(field: str) -> str:
    key, content = MONITOR[field]
    return sealed(content, key)


def test_the_model_monitor_files_are_sealed_too(aws, sent, capsys):
    """The closed-service option's baselines (DriftCheckBaselines, ModelMetrics) are sealed like
    the model: a later run of the team's code cannot loosen a registered version's constraints."""
    upload(aws)
    versions = upload_monitor(aws)

    result = handler.handler(monitor_event())

    assert result["status"] == "ok"
    assert_flat(result)
    assert_metadata_values(result)
    assert [field for field, _ in handler.MONITOR_FILES] == list(MONITOR)
    assert {field: result[field] for field in MONITOR} == {
        field: uri(sealed_monitor(field)) for field in MONITOR
    }
    for field, (_, content) in MONITOR.items():
        assert aws.read(sealed_monitor(field)) == content
        assert len(aws.versions(sealed_monitor(field))) == 1
    # the files every version records are answered as before
    assert (result["model_uri"], result["model_sha256"]) == (uri(SEALED_MODEL), sha256(MODEL))
    assert result["evaluation_uri"] == uri(SEALED_EVALUATION)
    # only their sealed URIs are answered (the key names the SHA-256): no metadata keys
    assert [k for k in handler.ANSWER_KEYS if k.startswith(("data_", "bias_", "explain"))] == [
        "data_statistics_uri",
        "data_constraints_uri",
        "bias_pre_uri",
        "bias_post_uri",
        "explainability_uri",
    ]
    # every file fingerprinted (model, baseline, evaluation, then these in order) before any
    # write; each sealed from exactly the version hashed
    read_keys = [params["Key"] for op, params in sent if op == "GetObject"]
    assert read_keys == [MODEL_KEY, BASELINE_KEY, EVALUATION_KEY] + [
        key for key, _ in MONITOR.values()
    ]
    first_write = [op for op, _ in sent].index("CreateMultipartUpload")
    assert {op for op, _ in sent[:first_write]} == {"HeadObject", "GetObject"}
    copies = {params["Key"]: params["CopySource"] for op, params in sent if op == "UploadPartCopy"}
    for field, (key, _) in MONITOR.items():
        assert copies[sealed_monitor(field)] == {
            "Bucket": ARTIFACTS,
            "Key": key,
            "VersionId": versions[field],
        }
    [line] = log_lines(capsys)
    assert line["status"] == "ok"
    assert line["data_statistics_source_uri"] == uri(MONITOR["data_statistics_uri"][0])
    assert line["data_statistics_uri"] == result["data_statistics_uri"]
    assert line["explainability_source_version"] == versions["explainability_uri"]
    assert line["bias_post_bytes"] == len(MONITOR["bias_post_uri"][1])
    assert line["model_constraints_newly_sealed"] is True


@pytest.mark.parametrize("field", list(MONITOR))
def test_each_model_monitor_file_is_sealed_on_its_own(aws, sent, field):
    """A project with only some options on sends the others as none (or leaves them out)."""
    upload(aws)
    upload_monitor(aws, [field])
    others = {name: "none" for name in MONITOR if name != field}

    result = handler.handler(event(**{field: uri(MONITOR[field][0])}, **others))

    assert result["status"] == "ok"
    assert result[field] == uri(sealed_monitor(field))
    assert {name: result[name] for name in others} == others
    assert aws.read(sealed_monitor(field)) == MONITOR[field][1]
    assert [params["Key"] for op, params in sent if op == "GetObject"] == [
        MODEL_KEY,
        BASELINE_KEY,
        EVALUATION_KEY,
        MONITOR[field][0],
    ]


@pytest.mark.parametrize("given", ["absent", "none"])
def test_model_monitor_files_not_given_are_none(aws, sent, given):
    upload(aws)
    upload_monitor(aws)  # written, but not sent: never read nor sealed
    overrides = MONITOR_NONE if given == "none" else {}

    result = handler.handler(event(**overrides))

    assert result["status"] == "ok"
    assert {field: result[field] for field in MONITOR} == MONITOR_NONE
    assert_flat(result)
    assert_metadata_values(result)
    assert {params["Key"] for _, params in sent} == {
        MODEL_KEY,
        BASELINE_KEY,
        EVALUATION_KEY,
        SEALED_MODEL,
        SEALED_BASELINE,
        SEALED_EVALUATION,
    }
    for field in MONITOR:
        assert aws.versions(sealed_monitor(field)) == []


def test_a_replayed_event_with_model_monitor_files_writes_nothing_new(aws, sent, capsys):
    upload(aws)
    upload_monitor(aws)
    first = handler.handler(monitor_event())
    sent.clear()
    log_lines(capsys)

    again = handler.handler(monitor_event())

    assert again == first
    for field in MONITOR:
        assert len(aws.versions(sealed_monitor(field))) == 1
    assert aws.uploads() == []
    assert [op for op, _ in sent].count("AbortMultipartUpload") == 3 + len(MONITOR)
    [line] = log_lines(capsys)
    assert line["bias_pre_newly_sealed"] is False


def test_a_loosened_model_monitor_file_of_a_later_run_is_sealed_apart(aws):
    """A later run's looser constraints get their own sealed key: the version registered with
    the first keeps what it was approved with."""
    upload(aws)
    upload_monitor(aws)
    first = handler.handler(monitor_event())
    key, content = MONITOR["data_constraints_uri"]
    loose = content.replace(b"1.0", b"0.0")
    aws.put(key, loose)

    second = handler.handler(monitor_event())

    assert second["data_constraints_uri"] == uri(sealed(loose, key))
    assert second["data_constraints_uri"] != first["data_constraints_uri"]
    assert aws.read(sealed_monitor("data_constraints_uri")) == content  # untouched


def test_a_sealed_key_of_a_model_monitor_file_holding_other_content_is_an_error(aws):
    upload(aws)
    upload_monitor(aws)
    target = sealed_monitor("bias_post_uri")
    other = b'{"loosened": true}'
    intruder = aws.put(target, other)

    result = handler.handler(monitor_event())

    assert result["status"] == "error"
    assert result["error"] == (
        f"not fingerprintable: bias_post_uri: {uri(target)} already exists with the SHA-256 "
        f"{sha256(other)} (version {intruder!r}), not "
        f"{sha256(MONITOR['bias_post_uri'][1])}: a sealed object is never replaced, and this "
        "one does not hold what its key says"
    )
    assert aws.versions(target) == [intruder]


def test_a_missing_model_monitor_file_is_raised_before_anything_is_sealed(aws, sent):
    upload(aws)
    upload_monitor(aws, [f for f in MONITOR if f != "explainability_uri"])
    with pytest.raises(ClientError) as raised:
        handler.handler(monitor_event())
    assert raised.value.operation_name == "HeadObject"
    assert [op for op, _ in sent if op not in ("HeadObject", "GetObject")] == []
    assert aws.versions(SEALED_MODEL) == []


SEALED_CONSTRAINTS = f"{SEALED}{'0' * 64}/constraints.json"


@pytest.mark.parametrize("field", list(MONITOR))
@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(None, "{field} must be a string, got null", id="null"),
        pytest.param(42, "{field} must be a string, got number", id="number"),
        pytest.param("", "{field} must not be empty", id="empty"),
        pytest.param("None", "{field} 'None' is not an s3://bucket/key URI", id="None"),
        pytest.param(
            uri("x", OTHER),
            f"{{field}} '{uri('x', OTHER)}' is not in the artifacts bucket '{ARTIFACTS}' (only "
            "its objects are fingerprinted)",
            id="other-bucket",
        ),
        pytest.param(
            uri(SEALED_CONSTRAINTS),
            f"{{field}} '{uri(SEALED_CONSTRAINTS)}' is under the sealed prefix '{SEALED}': pass "
            "the file the pipeline wrote, a sealed object is never resealed",
            id="sealed",
        ),
        pytest.param(uri(f"{RUN}/baselines/"), "names no file (the key ends in /)", id="folder"),
        pytest.param(
            uri(f"{RUN}/{'c' * 170}.json"),
            "would not be a valid SageMaker customer metadata value",
            id="too-long-sealed",
        ),
        pytest.param(uri("k" * 1100), "{field} is longer than 1024 characters", id="too-long"),
    ],
)
def test_a_bad_model_monitor_file_is_refused(aws, sent, field, value, message):
    """The same validation as the other files."""
    upload(aws)
    upload_monitor(aws)

    result = handler.handler(monitor_event() | {field: value})

    assert result["status"] == "error"
    assert result["error"].startswith("bad event: ")
    assert message.format(field=field) in result["error"]
    assert_flat(result)
    assert sent == []


# -- objects that cannot be fingerprinted ----------------------------------------------------------


def test_an_unversioned_bucket_is_an_error(aws, monkeypatch, capsys):
    monkeypatch.setenv("ARTIFACTS_BUCKET", UNVERSIONED)
    upload(aws, UNVERSIONED)

    result = handler.handler(
        event(
            model_uri=uri(MODEL_KEY, UNVERSIONED),
            baseline_uri=uri(BASELINE_KEY, UNVERSIONED),
            evaluation_uri=uri(EVALUATION_KEY, UNVERSIONED),
        )
    )

    assert result == {
        "status": "error",
        "error": (
            f"not fingerprintable: model_uri: s3://{UNVERSIONED}/{MODEL_KEY} has no version id: "
            "the artifacts bucket must be versioned"
        ),
        **dict.fromkeys(handler.ANSWER_KEYS[2:], ""),
    }
    assert_flat(result)
    [line] = log_lines(capsys)
    assert (line["level"], line["status"], line["message"]) == (
        "ERROR",
        "error",
        "not fingerprintable",
    )


def test_an_object_written_before_versioning_was_enabled_is_an_error(aws, monkeypatch):
    """moto answers no VersionId for it (real S3: ``null``, stubbed below)."""
    upload(aws, UNVERSIONED)
    aws.s3.put_bucket_versioning(Bucket=UNVERSIONED, VersioningConfiguration={"Status": "Enabled"})
    monkeypatch.setenv("ARTIFACTS_BUCKET", UNVERSIONED)
    result = handler.handler(
        event(
            model_uri=uri(MODEL_KEY, UNVERSIONED),
            baseline_uri="none",
            evaluation_uri=uri(EVALUATION_KEY, UNVERSIONED),
        )
    )
    assert result["status"] == "error"
    assert "the artifacts bucket must be versioned" in result["error"]


def test_the_null_version_is_an_error(aws):
    """Stubbed: S3 answers ``null`` for an object written while versioning was suspended."""
    with Stubber(handler._client("s3")) as stub:
        stub.add_response(
            "head_object",
            {"VersionId": "null", "ContentLength": 4},
            {"Bucket": ARTIFACTS, "Key": MODEL_KEY},
        )
        result = handler.handler(event())
        stub.assert_no_pending_responses()
    assert result["error"] == (
        f"not fingerprintable: model_uri: s3://{ARTIFACTS}/{MODEL_KEY} has no version id: the "
        "artifacts bucket must be versioned"
    )


@pytest.mark.parametrize(
    "version",
    [
        pytest.param("abc#def", id="hash-sign"),
        pytest.param("a,b", id="comma"),
        pytest.param("v" * 257, id="too-long"),
        pytest.param("a\tb", id="tab"),
    ],
)
def test_a_version_id_metadata_cannot_hold_is_an_error(aws, version):
    """Stubbed: every version id moto makes is a UUID."""
    with Stubber(handler._client("s3")) as stub:
        stub.add_response("head_object", {"VersionId": version, "ContentLength": 4})
        result = handler.handler(event())
        stub.assert_no_pending_responses()  # nothing read
    assert result["status"] == "error"
    assert result["error"] == (
        f"not fingerprintable: model_uri: s3://{ARTIFACTS}/{MODEL_KEY} has the version id "
        f"{version!r}, which is not a valid SageMaker customer metadata value (1 to 256 "
        "letters, digits, spaces and _.:/=+-@)"
    )
    assert_flat(result)


def _stub_seal(stub: Stubber, key: str, sealed_version: str) -> None:
    """The three answers of a one-part sealing of ``key`` (Stubber: what moto never answers)."""
    stub.add_response("create_multipart_upload", {"UploadId": "u1"})
    stub.add_response("upload_part_copy", {"CopyPartResult": {"ETag": '"e1"'}})
    stub.add_response("complete_multipart_upload", {"VersionId": sealed_version})


VERSION_OF_EVERY_KIND = "Ab9_.:/=+-@ \u00e9\u0661"  # letters, digits, symbols, space, é, Arabic 1


def test_a_version_id_with_every_allowed_kind_of_character_is_recorded(aws):
    version = VERSION_OF_EVERY_KIND
    with Stubber(handler._client("s3")) as stub:
        for key, body in ((MODEL_KEY, b"m"), (EVALUATION_KEY, b"e")):
            stub.add_response("head_object", {"VersionId": version, "ContentLength": 1})
            stub.add_response(
                "get_object",
                {"VersionId": version, "Body": StreamingBody(io.BytesIO(body), 1)},
                {"Bucket": ARTIFACTS, "Key": key, "VersionId": version},
            )
        _stub_seal(stub, sealed(b"m", MODEL_KEY), version)
        _stub_seal(stub, sealed(b"e", EVALUATION_KEY), "sealed " + version)
        result = handler.handler(event(baseline_uri="none"))
        stub.assert_no_pending_responses()
    assert (result["status"], result["model_version"], result["model_sha256"]) == (
        "ok",
        version,
        sha256(b"m"),
    )
    assert result["evaluation_version"] == "sealed " + version
    assert_metadata_values(result)


@pytest.mark.parametrize(
    ("answered", "problem"),
    [
        pytest.param(
            "null", "has no version id: the artifacts bucket must be versioned", id="null"
        ),
        pytest.param(None, "has no version id: the artifacts bucket must be versioned", id="none"),
        pytest.param(
            "a#b",
            "has the version id 'a#b', which is not a valid SageMaker customer metadata value (1 "
            "to 256 letters, digits, spaces and _.:/=+-@)",
            id="hash",
        ),
    ],
)
def test_a_sealed_version_id_that_cannot_be_recorded_is_an_error(aws, answered, problem):
    """Stubbed: moto's version ids are UUIDs (and "null" only in an unversioned bucket)."""
    with Stubber(handler._client("s3")) as stub:
        stub.add_response("head_object", {"VersionId": "v1", "ContentLength": 1})
        stub.add_response(
            "get_object", {"VersionId": "v1", "Body": StreamingBody(io.BytesIO(b"m"), 1)}
        )
        stub.add_response("head_object", {"VersionId": "v2", "ContentLength": 1})
        stub.add_response(
            "get_object", {"VersionId": "v2", "Body": StreamingBody(io.BytesIO(b"e"), 1)}
        )
        stub.add_response("create_multipart_upload", {"UploadId": "u1"})
        stub.add_response("upload_part_copy", {"CopyPartResult": {"ETag": '"e1"'}})
        stub.add_response(
            "complete_multipart_upload", {} if answered is None else {"VersionId": answered}
        )
        result = handler.handler(event(baseline_uri="none"))
        stub.assert_no_pending_responses()  # the evaluation report is not sealed then
    assert result["status"] == "error"
    assert result["error"] == (
        f"not fingerprintable: model_uri: {uri(sealed(b'm', MODEL_KEY))} {problem}"
    )


@pytest.mark.parametrize(
    ("served", "size", "error"),
    [
        pytest.param("v2", 4, "version 'v1': S3 served the version 'v2'", id="other-version"),
        pytest.param("v1", 3, "version 'v1': read 3 bytes, HeadObject said 4", id="short-read"),
    ],
)
def test_a_read_that_does_not_match_head_object_is_an_error(aws, served, size, error):
    """Stubbed: moto always serves the version asked for, all of it."""
    with Stubber(handler._client("s3")) as stub:
        stub.add_response("head_object", {"VersionId": "v1", "ContentLength": 4})
        stub.add_response(
            "get_object",
            {"VersionId": served, "Body": StreamingBody(io.BytesIO(b"x" * size), size)},
        )
        result = handler.handler(event())
        stub.assert_no_pending_responses()
    assert result["status"] == "error"
    assert (
        result["error"] == f"not fingerprintable: model_uri: s3://{ARTIFACTS}/{MODEL_KEY} {error}"
    )


# -- bad events ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (None, "the event must be a JSON object, got null"),
        ([uri(MODEL_KEY)], "the event must be a JSON object, got array"),
        ("s3://x/y", "the event must be a JSON object, got string"),
        ({}, "model_uri is missing"),
        ({**event(), "model_sha256": "abc"}, "unknown fields ['model_sha256']"),
        ({**event(), "bucket": ARTIFACTS, "Key": "k"}, "unknown fields ['Key', 'bucket']"),
        (event(model_uri=None), "model_uri is missing"),
        (event(baseline_uri=None), "baseline_uri is missing"),
        (event(evaluation_uri=None), "evaluation_uri is missing"),
        (event(execution_id=None), "execution_id is missing"),
        (event(model_uri="none"), "model_uri 'none' is not an s3://bucket/key URI"),
        (event(evaluation_uri="none"), "evaluation_uri 'none' is not an s3://bucket/key URI"),
        (event(baseline_uri="None"), "baseline_uri 'None' is not an s3://bucket/key URI"),
        (event(baseline_uri=""), "baseline_uri must not be empty"),
        (event(baseline_uri=None) | {"baseline_uri": None}, "baseline_uri must be a string"),
        (event(model_uri=42), "model_uri must be a string, got number"),
        (event(model_uri=f"s3://{ARTIFACTS}/"), "is not an s3://bucket/key URI"),
        (event(model_uri=f"s3://{ARTIFACTS}"), "is not an s3://bucket/key URI"),
        (event(model_uri=f"https://{ARTIFACTS}.s3.amazonaws.com/k"), "not an s3://bucket/key"),
        (event(model_uri="s3://Bad_Bucket/model.tar.gz"), "names the invalid bucket 'Bad_Bucket'"),
        (event(model_uri=uri("k" * 1100)), "model_uri is longer than 1024 characters"),
        (event(execution_id=""), "execution_id must not be empty"),
        (event(execution_id="a b"), "not a pipeline execution id"),
        (
            event(model_uri=uri(f"{SEALED}{sha256(MODEL)}/model.tar.gz")),
            f"model_uri '{uri(f'{SEALED}{sha256(MODEL)}/model.tar.gz')}' is under the sealed "
            f"prefix '{SEALED}': pass the file the pipeline wrote, a sealed object is never "
            "resealed",
        ),
        (
            event(baseline_uri=uri(f"{SEALED}statistics.json")),
            f"baseline_uri '{uri(f'{SEALED}statistics.json')}' is under the sealed prefix",
        ),
        (event(evaluation_uri=uri(f"{RUN}/evaluation/")), "names no file (the key ends in /)"),
        (
            event(model_uri=uri(f"models/{'m' * 170}.tar.gz")),
            "its sealed URI (s3://mlops-dev-churn-artifacts-123456789012/sealed/<sha256>/"
            + "m" * 170
            + ".tar.gz) would not be a valid SageMaker customer metadata value",
        ),
        (
            event(model_uri=uri("models/model (1).tar.gz")),
            "would not be a valid SageMaker customer metadata value",
        ),
    ],
)
def test_bad_events_are_answered_not_raised(aws, sent, capsys, bad, message):
    upload(aws)

    result = handler.handler(bad)

    assert result["status"] == "error"
    assert result["error"].startswith("bad event: ")
    assert message in result["error"]
    assert {key: result[key] for key in handler.ANSWER_KEYS[2:]} == dict.fromkeys(
        handler.ANSWER_KEYS[2:], ""
    )
    assert_flat(result)
    assert sent == []  # nothing read for a bad event
    [line] = log_lines(capsys)
    assert (line["level"], line["status"], line["message"]) == ("ERROR", "error", "event rejected")


@pytest.mark.parametrize("field", ["model_uri", "baseline_uri", "evaluation_uri"])
@pytest.mark.parametrize("bucket", [OTHER, UNVERSIONED])
def test_a_uri_in_another_bucket_is_refused(aws, sent, field, bucket):
    upload(aws)
    upload(aws, bucket)
    key = {"model_uri": MODEL_KEY, "baseline_uri": BASELINE_KEY}.get(field, EVALUATION_KEY)

    result = handler.handler(event(**{field: uri(key, bucket)}))

    assert result["status"] == "error"
    assert result["error"] == (
        f"bad event: {field} 's3://{bucket}/{key}' is not in the artifacts bucket "
        f"'{ARTIFACTS}' (only its objects are fingerprinted)"
    )
    assert sent == []


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ARTIFACTS_BUCKET", None, "ARTIFACTS_BUCKET is not set"),
        ("ARTIFACTS_BUCKET", "", "ARTIFACTS_BUCKET is not set"),
        (
            "ARTIFACTS_BUCKET",
            "Artifacts_Bucket",
            "ARTIFACTS_BUCKET='Artifacts_Bucket' is not an S3 bucket name",
        ),
        (
            "ARTIFACTS_BUCKET",
            f"s3://{ARTIFACTS}",
            f"ARTIFACTS_BUCKET='s3://{ARTIFACTS}' is not an S3 bucket name",
        ),
        ("SEALED_PREFIX", None, "SEALED_PREFIX is not set"),
        ("SEALED_PREFIX", "", "SEALED_PREFIX is not set"),
        ("SEALED_PREFIX", "sealed", "SEALED_PREFIX='sealed' is not a key prefix"),
        ("SEALED_PREFIX", "/sealed/", "SEALED_PREFIX='/sealed/' is not a key prefix"),
        ("SEALED_PREFIX", "/", "SEALED_PREFIX='/' is not a key prefix"),
        ("SEALED_PREFIX", "sealed//", "SEALED_PREFIX='sealed//' is not a key prefix"),
        ("SEALED_PREFIX", "sealed models/", "SEALED_PREFIX='sealed models/' is not a key prefix"),
        ("SEALED_PREFIX", "sealed/*", "SEALED_PREFIX='sealed/*' is not a key prefix"),
        ("SEALED_PREFIX", f"s3://{ARTIFACTS}/sealed/", "is not a key prefix"),
    ],
)
def test_bad_configuration_is_answered(aws, sent, monkeypatch, capsys, name, value, message):
    upload(aws)
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)

    result = handler.handler(event())

    assert result["status"] == "error"
    assert result["error"].startswith("configuration error: ")
    assert message in result["error"]
    assert_flat(result)
    assert sent == []
    [line] = log_lines(capsys)
    assert (line["level"], line["message"]) == ("ERROR", "configuration error")


@pytest.mark.parametrize("prefix", ["sealed/", "a/", "releases/sealed/", "x.y_z-1/v2/"])
def test_a_good_sealed_prefix_is_where_the_files_are_sealed(aws, monkeypatch, prefix):
    upload(aws)
    monkeypatch.setenv("SEALED_PREFIX", prefix)
    result = handler.handler(event(baseline_uri="none"))
    assert result["model_uri"] == uri(f"{prefix}{sha256(MODEL)}/model.tar.gz")
    assert aws.read(f"{prefix}{sha256(MODEL)}/model.tar.gz") == MODEL


def test_every_bad_setting_is_named_at_once(aws, monkeypatch):
    monkeypatch.delenv("ARTIFACTS_BUCKET")
    monkeypatch.setenv("SEALED_PREFIX", "sealed")
    error = handler.handler(event())["error"]
    assert "ARTIFACTS_BUCKET is not set" in error
    assert "SEALED_PREFIX='sealed' is not a key prefix" in error


def test_a_bad_event_under_a_bad_configuration_names_the_configuration(aws, monkeypatch):
    monkeypatch.delenv("ARTIFACTS_BUCKET")
    assert handler.handler(None)["error"].startswith("configuration error: ")


@pytest.mark.parametrize("name", ["ARTIFACTS_BUCKET", "SEALED_PREFIX"])
def test_bad_configuration_is_logged_at_cold_start(name):
    env = {k: v for k, v in os.environ.items() if k != name}
    env["AWS_LAMBDA_FUNCTION_NAME"] = f"{PROJECT}-fingerprint"
    lines = [json.loads(line) for line in cold_start(handler.__file__, env).splitlines()]
    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert "cold start" in lines[0]["message"]
    assert f"{name} is not set" in lines[0]["error"]


def test_module_imports_quietly_with_a_good_configuration():
    env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME=f"{PROJECT}-fingerprint")
    assert cold_start(handler.__file__, env) == ""


# -- AWS errors ----------------------------------------------------------------------------------


def test_a_missing_object_is_logged_and_raised(aws, capsys):
    aws.put(MODEL_KEY, MODEL)  # no baseline, no evaluation report

    with pytest.raises(ClientError) as raised:
        handler.handler(event())

    assert raised.value.operation_name == "HeadObject"
    [line] = log_lines(capsys)
    assert (line["level"], line["status"]) == ("ERROR", "aws-error")
    assert line["operation"] == "HeadObject"
    assert line["error_code"] == "404"
    assert line["execution_id"] == EXECUTION_ID
    assert line["baseline_source_uri"] == uri(BASELINE_KEY)
    assert "baseline_uri" not in line  # the answer's name, for the sealed copy
    assert "exception" in line


def test_a_throttled_read_is_raised(aws, capsys):
    """Stubbed: moto is never throttled."""
    with Stubber(handler._client("s3")) as stub:
        stub.add_response("head_object", {"VersionId": "v1", "ContentLength": 4})
        stub.add_client_error("get_object", "SlowDown", "Please reduce your request rate", 503)
        with pytest.raises(ClientError, match="reduce your request rate"):
            handler.handler(event())
        stub.assert_no_pending_responses()
    [line] = log_lines(capsys)
    assert (line["operation"], line["error_code"]) == ("GetObject", "SlowDown")


# -- the answer's shape --------------------------------------------------------------------------


def test_every_answer_has_the_same_keys(aws, monkeypatch):
    upload(aws)
    upload(aws, UNVERSIONED)
    answers = [handler.handler(event()), handler.handler(event(baseline_uri="none"))]
    answers += [handler.handler(bad) for bad in (None, {}, event(model_uri="none"))]
    answers.append(handler.handler(event(model_uri=uri(MODEL_KEY, OTHER))))
    monkeypatch.setenv("ARTIFACTS_BUCKET", UNVERSIONED)
    answers.append(
        handler.handler(
            event(model_uri=uri(MODEL_KEY, UNVERSIONED), baseline_uri="none",
                  evaluation_uri=uri(EVALUATION_KEY, UNVERSIONED))
        )
    )  # fmt: skip
    monkeypatch.delenv("ARTIFACTS_BUCKET")
    answers.append(handler.handler(event()))

    assert [answer["status"] for answer in answers] == ["ok", "ok", *["error"] * 6]
    for answer in answers:
        assert_flat(answer)
        if answer["status"] == "ok":
            assert_metadata_values(answer)
            assert answer["error"] == "none"
            for key in ("model_sha256", "baseline_sha256", "evaluation_sha256"):
                assert platform_fingerprint.SHA256_HEX.fullmatch(answer[key]) or (
                    key == "baseline_sha256" and answer[key] == "none"
                )
        else:
            assert answer["error"]


# -- the metadata pattern ------------------------------------------------------------------------


def test_the_metadata_pattern_is_sagemakers_on_every_code_point():
    """[^\\W_] plus the listed separators is exactly \\p{L}\\p{Z}\\p{N} (and _.:/=+-@)."""
    pattern = platform_fingerprint.METADATA_VALUE
    wrong = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if bool(pattern.fullmatch(chr(code)))
        != (unicodedata.category(chr(code))[0] in "LZN" or chr(code) in "_.:/=+-@")
    ]
    assert wrong == []


def test_the_metadata_pattern_agrees_with_the_regex_module():
    """A cross-check with \\p{...} itself, where the third-party ``regex`` module is installed."""
    regex = pytest.importorskip("regex")
    documented = regex.compile(SAGEMAKER_PATTERN)
    samples = [
        "none",
        "0f3f9a91-72a6-475a-858e-e40bce6f2364",
        "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo",
        "a b\u00a0c\u3000d",
        "x" * 256,
        "x" * 257,
        "",
        "a#b",
        "a\tb",
        "a\nb",
        "caf\u00e9 \u0661\u0662",
        "_.:/=+-@",
        "a,b",
        "a*b",
    ]
    for sample in samples:
        assert bool(documented.match(sample)) == platform_fingerprint.is_metadata_value(sample)
