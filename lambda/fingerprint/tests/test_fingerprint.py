"""fingerprint handler against moto: a real versioned bucket, real SHA-256 of known content.

The only stubs (botocore's ``Stubber`` on the handler's own S3 client) are what moto never
produces: HeadObject answering the VersionId ``null`` (real S3 does for an object written while
versioning was suspended; moto then answers no VersionId at all), a version id SageMaker
metadata cannot hold, GetObject serving another version or fewer bytes than HeadObject said, and
a throttling error.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import unicodedata
from typing import Any

import fingerprint_handler as handler
import platform_fingerprint
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

# the same values as conftest.py (not imported from it: every Lambda folder has a conftest.py)
ACCOUNT = "123456789012"
PROJECT = "mlops-dev-churn"
ARTIFACTS = f"{PROJECT}-artifacts-{ACCOUNT}"
UNVERSIONED = f"{PROJECT}-scratch-{ACCOUNT}"
OTHER = f"other-team-artifacts-{ACCOUNT}"
EXECUTION_ID = "k1ls9tc3wnw6"
RUN = f"pipelines/{EXECUTION_ID}"
MODEL_KEY = f"models/pipelines-{EXECUTION_ID}-Train-Ab12Cd34Ef/output/model.tar.gz"
BASELINE_KEY = f"{RUN}/baselines/monitoring/statistics.json"
EVALUATION_KEY = f"{RUN}/evaluation/evaluation.json"

MODEL = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes: two chunks of the default size
BASELINE = json.dumps({"features": [{"name": "tenure_months", "mean": 31.2}]}).encode()
EVALUATION = json.dumps({"binary_classification_metrics": {"auc": {"value": 0.87}}}).encode()

# SageMaker's pattern for a customer metadata value, as the API documents it (Java syntax).
SAGEMAKER_PATTERN = r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$"


# -- helpers -------------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def uri(key: str, bucket: str = ARTIFACTS) -> str:
    return f"s3://{bucket}/{key}"


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


def test_fingerprints_are_the_sha256_of_the_current_versions(aws, sent, capsys):
    versions = upload(aws)

    result = handler.handler(event())

    assert result == {
        "status": "ok",
        "error": "none",
        "model_sha256": sha256(MODEL),
        "model_version": versions["model"],
        "baseline_sha256": sha256(BASELINE),
        "baseline_version": versions["baseline"],
        "evaluation_sha256": sha256(EVALUATION),
        "evaluation_version": versions["evaluation"],
    }
    assert_flat(result)
    assert_metadata_values(result)
    # HeadObject for the current version, then GetObject of exactly that version
    assert sent == [
        (op, {"Bucket": ARTIFACTS, "Key": key, **({"VersionId": versions[name]} if get else {})})
        for name, key in (
            ("model", MODEL_KEY),
            ("baseline", BASELINE_KEY),
            ("evaluation", EVALUATION_KEY),
        )
        for op, get in (("HeadObject", False), ("GetObject", True))
    ]
    [line] = log_lines(capsys)
    assert (line["level"], line["message"], line["status"]) == ("INFO", "fingerprinted", "ok")
    assert line["execution_id"] == EXECUTION_ID
    assert line["artifacts_bucket"] == ARTIFACTS
    assert line["model_uri"] == uri(MODEL_KEY)
    assert (line["model_sha256"], line["model_version"]) == (sha256(MODEL), versions["model"])
    assert (line["model_bytes"], line["baseline_bytes"]) == (len(MODEL), len(BASELINE))


def test_empty_file_has_the_sha256_of_nothing(aws):
    upload(aws)
    aws.put(EVALUATION_KEY, b"")
    result = handler.handler(event())
    assert result["evaluation_sha256"] == sha256(b"")
    assert result["evaluation_sha256"] == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_the_newest_version_is_the_one_fingerprinted(aws):
    upload(aws)
    newer = aws.put(MODEL_KEY, b"retrained model")
    result = handler.handler(event())
    assert (result["model_version"], result["model_sha256"]) == (
        newer,
        sha256(b"retrained model"),
    )


def test_an_overwrite_after_head_object_is_not_hashed(aws, sent):
    """The version HeadObject answered is the one read and recorded, even if the key is
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
    assert (result["model_version"], result["model_sha256"]) == (versions["model"], sha256(MODEL))
    assert sent[1] == (
        "GetObject",
        {"Bucket": ARTIFACTS, "Key": MODEL_KEY, "VersionId": versions["model"]},
    )
    # the next run sees the new version, with its own hash
    again = handler.handler(event())
    assert (again["model_version"], again["model_sha256"]) == (swapped[0], sha256(b"swapped model"))


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

    assert (result["status"], result["baseline_sha256"], result["baseline_version"]) == (
        "ok",
        "none",
        "none",
    )
    assert (result["model_version"], result["evaluation_version"]) == (
        versions["model"],
        versions["evaluation"],
    )
    assert_flat(result)
    assert_metadata_values(result)
    assert [params["Key"] for _, params in sent] == [MODEL_KEY] * 2 + [EVALUATION_KEY] * 2


