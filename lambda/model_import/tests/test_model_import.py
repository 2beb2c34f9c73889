"""model_import handler against moto: real uploads of real archives (tarfile + gzip, built
here), real manifests, a real code-version parameter and a real (moto) import pipeline.

The only stubs (botocore's ``Stubber`` on the handler's own client) are what moto never
produces: access denied and throttling. moto starts an execution per StartPipelineExecution
and does not deduplicate ClientRequestToken as SageMaker does, so a replay is shown by the
token it sends: the same upload, the same token.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import random
import re
import tarfile
from collections.abc import Sequence
from typing import Any

import model_import_handler as handler
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from lambda_testing import cold_start

# the same values as conftest.py (not imported from it: every Lambda folder has a conftest.py)
ACCOUNT = "123456789012"
REGION = "us-east-1"
PREFIX = "mlops-dev-demand"
PROJECT = "demand"
ARTIFACTS = f"{PREFIX}-artifacts-{ACCOUNT}"
OTHER = f"other-team-artifacts-{ACCOUNT}"
PIPELINE = f"{PREFIX}-import"
CODE_PARAMETER = f"/{PREFIX}/ml/code-version"
CODE_VERSION = "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{PREFIX}-serving:1.4.0"
MAX_BYTES = 8 * 1024 * 1024
NAME = "churn-v7"
FOLDER = f"imports/{NAME}"
MANIFEST_KEY = f"{FOLDER}/import.json"
MANIFEST_URI = f"s3://{ARTIFACTS}/{MANIFEST_KEY}"
MODEL_KEY = f"{FOLDER}/model.tar.gz"
MODEL_URI = f"s3://{ARTIFACTS}/{MODEL_KEY}"
EXECUTION_ID = "k1ls9tc3wnw6"
ANSWER_KEYS = (
    "status",
    "reason",
    "model_uri",
    "artifact_sha256",
    "artifact_bytes",
    "serving",
    "description",
)
SKLEARN = {"framework": "sklearn", "framework_version": "1.2-1"}


# -- archives ------------------------------------------------------------------------------------


def regular(name: str, data: bytes = b"", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def folder(name: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info, b""


def special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, b""


def tar_body(members: Sequence[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    """The members' headers and data, WITHOUT the end-of-archive marker."""
    out = bytearray()
    for info, data in members:
        out += info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        out += data + b"\0" * (-len(data) % 512)
    return bytes(out)


