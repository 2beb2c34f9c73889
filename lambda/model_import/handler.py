"""Bring your own model (ADR 0021): start the import pipeline, and check what is imported.

A data scientist uploads a model trained elsewhere into the project's artifacts bucket as
``<IMPORTS_PREFIX><name>/<model file>`` (a gzip-compressed tar, like SageMaker's model.tar.gz),
then its manifest ``<IMPORTS_PREFIX><name>/import.json``. The function has two entries, told
apart by the event's shape:

1. **The start** (an EventBridge event, ``source`` ``aws.s3``, ``detail-type`` ``Object
   Created``): the manifest's creation. The function reads the code version CI last published
   (SSM ``CODE_VERSION_PARAMETER``) and starts the import pipeline (``PIPELINE_NAME``) with
   ``ImportManifestUrl``, ``CodeVersion`` (even ``unpublished``: the check then rejects the
   import with that reason, so the failure shows in an execution) and ``TriggerReason``. The
   ClientRequestToken is derived from the bucket, the key and the object's version id (else its
   sequencer, else its ETag): a replayed event starts nothing new (SageMaker deduplicates the
   token). Another bucket, key or detail type is answered ``ignored``; a malformed event
   ``rejected``; neither raises (no retry storm). An AWS error is logged and re-raised, so that
   EventBridge's retry (and the construct's DLQ) keeps the upload.
2. **The check** (the import pipeline's LambdaStep ``CheckImport``: ``{"manifest_uri",
   "code_version", "execution_id"}``): the code version is published; the manifest is an import
   manifest of the artifacts bucket, at most 64 KiB of UTF-8 JSON, format 1, and declares what
   the project serves (its framework and version, or its own serving image); the model file it
   names exists, is the only object whose key starts with its key (the Package step downloads
   that prefix), and is neither empty nor larger than MAX_ARTIFACT_BYTES; streamed once (1 MiB
   chunks, constant memory, nothing on disk), it hashes to the answered SHA-256, is one complete
   gzip stream (CRC checked) holding one complete tar archive whose members are regular files
   and folders with safe names, at least one of them a file outside a top-level ``code/``
   folder (the project's own published code serves the model: a ``code/`` folder of the
   archive is replaced by the Package step).

The check's answer is flat (LambdaStep outputs): every key of ANSWER_KEYS in every answer, every
value a string. An input problem is never raised: it is a rejection, ``status`` ``rejected``
with one sentence naming the fix as ``reason``, which the pipeline turns into a FailStep. An AWS
error (access denied, throttling beyond the client's retries) is logged and re-raised: the step
fails with it. Read-only, so a replayed check gives the same answer while the objects do not
change. Standard library, boto3 and the platform's layer only: packaged with a plain
``Code.from_asset``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import tarfile
import unicodedata
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Final, cast

from botocore.exceptions import ClientError
from platform_events import (
    SAGEMAKER_PIPELINE_NAME,
    SSM_PARAMETER_NAME,
    BadInput,
    get_execution_id,
    get_object,
    get_string,
    json_type,
    s3_uri_problem,
)
from platform_logging import InvocationLog, structured_logger
from platform_runtime import (
    Clients,
    ConfigError,
    bucket_setting,
    matching_setting,
    report_bad_config_at_cold_start,
)

# Answers
OK: Final = "ok"
REJECTED: Final = "rejected"
STARTED: Final = "started"
IGNORED: Final = "ignored"
FAILED: Final = "failed"
NONE: Final = "none"  # the value of what an answer does not know (LambdaStep outputs)

# The start
SOURCE: Final = "aws.s3"
DETAIL_TYPE: Final = "Object Created"
# The fields of detail.object that tell one upload of the manifest from another, in order of
# preference (EventBridge's S3 events carry etag and sequencer, and version-id when versioned).
UPLOAD_IDS: Final = ("version-id", "sequencer", "etag")
UPLOAD_ID_MAX: Final = 1024
DEFAULT_IMPORTS_PREFIX: Final = "imports/"
MANIFEST: Final = "import.json"
UNPUBLISHED: Final = "unpublished"  # the code version until CI published one
TRIGGER_PREFIX: Final = "import "  # TriggerReason: "import <name>"
PARAMETER_VALUE_MAX: Final = 1024  # a SageMaker pipeline parameter value
DISPLAY_NAME_MAX: Final = 82
DESCRIPTION_MAX: Final = 3072  # PipelineExecutionDescription

# The check
CHECK_KEYS: Final = frozenset({"manifest_uri", "code_version", "execution_id"})
ANSWER_KEYS: Final = (
    "status",
    "reason",
    "model_uri",
    "artifact_sha256",
    "artifact_bytes",
    "serving",
    "description",
)
URI_MAX: Final = 2048
CODE_VERSION_MAX: Final = PARAMETER_VALUE_MAX
MANIFEST_MAX: Final = 64 * 1024  # bytes
MANIFEST_FORMAT: Final = 1
MANIFEST_KEYS: Final = (
    "format",
    "model",
    "framework",
    "framework_version",
    "image",
    "description",
    "trained_by",
)
MODEL_NAME_MAX: Final = 255
FRAMEWORK_MAX: Final = 64
IMAGE_MAX: Final = 2048
TEXT_MAX: Final = {"description": 1024, "trained_by": 256}
ANSWER_DESCRIPTION_MAX: Final = 1024  # what the answer's description is cut to
MIB: Final = 1024 * 1024
CHUNK_SIZE: Final = MIB  # bytes read from S3 at a time
MAX_ARTIFACT_LIMIT: Final = 5 * 1024 * 1024 * MIB  # S3's largest object
GZIP_MAGIC: Final = b"\x1f\x8b"
TAR_BLOCK: Final = 512
TAR_END: Final = 2 * TAR_BLOCK  # the end-of-archive marker: two zero blocks
CODE_FOLDER: Final = "code"  # the serving code's folder at an archive's top level
SHOWN_MAX: Final = 120  # characters of a value quoted in a reason

_PROJECT = re.compile(r"[a-z][a-z0-9]{1,11}")
_PREFIX = re.compile(r"(?:[A-Za-z0-9._-]+/)+")
_IMPORT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_DIGITS = re.compile(r"[0-9]{1,16}")
# a framework, a version or an image URI: printable, no blank
_TOKEN = re.compile(r"[^\s\x00-\x1f\x7f]+")

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("model_import")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (entry, import_name, ...)."""

    logger = LOGGER