def test_replayed_event_gives_the_same_answer(aws):
    upload(aws)
    assert handler.handler(event()) == handler.handler(event())


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


def test_a_version_id_with_every_allowed_kind_of_character_is_recorded(aws):
    version = "Ab9_.:/=+-@ \u00e9\u0661"  # letters, digits, the symbols, a space, é, Arabic 1
    with Stubber(handler._client("s3")) as stub:
        for key, body in ((MODEL_KEY, b"m"), (EVALUATION_KEY, b"e")):
            stub.add_response("head_object", {"VersionId": version, "ContentLength": 1})
            stub.add_response(
                "get_object",
                {"VersionId": version, "Body": StreamingBody(io.BytesIO(body), 1)},
                {"Bucket": ARTIFACTS, "Key": key, "VersionId": version},
            )
        result = handler.handler(event(baseline_uri="none"))
        stub.assert_no_pending_responses()
    assert (result["status"], result["model_version"], result["model_sha256"]) == (
        "ok",
        version,
        sha256(b"m"),
    )
    assert_metadata_values(result)


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
    ("value", "message"),
    [
        (None, "ARTIFACTS_BUCKET is not set"),
        ("", "ARTIFACTS_BUCKET is not set"),
        ("Artifacts_Bucket", "ARTIFACTS_BUCKET='Artifacts_Bucket' is not an S3 bucket name"),
        (f"s3://{ARTIFACTS}", f"ARTIFACTS_BUCKET='s3://{ARTIFACTS}' is not an S3 bucket name"),
    ],
)
def test_bad_configuration_is_answered(aws, sent, monkeypatch, capsys, value, message):
    upload(aws)
    if value is None:
        monkeypatch.delenv("ARTIFACTS_BUCKET")
    else:
        monkeypatch.setenv("ARTIFACTS_BUCKET", value)

    result = handler.handler(event())

    assert result["status"] == "error"
    assert result["error"].startswith("configuration error: ")
    assert message in result["error"]
    assert_flat(result)
    assert sent == []
    [line] = log_lines(capsys)
    assert (line["level"], line["message"]) == ("ERROR", "configuration error")


def test_a_bad_event_under_a_bad_configuration_names_the_configuration(aws, monkeypatch):
    monkeypatch.delenv("ARTIFACTS_BUCKET")
    assert handler.handler(None)["error"].startswith("configuration error: ")


def _import_in_a_fresh_process(env: dict[str, str]) -> str:
    """Runs handler.py's module code in a new interpreter (a cold start); returns its stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({handler.__file__!r})"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


def test_bad_configuration_is_logged_at_cold_start():
    env = {k: v for k, v in os.environ.items() if k != "ARTIFACTS_BUCKET"}
    env["AWS_LAMBDA_FUNCTION_NAME"] = f"{PROJECT}-fingerprint"
    lines = [json.loads(line) for line in _import_in_a_fresh_process(env).splitlines()]
    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert "cold start" in lines[0]["message"]
    assert "ARTIFACTS_BUCKET is not set" in lines[0]["error"]


def test_module_imports_quietly_with_a_good_configuration():
    env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME=f"{PROJECT}-fingerprint")
    assert _import_in_a_fresh_process(env) == ""


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
    assert line["baseline_uri"] == uri(BASELINE_KEY)
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