def tar_bytes(members: Sequence[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    """A complete tar archive as tarfile writes one (end marker, record padding)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def noise(size: int, seed: int = 7) -> bytes:
    """Incompressible bytes: the archive is as large as its content."""
    return random.Random(seed).randbytes(size)


WEIGHTS = noise(3 * 1024 * 1024 + 123)  # over three 1 MiB chunks of the archive
MODEL_MEMBERS = [
    folder("."),
    regular("./model.joblib", WEIGHTS),
    folder("./preprocessing"),
    regular("./preprocessing/encoder.json", b'{"classes": ["a", "b"]}'),
    folder("./code"),
    regular("./code/inference.py", b"def model_fn(model_dir): ...\n"),
]
MODEL = gz(tar_bytes(MODEL_MEMBERS))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- events --------------------------------------------------------------------------------------


def s3_event(
    key: str = MANIFEST_KEY,
    bucket: str = ARTIFACTS,
    detail_type: str = "Object Created",
    event_id: str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    **object_fields: Any,
) -> dict[str, Any]:
    """An EventBridge "Object Created" event of S3, as S3 sends it."""
    obj: dict[str, Any] = {
        "key": key,
        "size": 160,
        "etag": "b1946ac92492d2347c6235b4d2611184",
        "version-id": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH",
        "sequencer": "00617F08299329D189",
    }
    obj.update(object_fields)
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": "2026-12-06T10:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {key: value for key, value in obj.items() if value is not None},
            "request-id": "57H08PA84AB1JZW0",
            "requester": ACCOUNT,
            "source-ip-address": "10.0.0.1",
            "reason": "PutObject",
        },
    }


def check_event(**overrides: Any) -> dict[str, Any]:
    """The CheckImport step's payload."""
    base: dict[str, Any] = {
        "manifest_uri": MANIFEST_URI,
        "code_version": CODE_VERSION,
        "execution_id": EXECUTION_ID,
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def manifest(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"format": 1, "model": "model.tar.gz", **SKLEARN}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def upload(aws: Any, the_manifest: Any = None, model: bytes | None = MODEL) -> None:
    """The model, then its manifest (a dict as JSON, bytes as they are)."""
    if model is not None:
        aws.put(MODEL_KEY, model)
    body = manifest() if the_manifest is None else the_manifest
    aws.put(MANIFEST_KEY, body if isinstance(body, bytes) else json.dumps(body).encode())


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def assert_answer_shape(answer: dict[str, str]) -> None:
    assert tuple(answer) == ANSWER_KEYS
    assert all(isinstance(value, str) and value for value in answer.values())


def rejected(answer: dict[str, str]) -> str:
    """The reason of a rejection (the answer's shape checked)."""
    assert_answer_shape(answer)
    assert answer["status"] == "rejected", answer
    assert answer["model_uri"] == "none"
    assert answer["artifact_sha256"] == "none"
    assert answer["reason"] not in ("", "none")
    return answer["reason"]


# ================================================================================================
# Entry 1: the start


def test_a_manifest_upload_starts_the_import_pipeline(aws, sent, capsys):
    result = handler.handler(s3_event(), None)

    assert result["status"] == "started"
    arn = result["execution_arn"]
    assert [execution["PipelineExecutionArn"] for execution in aws.executions()] == [arn]
    assert aws.parameters(arn) == {
        "ImportManifestUrl": MANIFEST_URI,
        "CodeVersion": CODE_VERSION,
        "TriggerReason": f"import {NAME}",
    }
    described = aws.execution(arn)
    assert described["PipelineExecutionDisplayName"] == f"import-{NAME}"
    assert NAME in described["PipelineExecutionDescription"]
    assert MANIFEST_URI in described["PipelineExecutionDescription"]
    operations = [operation for operation, _ in sent]
    assert operations == ["GetParameter", "StartPipelineExecution"]
    request = sent[1][1]
    assert request["PipelineName"] == PIPELINE
    assert 32 <= len(request["ClientRequestToken"]) <= 128
    [line] = log_lines(capsys)
    assert line["level"] == "INFO"
    assert line["status"] == "started"
    assert line["execution_arn"] == arn
    assert line["import_name"] == NAME
    assert line["entry"] == "start"


def _tokens(sent: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [params["ClientRequestToken"] for op, params in sent if op == "StartPipelineExecution"]


def test_a_replayed_event_sends_the_same_token(aws, sent):
    handler.handler(s3_event(), None)
    handler.handler(s3_event(), None)  # EventBridge's retry: the same event
    handler.handler(s3_event(event_id="another-delivery"), None)  # another rule's delivery

    tokens = _tokens(sent)
    assert len(tokens) == 3
    assert len(set(tokens)) == 1  # SageMaker starts one execution for them


def test_a_new_upload_of_the_manifest_sends_a_new_token(aws, sent):
    handler.handler(s3_event(), None)
    handler.handler(s3_event(**{"version-id": "second-version"}), None)

    first, second = _tokens(sent)
    assert first != second


@pytest.mark.parametrize(
    ("absent", "field"),
    [
        (("version-id",), "sequencer"),
        (("version-id", "sequencer"), "etag"),
    ],
)
def test_the_token_falls_back_to_sequencer_then_etag(aws, sent, absent, field):
    fields = dict.fromkeys(absent)
    handler.handler(s3_event(**fields), None)
    changed = {**fields, field: "changed"}
    handler.handler(s3_event(**changed), None)
    handler.handler(s3_event(**changed), None)

    first, second, third = _tokens(sent)
    assert first != second == third


def test_an_unpublished_code_version_is_passed_on(aws):
    aws.set_code_version("unpublished")

    result = handler.handler(s3_event(), None)

    assert result["status"] == "started"
    assert aws.parameters(result["execution_arn"])["CodeVersion"] == "unpublished"


def test_a_blank_code_version_is_passed_on_as_unpublished(aws):
    aws.set_code_version("  ")

    result = handler.handler(s3_event(), None)

    assert aws.parameters(result["execution_arn"])["CodeVersion"] == "unpublished"


def test_the_display_name_is_valid_for_every_import_name():
    pattern = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}"
    for name in ("a", "a-", "a--b", "x" * 63, "9" + "-" * 62):
        shown = handler.display_name(name)
        assert re.fullmatch(pattern, shown), shown
        assert shown.startswith("import-")


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (s3_event(detail_type="Object Deleted"), "is not an upload"),
        (s3_event(bucket=OTHER), "is not the artifacts bucket"),
        (s3_event(key=MODEL_KEY), "is not an import manifest"),
        (s3_event(key=f"other/{NAME}/import.json"), "is not an import manifest"),
        (s3_event(key="imports/import.json"), "is not an import manifest"),
        (s3_event(key="imports/Churn_V7/import.json"), "is not an import manifest"),
        (s3_event(key=f"imports/a/{NAME}/import.json"), "is not an import manifest"),
        (s3_event(key=f"imports/{'x' * 64}/import.json"), "is not an import manifest"),
        (s3_event(key=f"{FOLDER}/import.json.bak"), "is not an import manifest"),
    ],
    ids=[
        "deleted",
        "other-bucket",
        "model-file",
        "other-prefix",
        "no-name",
        "upper-case-name",
        "nested",
        "long-name",
        "other-suffix",
    ],
)
def test_other_objects_are_ignored(aws, sent, capsys, event, why):
    result = handler.handler(event, None)

    assert result["status"] == "ignored"
    assert why in result["reason"]
    assert sent == []
    [line] = log_lines(capsys)
    assert line["level"] == "INFO"
    assert line["status"] == "ignored"


def _without(path: Sequence[str]) -> dict[str, Any]:
    event = s3_event()
    container: Any = event
    for key in path[:-1]:
        container = container[key]
    del container[path[-1]]
    return event


def _with(path: Sequence[str], value: Any) -> dict[str, Any]:
    event = s3_event()
    container: Any = event
    for key in path[:-1]:
        container = container[key]
    container[path[-1]] = value
    return event


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (None, "the event must be a JSON object, got null"),
        ([], "the event must be a JSON object, got array"),
        ({}, "source is missing"),
        (_with(["source"], "aws.glue"), "source 'aws.glue' is not accepted"),
        (_with(["source"], 7), "source must be a string"),
        (_without(["detail-type"]), "detail-type is missing"),
        (_without(["detail"]), "detail is missing"),
        (_with(["detail", "bucket"], "x"), "detail.bucket must be an object"),
        (_without(["detail", "bucket", "name"]), "detail.bucket.name is missing"),
        (_without(["detail", "object"]), "detail.object is missing"),
        (_with(["detail", "object", "key"], 3), "detail.object.key must be a string"),
        (_with(["detail", "object", "version-id"], 3), "detail.object.version-id must be"),
        (_with(["detail", "object", "version-id"], " "), "detail.object.version-id must be"),
        (
            s3_event(**{"version-id": None, "sequencer": None, "etag": None}),
            "detail.object has no version-id, no sequencer, no etag",
        ),
    ],
    ids=[
        "null",
        "array",
        "empty",
        "other-source",
        "source-number",
        "no-detail-type",
        "no-detail",
        "bucket-string",
        "no-bucket-name",
        "no-object",
        "key-number",
        "version-number",
        "version-blank",
        "no-upload-id",
    ],
)
def test_malformed_events_are_rejected_without_raising(aws, sent, capsys, event, error):
    result = handler.handler(copy.deepcopy(event), None)

    assert result["status"] == "rejected"
    assert error in result["reason"]
    assert sent == []
    [line] = log_lines(capsys)
    assert line["level"] == "ERROR"