def show(value: object, limit: int = SHOWN_MAX) -> str:
    """A value for a reason: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class Config:
    pipeline_name: str
    artifacts_bucket: str
    imports_prefix: str
    code_version_parameter: str
    project: str
    max_artifact_bytes: int
    # exactly one form: the framework and its version, or the project's own serving image
    expected_framework: str | None = None
    expected_framework_version: str | None = None
    expected_image: str | None = None

    @property
    def serving(self) -> str:
        """What the project serves, as answers and reasons write it ("sklearn 1.2-1")."""
        if self.expected_image is not None:
            return self.expected_image
        return f"{self.expected_framework} {self.expected_framework_version}"


def _token_setting(
    env: Mapping[str, str], name: str, max_len: int, what: str, problems: list[str]
) -> str | None:
    value = env.get(name) or None
    if value is not None and (len(value) > max_len or not _TOKEN.fullmatch(value)):
        problems.append(
            f"{name}={value!r} is not {what} (at most {max_len} characters, no blank or control "
            "character)"
        )
    return value


def _expected_serving(
    env: Mapping[str, str], problems: list[str]
) -> tuple[str | None, str | None, str | None]:
    """What the project serves: (framework, version, None) or (None, None, image)."""
    framework = _token_setting(
        env, "EXPECTED_FRAMEWORK", FRAMEWORK_MAX, "a framework name", problems
    )
    version = _token_setting(
        env, "EXPECTED_FRAMEWORK_VERSION", FRAMEWORK_MAX, "a framework version", problems
    )
    image = _token_setting(env, "EXPECTED_IMAGE", IMAGE_MAX, "an image URI", problems)
    if image is not None and (framework is not None or version is not None):
        problems.append(
            "EXPECTED_IMAGE and EXPECTED_FRAMEWORK/EXPECTED_FRAMEWORK_VERSION are both set: set "
            "one form (the framework and its version, or the project's own serving image)"
        )
    elif image is None and framework is None and version is None:
        problems.append(
            "neither EXPECTED_FRAMEWORK and EXPECTED_FRAMEWORK_VERSION nor EXPECTED_IMAGE is "
            "set (what the project serves)"
        )
    elif image is None and version is None:
        problems.append(
            f"EXPECTED_FRAMEWORK_VERSION is not set (the version of {framework}, e.g. 1.2-1)"
        )
    elif image is None and framework is None:
        problems.append(
            f"EXPECTED_FRAMEWORK is not set (the framework of version {version}, e.g. sklearn)"
        )
    return framework, version, image


def _max_artifact_bytes(env: Mapping[str, str], problems: list[str]) -> int:
    """MAX_ARTIFACT_BYTES (0 with a problem recorded when it is missing or out of range)."""
    raw_max = env.get("MAX_ARTIFACT_BYTES", "")
    max_bytes = 0
    if not raw_max:
        problems.append("MAX_ARTIFACT_BYTES is not set (the largest model file imported, bytes)")
    elif not _DIGITS.fullmatch(raw_max) or not 1 <= int(raw_max) <= MAX_ARTIFACT_LIMIT:
        problems.append(
            f"MAX_ARTIFACT_BYTES={raw_max!r} is not an integer from 1 to {MAX_ARTIFACT_LIMIT}"
        )
    else:
        max_bytes = int(raw_max)
    return max_bytes


def _imports_prefix(env: Mapping[str, str], problems: list[str]) -> str:
    """IMPORTS_PREFIX (default DEFAULT_IMPORTS_PREFIX), a key prefix (a problem appended when
    it is not)."""
    prefix = env.get("IMPORTS_PREFIX") or DEFAULT_IMPORTS_PREFIX
    if not _PREFIX.fullmatch(prefix):
        problems.append(
            f"IMPORTS_PREFIX={prefix!r} is not a key prefix (segments of letters, digits and "
            '._- each ending in "/", e.g. "imports/")'
        )
    return prefix


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    problems: list[str] = []
    pipeline = matching_setting(
        env,
        "PIPELINE_NAME",
        "the import pipeline, <prefix>-import",
        SAGEMAKER_PIPELINE_NAME,
        "a SageMaker pipeline name (letters, digits and hyphens, at most 256 characters)",
        problems,
    )
    bucket = bucket_setting(
        env,
        "ARTIFACTS_BUCKET",
        "the project's artifacts bucket, where models are imported",
        problems,
    )
    prefix = _imports_prefix(env, problems)
    parameter = matching_setting(
        env,
        "CODE_VERSION_PARAMETER",
        "the SSM parameter holding the code version CI last published, e.g. "
        "/mlops-dev-demand/ml/code-version",
        SSM_PARAMETER_NAME,
        "an SSM parameter name",
        problems,
    )
    project = matching_setting(
        env,
        "PROJECT",
        "the project's name, e.g. demand",
        _PROJECT,
        "a project name (2-12 lower-case letters and digits, starting with a letter)",
        problems,
    )
    framework, version, image = _expected_serving(env, problems)
    max_bytes = _max_artifact_bytes(env, problems)
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(
        pipeline_name=pipeline,
        artifacts_bucket=bucket,
        imports_prefix=prefix,
        code_version_parameter=parameter,
        project=project,
        max_artifact_bytes=max_bytes,
        expected_framework=framework,
        expected_framework_version=version,
        expected_image=image,
    )


def import_name(key: str, prefix: str) -> str | None:
    """The import's name if ``key`` is ``<prefix><name>/import.json``, else None."""
    if not key.startswith(prefix) or not key.endswith("/" + MANIFEST):
        return None
    name = key[len(prefix) : -len(MANIFEST) - 1]
    return name if _IMPORT_NAME.fullmatch(name) else None


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_client: Final = Clients(read_timeout=60)