def test_a_missing_code_version_parameter_raises_for_a_retry(aws, capsys):
    aws.ssm.delete_parameter(Name=CODE_PARAMETER)

    with pytest.raises(ClientError) as raised:
        handler.handler(s3_event(), None)

    assert raised.value.response["Error"]["Code"] == "ParameterNotFound"
    assert aws.executions() == []
    [line] = log_lines(capsys)
    assert line["level"] == "ERROR"
    assert line["error_code"] == "ParameterNotFound"
    assert line["operation"] == "GetParameter"


def test_a_failed_start_raises_for_a_retry(aws, capsys):
    stubber = Stubber(handler._client("sagemaker"))
    stubber.add_client_error("start_pipeline_execution", service_error_code="ThrottlingException")
    with stubber, pytest.raises(ClientError):
        handler.handler(s3_event(), None)

    line = log_lines(capsys)[-1]
    assert line["error_code"] == "ThrottlingException"
    assert line["operation"] == "StartPipelineExecution"


def test_a_start_without_configuration_fails_clearly(aws, sent, monkeypatch):
    monkeypatch.delenv("PIPELINE_NAME")

    result = handler.handler(s3_event(), None)

    assert result["status"] == "failed"
    assert "PIPELINE_NAME is not set" in result["reason"]
    assert sent == []


# ================================================================================================
# Configuration


@pytest.mark.parametrize(
    ("changes", "problems"),
    [
        ({"PIPELINE_NAME": None}, ["PIPELINE_NAME is not set"]),
        ({"PIPELINE_NAME": "bad name"}, ["is not a SageMaker pipeline name"]),
        ({"ARTIFACTS_BUCKET": None}, ["ARTIFACTS_BUCKET is not set"]),
        ({"ARTIFACTS_BUCKET": "s3://x"}, ["is not an S3 bucket name"]),
        ({"IMPORTS_PREFIX": "imports"}, ["IMPORTS_PREFIX='imports' is not a key prefix"]),
        ({"CODE_VERSION_PARAMETER": None}, ["CODE_VERSION_PARAMETER is not set"]),
        ({"CODE_VERSION_PARAMETER": "no spaces!"}, ["is not an SSM parameter name"]),
        ({"PROJECT": None}, ["PROJECT is not set"]),
        ({"PROJECT": "Demand"}, ["PROJECT='Demand' is not a project name"]),
        ({"EXPECTED_IMAGE": IMAGE}, ["are both set"]),
        (
            {"EXPECTED_FRAMEWORK": None, "EXPECTED_FRAMEWORK_VERSION": None},
            ["neither EXPECTED_FRAMEWORK and EXPECTED_FRAMEWORK_VERSION nor EXPECTED_IMAGE"],
        ),
        ({"EXPECTED_FRAMEWORK_VERSION": None}, ["EXPECTED_FRAMEWORK_VERSION is not set"]),
        ({"EXPECTED_FRAMEWORK": None}, ["EXPECTED_FRAMEWORK is not set"]),
        ({"EXPECTED_FRAMEWORK": "scikit learn"}, ["is not a framework name"]),
        ({"MAX_ARTIFACT_BYTES": None}, ["MAX_ARTIFACT_BYTES is not set"]),
        ({"MAX_ARTIFACT_BYTES": "0"}, ["MAX_ARTIFACT_BYTES='0' is not an integer"]),
        ({"MAX_ARTIFACT_BYTES": "1e9"}, ["MAX_ARTIFACT_BYTES='1e9' is not an integer"]),
        (
            {"PIPELINE_NAME": None, "PROJECT": None, "MAX_ARTIFACT_BYTES": "x"},
            ["PIPELINE_NAME is not set", "PROJECT is not set", "MAX_ARTIFACT_BYTES='x'"],
        ),
    ],
)
def test_every_configuration_problem_is_named(changes, problems):
    env = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value

    with pytest.raises(handler.ConfigError) as raised:
        handler.load_config(env)

    for problem in problems:
        assert problem in str(raised.value)


def test_a_framework_project_serves_its_framework_and_version():
    config = handler.load_config(os.environ)
    assert config.serving == "sklearn 1.2-1"
    assert config.expected_image is None
    assert config.imports_prefix == "imports/"
    assert config.max_artifact_bytes == MAX_BYTES


def test_an_own_image_project_serves_its_image(own_image):
    config = handler.load_config(os.environ)
    assert config.serving == IMAGE
    assert config.expected_framework is None


def test_the_imports_prefix_defaults_to_imports(monkeypatch):
    monkeypatch.delenv("IMPORTS_PREFIX")
    assert handler.load_config(os.environ).imports_prefix == "imports/"


def test_a_bad_configuration_is_logged_at_cold_start():
    env = {k: v for k, v in os.environ.items() if k not in ("PIPELINE_NAME", "PROJECT")}
    out = cold_start(handler.__file__, {**env, "AWS_LAMBDA_FUNCTION_NAME": "mlops-dev-x"})

    [line] = [json.loads(line) for line in out.splitlines()]
    assert line["level"] == "ERROR"
    assert "cold start" in line["message"]
    assert "PIPELINE_NAME is not set" in line["error"]
    assert "PROJECT is not set" in line["error"]


def test_a_good_configuration_logs_nothing_at_cold_start():
    env = {**os.environ, "AWS_LAMBDA_FUNCTION_NAME": "mlops-dev-demand-model-import"}
    assert cold_start(handler.__file__, env) == ""


def test_the_module_imports_without_any_setting():
    env = {k: v for k, v in os.environ.items() if k not in handler_settings()}
    env.pop("AWS_DEFAULT_REGION", None)
    assert cold_start(handler.__file__, env) == ""


def handler_settings() -> tuple[str, ...]:
    return (
        "PIPELINE_NAME",
        "ARTIFACTS_BUCKET",
        "IMPORTS_PREFIX",
        "CODE_VERSION_PARAMETER",
        "PROJECT",
        "EXPECTED_FRAMEWORK",
        "EXPECTED_FRAMEWORK_VERSION",
        "EXPECTED_IMAGE",
        "MAX_ARTIFACT_BYTES",
        "AWS_LAMBDA_FUNCTION_NAME",
    )


def test_a_check_without_configuration_is_rejected_with_every_key(aws, sent, monkeypatch):
    monkeypatch.delenv("MAX_ARTIFACT_BYTES")

    reason = rejected(handler.handler(check_event(), None))

    assert "the import function is misconfigured" in reason
    assert "MAX_ARTIFACT_BYTES is not set" in reason
    assert sent == []


# ================================================================================================
# Entry 2: the check, accepted


def test_an_import_of_a_framework_project_is_accepted(aws, sent, capsys):
    upload(aws, manifest(description="gradient boosting, 2025 data", trained_by="ana"))

    answer = handler.handler(check_event(), None)

    assert_answer_shape(answer)
    assert answer == {
        "status": "ok",
        "reason": "none",
        "model_uri": MODEL_URI,
        "artifact_sha256": sha256(MODEL),
        "artifact_bytes": str(len(MODEL)),
        "serving": "sklearn 1.2-1",
        "description": "gradient boosting, 2025 data (trained by ana)",
    }
    assert len(MODEL) > 3 * 1024 * 1024  # streamed in several chunks
    [line] = log_lines(capsys)
    assert line["level"] == "INFO"
    assert line["message"] == "import checked"
    assert line["entry"] == "check"
    assert line["execution_id"] == EXECUTION_ID
    assert line["import_name"] == NAME
    assert line["artifact_sha256"] == sha256(MODEL)
    assert line["members"] == len(MODEL_MEMBERS)
    assert line["model_files"] == 2
    assert line["code_members"] == 2
    operations = [operation for operation, _ in sent]
    assert operations == ["GetObject", "GetObject", "ListObjectsV2"]


def test_an_import_of_an_own_image_project_is_accepted(aws, own_image):
    upload(aws, manifest(framework=None, framework_version=None, image=IMAGE))

    answer = handler.handler(check_event(), None)

    assert_answer_shape(answer)
    assert answer["status"] == "ok"
    assert answer["artifact_sha256"] == sha256(MODEL)
    assert answer["serving"] == IMAGE
    assert answer["description"] == f"model {NAME} imported into {PROJECT}"


@pytest.mark.parametrize("chunk_size", [1, 511, 512, 4096, 65_537])
def test_the_hash_is_the_same_whatever_the_chunk_size(aws, monkeypatch, chunk_size):
    small = gz(tar_bytes([regular("model.json", noise(20_000, seed=chunk_size))]))
    upload(aws, model=small)
    monkeypatch.setattr(handler, "CHUNK_SIZE", chunk_size)

    answer = handler.handler(check_event(), None)

    assert answer["status"] == "ok", answer["reason"]
    assert answer["artifact_sha256"] == sha256(small)
    assert answer["artifact_bytes"] == str(len(small))