_NOT_FOUND: Final = frozenset({"NoSuchKey", "404", "NotFound"})


def _is_not_found(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _NOT_FOUND


# --------------------------------------------------------------------------------------------
# Entry 1: the start


@dataclass(frozen=True)
class Upload:
    """An upload of an import manifest, as its S3 event describes it."""

    bucket: str
    key: str
    name: str  # the import's name: <prefix><name>/import.json
    upload_id: str  # "<field>=<value>": its version id, else sequencer, else ETag

    @property
    def manifest_uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class NotAnImport(Exception):
    """A well-formed event that is no import manifest's upload: answered ``ignored``."""

    def __init__(self, reason: str, **fields: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fields: dict[str, Any] = dict(fields)


def parse_start_event(event: object, config: Config) -> Upload:
    """Validates an EventBridge S3 event strictly; raises BadInput naming the first problem,
    NotAnImport for an event of another detail type, bucket or key."""
    if not isinstance(event, dict):
        raise BadInput(f"the event must be a JSON object, got {json_type(event)}")
    source = get_string(event, "source", "source", 256)
    if source != SOURCE:
        raise BadInput(
            f"source {source!r} is not accepted: imports start on S3 {DETAIL_TYPE!r} events of "
            f"the artifacts bucket (source {SOURCE!r})"
        )
    detail_type = get_string(event, "detail-type", "detail-type", 256)
    detail = get_object(event, "detail", "detail")
    bucket = get_string(get_object(detail, "bucket", "detail.bucket"), "name", "detail.bucket.name")
    obj = get_object(detail, "object", "detail.object")
    key = get_string(obj, "key", "detail.object.key", 1024)
    seen = {"detail_type": detail_type, "bucket": bucket, "key": key}
    if detail_type != DETAIL_TYPE:
        raise NotAnImport(f"{detail_type!r} is not an upload ({DETAIL_TYPE!r})", **seen)
    if bucket != config.artifacts_bucket:
        raise NotAnImport(
            f"bucket {bucket} is not the artifacts bucket {config.artifacts_bucket}", **seen
        )
    name = import_name(key, config.imports_prefix)
    if name is None:
        raise NotAnImport(
            f"{key} is not an import manifest ({config.imports_prefix}<name>/{MANIFEST}, the "
            "name of lower-case letters, digits and hyphens, at most 63 characters)",
            **seen,
        )
    for field in UPLOAD_IDS:
        value = obj.get(field)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > UPLOAD_ID_MAX:
            raise BadInput(
                f"detail.object.{field} must be a non-empty string of at most {UPLOAD_ID_MAX} "
                f"characters, got {json_type(value)}"
            )
        return Upload(bucket, key, name, f"{field}={value}")
    raise BadInput(
        f"detail.object has no {', no '.join(UPLOAD_IDS)}: a replay could not be told from a "
        "new upload"
    )


def client_request_token(pipeline: str, upload: Upload) -> str:
    """StartPipelineExecution's idempotency token (64 hex digits, the API takes 32-128): the
    same upload of the same manifest, the same token, whatever the event's id."""
    text = "\n".join((pipeline, upload.bucket, upload.key, upload.upload_id))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def display_name(name: str) -> str:
    """``import-<name>``, a valid execution display name (``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}``:
    trailing hyphens of the name are dropped)."""
    return f"import-{name}".rstrip("-")[:DISPLAY_NAME_MAX]


def published_code_version(config: Config) -> str:
    """The code version CI last published (``unpublished`` when the parameter is blank)."""
    response = _client("ssm").get_parameter(Name=config.code_version_parameter)
    value: str = response["Parameter"]["Value"]
    return value.strip() or UNPUBLISHED


def start_import(config: Config, upload: Upload, code_version: str) -> str:
    """StartPipelineExecution of the import pipeline; its ARN."""
    description = (
        f"import {upload.name}: {upload.manifest_uri} ({upload.upload_id}), code version "
        f"{code_version}"
    )
    response = _client("sagemaker").start_pipeline_execution(
        PipelineName=config.pipeline_name,
        PipelineExecutionDisplayName=display_name(upload.name),
        PipelineExecutionDescription=description[:DESCRIPTION_MAX],
        PipelineParameters=[
            {"Name": "ImportManifestUrl", "Value": upload.manifest_uri},
            {"Name": "CodeVersion", "Value": code_version[:PARAMETER_VALUE_MAX]},
            {"Name": "TriggerReason", "Value": f"{TRIGGER_PREFIX}{upload.name}"},
        ],
        # same upload, same token: SageMaker starts no second execution for a replay
        ClientRequestToken=client_request_token(config.pipeline_name, upload),
    )
    arn: str = response["PipelineExecutionArn"]
    return arn


def _start_entry(event: object, log: _Log) -> dict[str, str]:
    log.bind(entry="start")
    if isinstance(event, dict) and isinstance(event.get("id"), str):
        log.bind(event_id=event["id"][:128])
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        log.log(logging.ERROR, "configuration error: nothing starts", status=FAILED, error=str(exc))
        return {"status": FAILED, "reason": f"configuration error: {exc}"}
    log.bind(pipeline=config.pipeline_name)
    try:
        upload = parse_start_event(event, config)
    except BadInput as exc:
        log.log(logging.ERROR, "event rejected", status=REJECTED, reason=str(exc))
        return {"status": REJECTED, "reason": str(exc)}
    except NotAnImport as exc:
        log.log(logging.INFO, "ignored", status=IGNORED, reason=exc.reason, **exc.fields)
        return {"status": IGNORED, "reason": exc.reason}
    log.bind(import_name=upload.name, manifest_uri=upload.manifest_uri, upload=upload.upload_id)
    try:
        code_version = published_code_version(config)
        arn = start_import(config, upload, code_version)
    except Exception as exc:
        log.aws_failure(exc, "re-raising for a retry")
        raise
    log.log(
        logging.INFO,
        "import pipeline started",
        status=STARTED,
        execution_arn=arn,
        code_version=code_version,
        client_request_token=client_request_token(config.pipeline_name, upload),
    )
    return {
        "status": STARTED,
        "execution_arn": arn,
        "manifest_uri": upload.manifest_uri,
        "code_version": code_version,
    }


# --------------------------------------------------------------------------------------------
# Entry 2: the check


class Rejected(Exception):
    """An import that can never pass: the message is the answer's reason."""


@dataclass(frozen=True)
class CheckRequest:
    manifest_uri: str
    code_version: str
    execution_id: str


def parse_check_event(event: Mapping[str, Any]) -> CheckRequest:
    """Validates the LambdaStep's event strictly; raises BadInput naming the first problem."""
    unknown = sorted(set(event) - CHECK_KEYS)
    if unknown:
        raise BadInput(f"unknown fields {unknown!r} (accepted: {sorted(CHECK_KEYS)!r})")
    manifest_uri = get_string(event, "manifest_uri", "manifest_uri", URI_MAX)
    if "code_version" not in event:
        raise BadInput("code_version is missing")
    code_version = event["code_version"]
    if not isinstance(code_version, str):
        raise BadInput(f"code_version must be a string, got {json_type(code_version)}")
    if len(code_version) > CODE_VERSION_MAX:
        raise BadInput(f"code_version is longer than {CODE_VERSION_MAX} characters")
    execution_id = get_execution_id(event)
    return CheckRequest(manifest_uri, code_version, execution_id)


@dataclass(frozen=True)
class Manifest:
    """A manifest of format 1, read and checked."""

    model: str
    framework: str | None
    framework_version: str | None
    image: str | None
    description: str | None
    trained_by: str | None

    @property
    def serving(self) -> str:
        if self.image is not None:
            return self.image
        return f"{self.framework} {self.framework_version}"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise Rejected(f"the manifest has the key {show(key)} twice: keep one in {MANIFEST}")
        seen[key] = value
    return seen


def _token_field(manifest: Mapping[str, Any], key: str, max_len: int, example: str) -> str:
    value = manifest[key]
    if not isinstance(value, str) or len(value) > max_len or not _TOKEN.fullmatch(value):
        raise Rejected(
            f"the manifest's {key} {show(value)} is not a non-empty string of at most {max_len} "
            f"characters without blanks: write it as a string, e.g. {json.dumps({key: example})}"
        )
    return value


def _text_field(manifest: Mapping[str, Any], key: str) -> str | None:
    """Optional free text, its blanks (newlines, tabs) made single spaces; None when absent,
    null or blank."""
    value = manifest.get(key)
    if value is None:
        return None
    limit = TEXT_MAX[key]
    if not isinstance(value, str):
        raise Rejected(
            f"the manifest's {key} must be a string of at most {limit} characters, got "
            f"{json_type(value)}: write it as free text in quotes"
        )
    text = " ".join(value.split())
    if len(text) > limit:
        raise Rejected(
            f"the manifest's {key} has {len(text)} characters, more than {limit}: shorten it"
        )
    for char in text:
        if unicodedata.category(char).startswith("C"):
            raise Rejected(
                f"the manifest's {key} holds the control character U+{ord(char):04X}: remove it"
            )
    return text or None


def _model_field(manifest: Mapping[str, Any]) -> str:
    if "model" not in manifest:
        raise Rejected(
            f'the manifest names no model: add "model": "<the model file\'s name next to '
            f'{MANIFEST}>", e.g. "model": "model.tar.gz"'
        )
    model = manifest["model"]
    if (
        not isinstance(model, str)
        or not 1 <= len(model) <= MODEL_NAME_MAX
        or "/" in model
        or model in (".", "..", MANIFEST)
        or any(unicodedata.category(char).startswith("C") for char in model)
    ):
        raise Rejected(
            f"the manifest's model {show(model)} is not a file name next to {MANIFEST} (1-255 "
            f"characters, no / nor control character, not . or .. or {MANIFEST}): name the "
            'model file uploaded with it, e.g. "model": "model.tar.gz"'
        )
    return model


def _declared_serving(
    manifest: Mapping[str, Any],
) -> tuple[str | None, str | None, str | None]:
    """What the manifest declares serves the model: (framework, version, None) or
    (None, None, image); rejects both forms, neither, or half of the framework form."""
    has_image = "image" in manifest
    has_framework = "framework" in manifest or "framework_version" in manifest
    if has_image and has_framework:
        raise Rejected(
            "the manifest declares both image and framework/framework_version: declare exactly "
            "one form (framework and framework_version for a framework's serving image, image "
            "for the project's own)"
        )
    if not has_image and not has_framework:
        raise Rejected(
            "the manifest declares neither framework and framework_version nor image: declare "
            'what serves the model, e.g. "framework": "sklearn", "framework_version": "1.2-1"'
        )
    framework = version = image = None
    if has_image:
        image = _token_field(manifest, "image", IMAGE_MAX, "<serving image URI>")
    else:
        for key, other, example in (
            ("framework", "framework_version", "sklearn"),
            ("framework_version", "framework", "1.2-1"),
        ):
            if key not in manifest:
                raise Rejected(
                    f"the manifest declares {other} but not {key}: add it, e.g. "
                    f"{json.dumps({key: example})}"
                )
        framework = _token_field(manifest, "framework", FRAMEWORK_MAX, "sklearn")
        version = _token_field(manifest, "framework_version", FRAMEWORK_MAX, "1.2-1")
    return framework, version, image


def _manifest_object(data: bytes, uri: str) -> dict[str, Any]:
    """The manifest's JSON object; raises Rejected when it is too large, not UTF-8, not JSON
    (or nested too deeply, or with a duplicate key) or not an object."""
    if len(data) > MANIFEST_MAX:
        raise Rejected(
            f"the manifest {uri} is more than {MANIFEST_MAX} bytes: keep {MANIFEST} to the "
            "keys of format 1"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(
            f"the manifest {uri} is not UTF-8 text (byte {exc.start}): save {MANIFEST} as UTF-8"
        ) from None
    try:
        manifest = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise Rejected(
            f"the manifest {uri} is not JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno}): correct {MANIFEST}"
        ) from None
    except RecursionError:
        raise Rejected(
            f"the manifest {uri} nests too deeply: write {MANIFEST} as one flat JSON object"
        ) from None
    if not isinstance(manifest, dict):
        raise Rejected(
            f"the manifest {uri} is a JSON {json_type(manifest)}, not an object: write "
            f'{MANIFEST} as {{"format": 1, "model": "model.tar.gz", ...}}'
        )
    return manifest


def _check_format(manifest: Mapping[str, Any]) -> None:
    """Checks the manifest is of format 1 and has only its keys; raises Rejected if not."""
    if "format" not in manifest:
        raise Rejected('the manifest has no format: add "format": 1')
    form = manifest["format"]
    if isinstance(form, bool) or not isinstance(form, int) or form != MANIFEST_FORMAT:
        raise Rejected(
            f"the manifest's format {show(form)} is not supported: this platform reads format "
            f'{MANIFEST_FORMAT}, write "format": {MANIFEST_FORMAT} and its keys'
        )
    unknown = [key for key in manifest if key not in MANIFEST_KEYS]
    if unknown:
        raise Rejected(
            f"the manifest has unknown keys {', '.join(show(key) for key in sorted(unknown))}: "
            f"remove them (format 1 takes {', '.join(MANIFEST_KEYS)})"
        )


def parse_manifest(data: bytes, uri: str) -> Manifest:
    """A manifest's bytes, read strictly; raises Rejected naming the first problem and its fix."""
    manifest = _manifest_object(data, uri)
    _check_format(manifest)
    model = _model_field(manifest)
    framework, version, image = _declared_serving(manifest)
    return Manifest(
        model=model,
        framework=framework,
        framework_version=version,
        image=image,
        description=_text_field(manifest, "description"),
        trained_by=_text_field(manifest, "trained_by"),
    )


def serving_problem(manifest: Manifest, config: Config) -> str | None:
    """Why the manifest's declared serving is not the project's, or None."""
    project = f"project {config.project}"
    if config.expected_image is None:
        expected = config.serving
        if manifest.image is not None:
            return (
                f"the model declares the serving image {manifest.image}; {project} serves "
                f"{expected}: declare its framework and framework_version if it is a "
                f"{config.expected_framework} model, or import it into a project on its own image"
            )
        if manifest.framework != config.expected_framework:
            return (
                f"the model is for {manifest.serving}; {project} serves {expected}: import it "
                "into a project of that framework, or retrain it with the project's"
            )
        if manifest.framework_version != config.expected_framework_version:
            return (
                f"the model is for {manifest.serving}; {project} serves {expected}: retrain it "
                f"with {expected}, or import it into a project on {manifest.serving}"
            )
        return None
    if manifest.image is None:
        return (
            f"the model is for {manifest.serving}; {project} serves its own image "
            f"{config.expected_image}: declare that image if the model runs on it, or import it "
            "into a project of that framework"
        )
    if manifest.image != config.expected_image:
        return (
            f"the model is for the image {manifest.image}; {project} serves the image "
            f"{config.expected_image}: declare the project's image if the model runs on it, or "
            "import it into a project on that image"
        )
    return None


# -- the model archive, streamed once -----------------------------------------------------------


class HashingReader:
    """A read-only file over an S3 object's StreamingBody, pulled ``chunk_size`` bytes at a
    time (``iter_chunks``): every byte read is hashed and counted. ``head`` keeps the first
    bytes (is it gzip at all?)."""

    def __init__(self, body: Any, chunk_size: int = CHUNK_SIZE) -> None:
        self._chunks: Iterator[bytes] = iter(body.iter_chunks(chunk_size))
        self._buffer = b""
        self._offset = 0
        self.digest = hashlib.sha256()
        self.size = 0
        self.head = b""

    def _pull(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self.digest.update(chunk)
                if len(self.head) < len(GZIP_MAGIC):
                    self.head += chunk[: len(GZIP_MAGIC) - len(self.head)]
                self.size += len(chunk)
                self._buffer, self._offset = chunk, 0
                return True
        return False

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes, fewer only at the end (gzip reads its headers without retrying a
        short read); all that is left for None or a negative size."""
        if size is None or size < 0:
            parts = [self._buffer[self._offset :]]
            self._buffer, self._offset = b"", 0
            while self._pull():
                parts.append(self._buffer)
                self._buffer = b""
            return b"".join(parts)
        parts = []
        wanted = size
        while wanted > 0:
            if self._offset >= len(self._buffer) and not self._pull():
                break
            data = self._buffer[self._offset : self._offset + wanted]
            self._offset += len(data)
            wanted -= len(data)
            parts.append(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def drain(self) -> None:
        """Reads (and hashes) whatever is left."""
        while self.read(CHUNK_SIZE):
            pass


class TailTracker:
    """A read-only file over the decompressed tar stream that counts the bytes read and where
    the last non-NUL byte was: after the last member, a complete archive holds only NUL bytes
    (the end-of-archive marker and its padding)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.position = 0
        self.nonzero_end = 0  # the offset just after the last non-NUL byte read

    def read(self, size: int | None = -1) -> bytes:
        data: bytes = self._inner.read(size)
        if data:
            kept = len(data.rstrip(b"\0"))
            if kept:
                self.nonzero_end = self.position + kept
            self.position += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK_SIZE):
            pass


@dataclass(frozen=True)
class ArchiveSummary:
    members: int
    model_files: int  # regular files outside the top-level code/ folder
    code_members: int  # members in the top-level code/ folder (replaced when packaged)


def _parts(name: str) -> list[str]:
    return [part for part in name.split("/") if part not in ("", ".")]


def member_problem(member: tarfile.TarInfo) -> str | None:
    """Why a member is not safe to serve, or None: what the reason says it is."""
    name = member.name
    if "\0" in name:
        return "a NUL character in its name"
    if name.startswith("/"):
        return "an absolute path"
    if ".." in name.split("/"):
        return "a path leaving the archive's root with .."
    if member.issym():
        return "a symbolic link"
    if member.islnk():
        return "a hard link"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a named pipe"
    if not (member.isreg() or member.isdir()):
        return f"a member of tar type {member.type!r}, neither a regular file nor a folder"
    if not _parts(name) and not member.isdir():
        return "a file without a name"
    return None


def _member_fix(problem: str) -> str:
    if "link" in problem:
        return "replace each link by the file it points to (tar -h)"
    if "path" in problem or "name" in problem:
        return "package it with paths relative to its root (tar -czf model.tar.gz -C <folder> .)"
    return "package regular files and folders only"


def _checked_parts(member: tarfile.TarInfo, uri: str, names: set[str]) -> list[str]:
    """Checks one member: safe to serve (``member_problem``), not a second member of the same
    path, not a file named ``code`` at the top level; returns its path's parts (none for the
    root folder itself) and adds the path to ``names``. Raises Rejected naming the problem."""
    problem = member_problem(member)
    if problem is not None:
        raise Rejected(
            f"the model archive {uri} holds {show(member.name)}, {problem}: {_member_fix(problem)}"
        )
    parts = _parts(member.name)
    if not parts:
        return parts  # the root folder itself ("./")
    normalized = "/".join(parts)
    if normalized in names:
        raise Rejected(
            f"the model archive {uri} holds {show(normalized)} twice: package each file once"
        )
    names.add(normalized)
    if parts[0] == CODE_FOLDER and len(parts) == 1 and member.isreg():
        raise Rejected(
            f"the model archive {uri} holds a file named {CODE_FOLDER} at its top level, where "
            f"the serving code's {CODE_FOLDER}/ folder goes: rename it"
        )
    return parts


def _read_tar(tail: TailTracker, uri: str) -> tuple[ArchiveSummary, int]:
    """Reads the tar stream to its end, checking each member (``_checked_parts``); returns the
    members counted and the offset where a member after the last one would start."""
    members = model_files = code_members = 0
    names: set[str] = set()
    with tarfile.open(fileobj=cast(IO[bytes], tail), mode="r|") as tar:
        while (member := tar.next()) is not None:
            # a stream: no member is looked up again, so memory stays flat
            cast(Any, tar).members.clear()
            members += 1
            parts = _checked_parts(member, uri, names)
            if not parts:
                continue
            if parts[0] == CODE_FOLDER:
                code_members += 1
            elif member.isreg():
                model_files += 1
        end = tar.offset  # where the member after the last one would start
        tail.drain()  # the rest of the tar stream, and the gzip trailer (CRC, size)
    return ArchiveSummary(members, model_files, code_members), end


def _check_tar_end(tail: TailTracker, end: int, members: int, uri: str) -> None:
    """Checks that only NUL bytes follow the last member (no invalid header after it) and that
    the end-of-archive marker is complete; raises Rejected otherwise."""
    if tail.nonzero_end > end:
        raise Rejected(
            f"the model archive {uri} is damaged after its member {members} (an invalid tar "
            f"header at byte {end} of the tar stream): package it again (tar -czf)"
        )
    if tail.position < end + TAR_END:
        raise Rejected(
            f"the model archive {uri} is cut short: its tar stream ends without the "
            "end-of-archive marker after its last member; package it again and upload it "
            "completely"
        )


def inspect_archive(reader: HashingReader, uri: str) -> ArchiveSummary:
    """Reads the whole archive from ``reader`` (so that its SHA-256 covers every byte) and
    checks it; raises Rejected naming the first problem.

    The gzip layer is read with ``gzip`` (CRC and length checked, a cut stream is EOFError),
    the tar stream with ``tarfile`` in stream mode (``r|``): ``r|gz`` checks neither the gzip
    trailer nor the end of the stream, and ``tarfile`` ends its iteration silently at a
    truncated or invalid header after the first, so the end-of-archive marker is checked here.
    """
    tail = TailTracker(gzip.GzipFile(fileobj=cast(IO[bytes], reader), mode="rb"))
    try:
        summary, end = _read_tar(tail, uri)
    except Rejected:
        raise
    except (tarfile.ReadError, gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise Rejected(_unreadable_reason(reader, uri, exc)) from None
    _check_tar_end(tail, end, summary.members, uri)
    reader.drain()
    if summary.model_files == 0:
        only = f"only the {CODE_FOLDER}/ folder" if summary.code_members else "no files at all"
        raise Rejected(
            f"the model archive {uri} holds no model files ({only}): add the model's files at "
            f"the archive's root; the project's published code serves it from {CODE_FOLDER}/"
        )
    return summary


def _unreadable_reason(reader: HashingReader, uri: str, exc: BaseException) -> str:
    fix = "package it as a gzip-compressed tar (tar -czf model.tar.gz -C <folder> .)"
    if not reader.head.startswith(GZIP_MAGIC):
        return f"the model file {uri} is not gzip-compressed: {fix}"
    message = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError) or message == "unexpected end of data":
        return f"the model archive {uri} is cut short ({message}): upload it again, completely"
    if isinstance(exc, tarfile.ReadError) and not message.startswith("zlib error"):
        return f"the model file {uri} is gzip-compressed but not a tar archive ({message}): {fix}"
    return f"the model archive {uri} is damaged ({message}): package it again and upload it"


# -- the check ----------------------------------------------------------------------------------


class _Check:
    """One check: each step raises Rejected; what is known so far goes into every answer."""

    def __init__(self, config: Config, request: CheckRequest, log: _Log) -> None:
        self.config = config
        self.request = request
        self.log = log
        self.serving = NONE
        self.description = NONE
        self.artifact_bytes = 0
        self.fields: dict[str, Any] = {}

    def answer(self, status: str, reason: str, **values: str) -> dict[str, str]:
        answer = dict.fromkeys(ANSWER_KEYS, NONE)
        answer.update(
            status=status,
            reason=reason,
            artifact_bytes=str(self.artifact_bytes),
            serving=self.serving,
            description=self.description,
        )
        answer.update(values)
        return answer

    def run(self) -> dict[str, str]:
        config = self.config
        self._code_version()
        bucket, key, name = self._manifest_location()
        manifest = parse_manifest(self._read_manifest(bucket, key), self.request.manifest_uri)
        self.serving = manifest.serving
        description = manifest.description or f"model {name} imported into {config.project}"
        if manifest.trained_by:
            description += f" (trained by {manifest.trained_by})"
        self.description = description[:ANSWER_DESCRIPTION_MAX]
        self.fields.update(model=manifest.model, trained_by=manifest.trained_by)
        problem = serving_problem(manifest, config)
        if problem is not None:
            raise Rejected(problem)
        model_key = f"{config.imports_prefix}{name}/{manifest.model}"
        model_uri = f"s3://{bucket}/{model_key}"
        sha256, summary = self._inspect_model(bucket, model_key, model_uri)
        self.fields.update(
            members=summary.members,
            model_files=summary.model_files,
            code_members=summary.code_members,
        )
        return self.answer(OK, NONE, model_uri=model_uri, artifact_sha256=sha256)

    def _code_version(self) -> None:
        version = self.request.code_version.strip()
        if not version or version == UNPUBLISHED:
            project = self.config.project
            shown = "empty" if not version else UNPUBLISHED
            raise Rejected(
                f"project {project} has no published code version (CodeVersion is {shown}), "
                "and only its published code serves an imported model: publish the project's "
                f"code first: mlops publish {project}"
            )

    def _manifest_location(self) -> tuple[str, str, str]:
        uri, config = self.request.manifest_uri, self.config
        where = f"s3://{config.artifacts_bucket}/{config.imports_prefix}<name>/{MANIFEST}"
        problem = s3_uri_problem(uri, max_len=URI_MAX, object_key=True)
        if problem is not None:
            raise Rejected(
                f"the manifest URI {show(uri)} {problem}: upload the manifest to {where}"
            )
        bucket, key = uri[len("s3://") :].split("/", 1)
        if bucket != config.artifacts_bucket:
            raise Rejected(
                f"the manifest {uri} is not in the artifacts bucket of project {config.project} "
                f"({config.artifacts_bucket}): upload the model and its manifest to {where}"
            )
        name = import_name(key, config.imports_prefix)
        if name is None:
            raise Rejected(
                f"the manifest {uri} is not an import manifest ({config.imports_prefix}<name>/"
                f"{MANIFEST}, the name of lower-case letters, digits and hyphens, at most 63 "
                f"characters): upload it to {where}"
            )
        self.log.bind(import_name=name)
        return bucket, key, name

    def _read_manifest(self, bucket: str, key: str) -> bytes:
        uri = self.request.manifest_uri
        try:
            response = _client("s3").get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _is_not_found(exc):
                folder = key.rsplit("/", 1)[0]
                raise Rejected(
                    f"the manifest {uri} does not exist: upload the model, then {MANIFEST}, to "
                    f"s3://{bucket}/{folder}/"
                ) from None
            raise
        body = response["Body"]
        try:
            size = int(response.get("ContentLength", 0))
            if size > MANIFEST_MAX:
                raise Rejected(
                    f"the manifest {uri} is {size} bytes, more than {MANIFEST_MAX}: keep "
                    f"{MANIFEST} to the keys of format 1"
                )
            data: bytes = body.read(MANIFEST_MAX + 1)
        finally:
            body.close()
        self.fields.update(manifest_version=response.get("VersionId"))
        return data

    def _only_object(self, bucket: str, key: str, uri: str) -> None:
        """The model file is the only object whose key starts with its key: the Package step's
        input is that key as an S3 prefix, and would download the others too."""
        listed = _client("s3").list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=2)
        others = [item["Key"] for item in listed.get("Contents", []) if item["Key"] != key]
        if others:
            raise Rejected(
                f"the object s3://{bucket}/{others[0]} starts with the model file's key {uri}, "
                "and the Package step would read it too: rename or delete it, then upload "
                f"{MANIFEST} again"
            )

    def _inspect_model(self, bucket: str, key: str, uri: str) -> tuple[str, ArchiveSummary]:
        try:
            response = _client("s3").get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _is_not_found(exc):
                raise Rejected(
                    f"the model file {uri} does not exist: upload it next to {MANIFEST}, then "
                    f"upload {MANIFEST} again"
                ) from None
            raise
        body = response["Body"]
        try:
            size = int(response.get("ContentLength", 0))
            self.artifact_bytes = size
            self.fields.update(model_version=response.get("VersionId"))
            if size == 0:
                raise Rejected(f"the model file {uri} is empty: upload the model archive again")
            limit = self.config.max_artifact_bytes
            if size > limit:
                raise Rejected(
                    f"the model file {uri} is {size} bytes, more than project "
                    f"{self.config.project}'s limit of {limit} bytes: make the model smaller, "
                    "or raise the project's limit"
                )
            self._only_object(bucket, key, uri)
            reader = HashingReader(body, CHUNK_SIZE)
            summary = inspect_archive(reader, uri)
        finally:
            body.close()
        self.artifact_bytes = reader.size
        return reader.digest.hexdigest(), summary


def _check_entry(event: Mapping[str, Any], log: _Log) -> dict[str, str]:
    log.bind(entry="check")
    value = event.get("execution_id")
    log.bind(execution_id=value if isinstance(value, str) and len(value) <= 256 else None)
    empty = dict.fromkeys(ANSWER_KEYS, NONE) | {"status": REJECTED, "artifact_bytes": "0"}
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        reason = f"the import function is misconfigured: {exc}"
        log.log(logging.ERROR, "configuration error", status=REJECTED, reason=reason)
        return empty | {"reason": reason}
    log.bind(pipeline=config.pipeline_name, project=config.project)
    try:
        request = parse_check_event(event)
    except BadInput as exc:
        reason = f"the CheckImport step sent a bad event: {exc}"
        log.log(logging.ERROR, "event rejected", status=REJECTED, reason=reason)
        return empty | {"reason": reason}
    log.bind(manifest_uri=request.manifest_uri, code_version=request.code_version)
    check = _Check(config, request, log)
    try:
        answer = check.run()
    except Rejected as exc:
        answer = check.answer(REJECTED, str(exc))
        fields: dict[str, Any] = {**answer, **check.fields}
        log.log(logging.WARNING, "import rejected", **fields)
        return answer
    except Exception as exc:
        log.aws_failure(exc, "the step fails with it", status="aws-error")
        raise
    fields = {**answer, **check.fields}
    log.log(logging.INFO, "import checked", **fields)
    return answer


# --------------------------------------------------------------------------------------------
# Entry point


def is_check_event(event: object) -> bool:
    """The CheckImport step's payload (no ``source``, one of its keys), not an EventBridge
    event."""
    return isinstance(event, dict) and "source" not in event and bool(CHECK_KEYS & set(event))


def handler(event: object, context: object = None) -> dict[str, str]:
    """Lambda entry point: the start (EventBridge) or the check (LambdaStep). Raises only on an
    AWS error."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    if is_check_event(event):
        return _check_entry(cast(dict[str, Any], event), log)
    return _start_entry(event, log)


# In Lambda: report a bad deployment once, at init.
report_bad_config_at_cold_start(load_config, _Log())