def test_an_archive_of_files_without_folder_entries_is_accepted(aws):
    upload(aws, model=gz(tar_bytes([regular("model.json", b"{}"), regular("a/b/c.bin", b"1")])))
    assert handler.handler(check_event(), None)["status"] == "ok"


def test_an_archive_padded_by_gzip_with_zeros_and_several_members_is_accepted(aws):
    """gzip's own rules: several members concatenated, zero padding after the last one."""
    data = tar_bytes([regular("model.json", b"{}")])
    archive = gz(data[:512]) + gz(data[512:]) + b"\0" * 100
    upload(aws, model=archive)

    answer = handler.handler(check_event(), None)

    assert answer["status"] == "ok", answer["reason"]
    assert answer["artifact_sha256"] == sha256(archive)


def test_a_replayed_check_gives_the_same_answer(aws):
    upload(aws)
    assert handler.handler(check_event(), None) == handler.handler(check_event(), None)


def test_free_text_is_made_one_line(aws):
    upload(aws, manifest(description="line one\n\tline  two", trained_by="team\nx"))
    answer = handler.handler(check_event(), None)
    assert answer["description"] == "line one line two (trained by team x)"


# ================================================================================================
# Entry 2: the check, rejected


def test_an_unpublished_code_version_is_rejected(aws, sent, capsys):
    upload(aws)

    reason = rejected(handler.handler(check_event(code_version="unpublished"), None))

    assert reason == (
        f"project {PROJECT} has no published code version (CodeVersion is unpublished), and "
        "only its published code serves an imported model: publish the project's code first: "
        f"mlops publish {PROJECT}"
    )
    assert sent == []
    [line] = log_lines(capsys)
    assert line["level"] == "WARNING"
    assert line["status"] == "rejected"
    assert line["reason"] == reason


def test_an_empty_code_version_is_rejected(aws):
    reason = rejected(handler.handler(check_event(code_version=""), None))
    assert "CodeVersion is empty" in reason
    assert f"mlops publish {PROJECT}" in reason


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("imports/churn-v7/import.json", "is not an s3://bucket/key URI"),
        (f"s3://{OTHER}/{MANIFEST_KEY}", f"is not in the artifacts bucket of project {PROJECT}"),
        (f"s3://{ARTIFACTS}/models/{NAME}/import.json", "is not an import manifest"),
        (f"s3://{ARTIFACTS}/imports/{NAME}/other.json", "is not an import manifest"),
        (f"s3://{ARTIFACTS}/imports/a/{NAME}/import.json", "is not an import manifest"),
        (f"s3://{ARTIFACTS}/imports/UPPER/import.json", "is not an import manifest"),
    ],
    ids=["not-s3", "foreign-bucket", "outside-prefix", "other-file", "nested", "bad-name"],
)
def test_a_manifest_elsewhere_is_rejected(aws, sent, uri, expected):
    upload(aws)
    aws.put(MANIFEST_KEY, json.dumps(manifest()).encode(), bucket=OTHER)

    reason = rejected(handler.handler(check_event(manifest_uri=uri), None))

    assert expected in reason
    assert f"s3://{ARTIFACTS}/imports/<name>/import.json" in reason
    assert sent == []


def test_a_missing_manifest_is_rejected(aws):
    aws.put(MODEL_KEY, MODEL)

    reason = rejected(handler.handler(check_event(), None))

    assert reason == (
        f"the manifest {MANIFEST_URI} does not exist: upload the model, then import.json, to "
        f"s3://{ARTIFACTS}/{FOLDER}/"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"format": 1,', "is not JSON (Expecting property name enclosed in double quotes"),
        (b"", "is not JSON (Expecting value at line 1 column 1)"),
        (b'\xff{"format": 1}', "is not UTF-8 text (byte 0)"),
        (b"[1, 2]", "is a JSON array, not an object"),
        (b'"model.tar.gz"', "is a JSON string, not an object"),
        (json.dumps(manifest(description="x" * 70_000)).encode(), "more than 65536"),
        (b"[" * 100_000 + b"]" * 100_000, "more than 65536"),
        (b'{"format": 1, "format": 1}', "has the key 'format' twice"),
    ],
    ids=["truncated", "empty", "not-utf8", "array", "string", "too-big", "deep", "duplicate"],
)
def test_an_unreadable_manifest_is_rejected(aws, sent, body, expected):
    upload(aws, body)

    reason = rejected(handler.handler(check_event(), None))

    assert expected in reason
    assert "import.json" in reason
    assert [operation for operation, _ in sent] == ["GetObject"]


def test_a_deeply_nested_manifest_under_the_size_limit_is_rejected(aws):
    upload(aws, b"[" * 30_000 + b"]" * 30_000)
    reason = rejected(handler.handler(check_event(), None))
    assert "nests too deeply: write import.json as one flat JSON object" in reason


@pytest.mark.parametrize(
    ("the_manifest", "expected"),
    [
        (manifest(format=None), 'the manifest has no format: add "format": 1'),
        (manifest(format=2), "the manifest's format 2 is not supported"),
        (manifest(format="1"), "the manifest's format '1' is not supported"),
        (manifest(format=True), "the manifest's format True is not supported"),
        (manifest(format=1.0), "the manifest's format 1.0 is not supported"),
        (
            manifest(modell="x", owner="y"),
            "the manifest has unknown keys 'modell', 'owner': remove them",
        ),
        (manifest(model=None), "the manifest names no model"),
        (manifest(model="../other/model.tar.gz"), "is not a file name next to import.json"),
        (manifest(model="sub/model.tar.gz"), "is not a file name next to import.json"),
        (manifest(model=".."), "is not a file name next to import.json"),
        (manifest(model="."), "is not a file name next to import.json"),
        (manifest(model="import.json"), "is not a file name next to import.json"),
        (manifest(model=""), "is not a file name next to import.json"),
        (manifest(model="m" * 256), "is not a file name next to import.json"),
        (manifest(model="model\n.tar.gz"), "is not a file name next to import.json"),
        (manifest(model=7), "is not a file name next to import.json"),
        (manifest(image=IMAGE), "declares both image and framework/framework_version"),
        (
            manifest(framework=None, image=IMAGE),
            "declares both image and framework/framework_version",
        ),
        (
            manifest(framework=None, framework_version=None),
            "declares neither framework and framework_version nor image",
        ),
        (
            manifest(framework_version=None),
            'declares framework but not framework_version: add it, e.g. {"framework_version"',
        ),
        (
            manifest(framework=None),
            'declares framework_version but not framework: add it, e.g. {"framework": ',
        ),
        (manifest(framework=""), "the manifest's framework '' is not a non-empty string"),
        (manifest(framework="scikit learn"), "is not a non-empty string of at most 64"),
        (manifest(framework_version=1.2), "the manifest's framework_version 1.2 is not"),
        (
            manifest(framework=None, framework_version=None, image=["x"]),
            "the manifest's image ['x'] is not",
        ),
        (manifest(description="d" * 1025), "the manifest's description has 1025 characters"),
        (manifest(trained_by="t" * 257), "the manifest's trained_by has 257 characters"),
        (manifest(trained_by=["ana"]), "the manifest's trained_by must be a string"),
        (manifest(description="bell\x07"), "holds the control character U+0007"),
    ],
    ids=[
        "no-format",
        "format-2",
        "format-string",
        "format-true",
        "format-float",
        "unknown-keys",
        "no-model",
        "model-outside",
        "model-in-subfolder",
        "model-dotdot",
        "model-dot",
        "model-manifest",
        "model-empty",
        "model-long",
        "model-control",
        "model-number",
        "both-forms",
        "both-forms-version-only",
        "neither-form",
        "no-version",
        "no-framework",
        "framework-empty",
        "framework-blank",
        "version-number",
        "image-list",
        "description-long",
        "trained-by-long",
        "trained-by-list",
        "description-control",
    ],
)
def test_an_invalid_manifest_is_rejected(aws, sent, the_manifest, expected):
    upload(aws, the_manifest)

    reason = rejected(handler.handler(check_event(), None))

    assert expected in reason
    assert [operation for operation, _ in sent] == ["GetObject"]  # the model is not read


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        (
            {"framework": "xgboost", "framework_version": "1.7-1"},
            f"the model is for xgboost 1.7-1; project {PROJECT} serves sklearn 1.2-1: import it "
            "into a project of that framework, or retrain it with the project's",
        ),
        (
            {"framework": "sklearn", "framework_version": "1.0-1"},
            f"the model is for sklearn 1.0-1; project {PROJECT} serves sklearn 1.2-1: retrain "
            "it with sklearn 1.2-1, or import it into a project on sklearn 1.0-1",
        ),
        (
            {"framework": None, "framework_version": None, "image": IMAGE},
            f"the model declares the serving image {IMAGE}; project {PROJECT} serves sklearn "
            "1.2-1: declare its framework and framework_version if it is a sklearn model, or "
            "import it into a project on its own image",
        ),
    ],
    ids=["wrong-framework", "wrong-version", "image-for-framework-project"],
)
def test_a_model_for_another_framework_is_rejected(aws, sent, declared, expected):
    upload(aws, manifest(**declared))

    answer = handler.handler(check_event(), None)

    assert rejected(answer) == expected
    assert answer["serving"] != "none"  # what the manifest declared
    assert [operation for operation, _ in sent] == ["GetObject"]


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        (
            {"image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{PREFIX}-serving:1.3.0"},
            f"the model is for the image {ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/"
            f"{PREFIX}-serving:1.3.0; project {PROJECT} serves the image {IMAGE}",
        ),
        (SKLEARN, f"the model is for sklearn 1.2-1; project {PROJECT} serves its own image"),
    ],
    ids=["wrong-image", "framework-for-image-project"],
)
def test_a_model_for_another_image_is_rejected(aws, own_image, declared, expected):
    upload(aws, manifest(**{"framework": None, "framework_version": None, **declared}))

    reason = rejected(handler.handler(check_event(), None))

    assert reason.startswith(expected)


def test_a_missing_model_is_rejected(aws):
    upload(aws, model=None)

    answer = handler.handler(check_event(), None)

    assert rejected(answer) == (
        f"the model file {MODEL_URI} does not exist: upload it next to import.json, then "
        "upload import.json again"
    )
    assert answer["artifact_bytes"] == "0"
    assert answer["serving"] == "sklearn 1.2-1"


def test_an_empty_model_is_rejected(aws):
    upload(aws, model=b"")
    reason = rejected(handler.handler(check_event(), None))
    assert reason == f"the model file {MODEL_URI} is empty: upload the model archive again"


def test_a_model_over_the_limit_is_rejected_without_reading_it(aws, sent, monkeypatch):
    monkeypatch.setenv("MAX_ARTIFACT_BYTES", str(len(MODEL) - 1))
    upload(aws)

    answer = handler.handler(check_event(), None)

    assert rejected(answer) == (
        f"the model file {MODEL_URI} is {len(MODEL)} bytes, more than project {PROJECT}'s "
        f"limit of {len(MODEL) - 1} bytes: make the model smaller, or raise the project's limit"
    )
    assert answer["artifact_bytes"] == str(len(MODEL))
    assert "ListObjectsV2" not in [operation for operation, _ in sent]


def test_another_object_under_the_model_key_is_rejected(aws):
    upload(aws)
    aws.put(f"{MODEL_KEY}.old", MODEL)

    reason = rejected(handler.handler(check_event(), None))

    assert reason.startswith(
        f"the object s3://{ARTIFACTS}/{MODEL_KEY}.old starts with the model file's key"
    )
    assert "the Package step would read it too" in reason


def _truncated_gzip() -> bytes:
    return MODEL[: len(MODEL) // 2]


def _bad_crc() -> bytes:
    data = bytearray(gz(tar_bytes([regular("model.json", b"{}")])))
    data[-8] ^= 0xFF  # the CRC-32 of the gzip trailer
    return bytes(data)


LINK = tarfile.SYMTYPE


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (b"PK\x03\x04" + b"zip" * 100, f"the model file {MODEL_URI} is not gzip-compressed"),
        (tar_bytes([regular("model.json", b"{}")]), "is not gzip-compressed"),
        (b"\x1f", "is not gzip-compressed"),
        (gz(b"hello, world\n" * 100), "is gzip-compressed but not a tar archive"),
        (gz(b""), "is gzip-compressed but not a tar archive (empty file)"),
        (_truncated_gzip(), f"the model archive {MODEL_URI} is cut short"),
        (MODEL[:20], "is cut short"),
        (
            gz(tar_body([regular("model.json", b"x" * 1000), regular("more.json", b"{}")])[:1200]),
            "is cut short (unexpected end of data)",
        ),
        (
            gz(tar_body([regular("model.json", b"{}")])),
            "is cut short: its tar stream ends without the end-of-archive marker",
        ),
        (
            gz(tar_body([regular("model.json", b"{}")]) + b"\0" * 512),
            "is cut short: its tar stream ends without the end-of-archive marker",
        ),
        (
            gz(tar_body([regular("model.json", b"{}")]) + noise(512) + b"\0" * 1024),
            "is damaged after its member 1 (an invalid tar header at byte 1024",
        ),
        (_bad_crc(), "is damaged (CRC check failed"),
        (MODEL + b"trailing garbage", "is damaged (Not a gzipped file"),
        (
            gz(tar_bytes([regular("/etc/cron.d/model", b"x"), regular("model.json", b"{}")])),
            "holds '/etc/cron.d/model', an absolute path: package it with paths relative",
        ),
        (
            gz(tar_bytes([regular("model.json", b"{}"), regular("../../evil.py", b"x")])),
            "holds '../../evil.py', a path leaving the archive's root with ..",
        ),
        (
            gz(tar_bytes([regular("model.json", b"{}"), regular("a/../../b", b"x")])),
            "holds 'a/../../b', a path leaving the archive's root with ..",
        ),
        (
            gz(tar_bytes([regular("model.json", b"{}"), special("m.bin", LINK, "/etc/shadow")])),
            "holds 'm.bin', a symbolic link: replace each link by the file it points to",
        ),
        (
            gz(tar_bytes([regular("model.json", b"{}"), special("h.bin", tarfile.LNKTYPE, "x")])),
            "holds 'h.bin', a hard link",
        ),
        (
            gz(tar_bytes([regular("model.json", b"{}"), special("dev", tarfile.CHRTYPE)])),
            "holds 'dev', a device",
        ),
        (
            gz(tar_bytes([regular("model.json", b"{}"), special("disk", tarfile.BLKTYPE)])),
            "holds 'disk', a device",
        ),
        (
            gz(tar_bytes([regular("model.json", b"{}"), special("pipe", tarfile.FIFOTYPE)])),
            "holds 'pipe', a named pipe",
        ),
        (
            gz(tar_bytes([folder("code"), regular("code/inference.py", b"x")])),
            "holds no model files (only the code/ folder): add the model's files at the",
        ),
        (
            gz(tar_bytes([folder("."), folder("./models")])),
            "holds no model files (no files at all)",
        ),
        (gz(b"\0" * 10240), "holds no model files (no files at all)"),
        (
            gz(tar_bytes([regular("model.json", b"{}"), regular("./model.json", b"{}")])),
            "holds 'model.json' twice",
        ),
        (
            gz(tar_bytes([regular("model.json", b"{}"), regular("code", b"x")])),
            "holds a file named code at its top level",
        ),
    ],
    ids=[
        "zip",
        "plain-tar",
        "one-byte",
        "gzip-not-tar",
        "gzip-empty",
        "truncated-gzip",
        "gzip-header-only",
        "truncated-member",
        "no-end-marker",
        "half-end-marker",
        "garbage-header",
        "bad-crc",
        "trailing-garbage",
        "absolute-member",
        "dotdot-member",
        "inner-dotdot-member",
        "symlink-member",
        "hardlink-member",
        "char-device",
        "block-device",
        "fifo",
        "only-code",
        "only-folders",
        "zero-blocks-only",
        "duplicate",
        "code-file",
    ],
)
def test_an_unusable_archive_is_rejected(aws, model, expected):
    upload(aws, model=model)

    answer = handler.handler(check_event(), None)

    reason = rejected(answer)
    assert expected in reason, reason
    assert answer["artifact_bytes"] == str(len(model))
    assert answer["serving"] == "sklearn 1.2-1"


def test_the_truncated_gzip_is_what_the_brief_calls_truncated(aws):
    """r|gz alone would take a cut archive whose cut falls after a member: gzip's own reader
    does not."""
    whole = gz(tar_bytes([regular("model.json", noise(100_000)), regular("b.json", b"{}")]))
    upload(aws, model=whole[:-8])  # only the gzip trailer (CRC, size) is missing
    assert "is cut short" in rejected(handler.handler(check_event(), None))


@pytest.mark.parametrize(
    ("name", "kind", "problem"),
    [
        ("model\0.bin", tarfile.REGTYPE, "a NUL character in its name"),
        ("/abs", tarfile.REGTYPE, "an absolute path"),
        ("..", tarfile.DIRTYPE, "a path leaving the archive's root with .."),
        ("a/../b", tarfile.REGTYPE, "a path leaving the archive's root with .."),
        ("l", tarfile.SYMTYPE, "a symbolic link"),
        ("l", tarfile.LNKTYPE, "a hard link"),
        ("c", tarfile.CHRTYPE, "a device"),
        ("b", tarfile.BLKTYPE, "a device"),
        ("f", tarfile.FIFOTYPE, "a named pipe"),
        ("x", tarfile.CONTTYPE, None),  # a contiguous file is a regular file
        ("x", b"V", "a member of tar type b'V', neither a regular file nor a folder"),
        (".", tarfile.REGTYPE, "a file without a name"),
        (".", tarfile.DIRTYPE, None),
        ("./a..b/c..", tarfile.REGTYPE, None),
    ],
)
def test_member_problems(name, kind, problem):
    info = tarfile.TarInfo(name)
    info.type = kind
    assert handler.member_problem(info) == problem


# -- the check's event and AWS errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (check_event(extra="x"), "unknown fields ['extra']"),
        (check_event(manifest_uri=None), "manifest_uri is missing"),
        (check_event(manifest_uri=3), "manifest_uri must be a string"),
        (check_event(code_version=None), "code_version is missing"),
        (check_event(code_version=3), "code_version must be a string"),
        (check_event(execution_id=None), "execution_id is missing"),
        (check_event(execution_id="a b"), "is not a pipeline execution id"),
    ],
)
def test_a_bad_check_event_is_rejected_with_every_key(aws, sent, event, error):
    reason = rejected(handler.handler(event, None))
    assert reason.startswith("the CheckImport step sent a bad event: ")
    assert error in reason
    assert sent == []


def test_the_entries_are_told_apart_by_the_event_shape():
    assert handler.is_check_event(check_event())
    assert handler.is_check_event({"manifest_uri": "x"})
    assert not handler.is_check_event(s3_event())
    assert not handler.is_check_event({**check_event(), "source": "aws.s3"})
    assert not handler.is_check_event({})
    assert not handler.is_check_event(None)


@pytest.mark.parametrize("operation", ["manifest", "model", "listing"])
def test_access_denied_raises(aws, capsys, operation):
    upload(aws)
    s3 = handler._client("s3")
    stubber = Stubber(s3)
    if operation == "manifest":
        stubber.add_client_error("get_object", service_error_code="AccessDenied")
    else:
        body = json.dumps(manifest()).encode()
        stubber.add_response(
            "get_object",
            {"Body": _streaming(body), "ContentLength": len(body)},
            {"Bucket": ARTIFACTS, "Key": MANIFEST_KEY},
        )
        if operation == "model":
            stubber.add_client_error("get_object", service_error_code="AccessDenied")
        else:
            stubber.add_response(
                "get_object",
                {"Body": _streaming(MODEL), "ContentLength": len(MODEL)},
                {"Bucket": ARTIFACTS, "Key": MODEL_KEY},
            )
            stubber.add_client_error("list_objects_v2", service_error_code="AccessDenied")
    with stubber, pytest.raises(ClientError) as raised:
        handler.handler(check_event(), None)

    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["status"] == "aws-error"
    assert line["error_code"] == "AccessDenied"


def _streaming(data: bytes) -> Any:
    return StreamingBody(io.BytesIO(data), len(data))
