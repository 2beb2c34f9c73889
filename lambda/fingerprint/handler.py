"""The fingerprint step of a project's training pipeline: the LambdaStep ``Fingerprint``.

It runs before ``Register``. A model version's files live in the project's versioned artifacts
bucket, where whoever can write could swap a released model or loosen its baseline while an
approval waits. So the pipeline records, for each file, the version it registers and that
version's SHA-256 in the version's customer metadata, and the deploy pipeline checks them before
every deployment (``lambda/release_check``):

- ``model_uri``: the model artifact (``model.tar.gz``);
- ``baseline_uri``: its open-monitoring baseline (``statistics.json``), or ``none``;
- ``evaluation_uri``: its evaluation report (``evaluation.json``).

Each must be an object of ARTIFACTS_BUCKET. Per file: HeadObject (the current VersionId and
ContentLength), then GetObject with exactly that VersionId, hashed in 1 MiB chunks (constant
memory): an overwrite after HeadObject is not what is hashed, nor recorded.

The answer is flat (LambdaStep outputs): every key is present in every answer and every value is
a string; on ``ok`` every value is a valid SageMaker customer metadata value (``none`` where
there is nothing, never empty). A bad event, a bad configuration or an object that cannot be
fingerprinted (an unversioned bucket, a version id SageMaker metadata cannot hold) is answered
with ``status`` ``error`` (never raised), which the pipeline turns into a FailStep naming it. An
AWS error (a missing object, throttling beyond the client's retries, permissions) is logged and
re-raised: the LambdaStep then fails with it. Read-only, so a replayed event gives the same
answer while the objects do not change.
Standard library and boto3 only: packaged with a plain ``Code.from_asset``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import boto3
from botocore.config import Config as BotoConfig
from platform_events import BUCKET_NAME, BadInput, s3_uri_problem
from platform_events import get_string as _get_string
from platform_events import json_type as _json_type
from platform_fingerprint import (
    CHUNK_SIZE,
    NONE,
    Fingerprint,
    NotFingerprintable,
    fingerprint,
    split_s3_uri,
)
from platform_logging import InvocationLog, structured_logger
from platform_runtime import ConfigError, report_bad_config_at_cold_start
from platform_runtime import error_fields as _error_fields

OK: Final = "ok"
ERROR: Final = "error"

S3_URI_MAX: Final = 1024
EXECUTION_ID_MAX: Final = 256
# The files, in the order they are fingerprinted: (event key, answer prefix, required).
FILES: Final = (
    ("model_uri", "model", True),
    ("baseline_uri", "baseline", False),
    ("evaluation_uri", "evaluation", True),
)
EVENT_KEYS: Final = frozenset({"model_uri", "baseline_uri", "evaluation_uri", "execution_id"})

# Every key of the answer (LambdaStep outputs are declared once, so they are always there).
ANSWER_KEYS: Final = (
    "status",
    "error",
    "model_sha256",
    "model_version",
    "baseline_sha256",
    "baseline_version",
    "evaluation_sha256",
    "evaluation_version",
)

_EXECUTION_ID = re.compile(r"[A-Za-z0-9._:/-]+")

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("fingerprint")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (execution_id, ...)."""

    logger = LOGGER


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class Config:
    artifacts_bucket: str


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    bucket = env.get("ARTIFACTS_BUCKET", "")
    if not bucket:
        raise ConfigError(
            "ARTIFACTS_BUCKET is not set (the project's versioned artifacts bucket, the only "
            "one whose objects are fingerprinted)"
        )
    if not BUCKET_NAME.fullmatch(bucket):
        raise ConfigError(f"ARTIFACTS_BUCKET={bucket!r} is not an S3 bucket name")
    return Config(bucket)


# --------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class File:
    field: str  # the event key
    prefix: str  # of its answer keys
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Request:
    files: tuple[File, ...]  # in FILES order; without the baseline when it is "none"
    execution_id: str


def _object_in_bucket(event: Mapping[str, Any], name: str, bucket: str) -> tuple[str, str]:
    uri = _get_string(event, name, name, max_len=S3_URI_MAX)
    problem = s3_uri_problem(uri, max_len=S3_URI_MAX, object_key=True)
    parts = split_s3_uri(uri)
    if problem is not None or parts is None:
        raise BadInput(f"{name} {uri!r} {problem or 'is not an s3://bucket/key URI'}")
    if parts[0] != bucket:
        raise BadInput(
            f"{name} {uri!r} is not in the artifacts bucket {bucket!r} (only its objects are "
            "fingerprinted)"
        )
    return parts


def parse_event(event: object, config: Config) -> Request:
    """Validates the LambdaStep's event strictly; raises BadInput naming the first problem."""
    if not isinstance(event, dict):
        raise BadInput(f"the event must be a JSON object, got {_json_type(event)}")
    unknown = sorted(set(event) - EVENT_KEYS)
    if unknown:
        raise BadInput(f"unknown fields {unknown!r} (accepted: {sorted(EVENT_KEYS)!r})")
    files: list[File] = []
    for name, prefix, required in FILES:
        if not required and event.get(name) == NONE:
            continue
        bucket, key = _object_in_bucket(event, name, config.artifacts_bucket)
        files.append(File(name, prefix, bucket, key))
    execution_id = _get_string(event, "execution_id", "execution_id", max_len=EXECUTION_ID_MAX)
    if not _EXECUTION_ID.fullmatch(execution_id):
        raise BadInput(
            f"execution_id {execution_id!r} is not a pipeline execution id (letters, digits "
            "and . _ : / -)"
        )
    return Request(tuple(files), execution_id)


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_BOTO_CONFIG: Final = BotoConfig(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20
)
_CLIENTS: dict[str, Any] = {}


def _client(service: str) -> Any:
    if service not in _CLIENTS:
        _CLIENTS[service] = boto3.client(service, config=_BOTO_CONFIG)
    return _CLIENTS[service]


# --------------------------------------------------------------------------------------------
# The fingerprints


def _answer(**values: str) -> dict[str, str]:
    """An answer with every key: empty strings for what is not known."""
    answer = dict.fromkeys(ANSWER_KEYS, "")
    answer.update(values)
    return answer


def _error(message: str) -> dict[str, str]:
    return _answer(status=ERROR, error=message)


def take_fingerprints(request: Request) -> dict[str, Fingerprint]:
    """Each file's fingerprint by answer prefix (raises NotFingerprintable or an AWS error)."""
    s3 = _client("s3")
    prints: dict[str, Fingerprint] = {}
    for file in request.files:
        try:
            prints[file.prefix] = fingerprint(s3, file.bucket, file.key, CHUNK_SIZE)
        except NotFingerprintable as exc:
            raise NotFingerprintable(f"{file.field}: {exc}") from None
    return prints


def ok_answer(prints: Mapping[str, Fingerprint]) -> dict[str, str]:
    answer = _answer(status=OK, error=NONE)
    for _, prefix, _ in FILES:
        taken = prints.get(prefix)
        answer[f"{prefix}_sha256"] = taken.sha256 if taken else NONE
        answer[f"{prefix}_version"] = taken.version if taken else NONE
    return answer


# --------------------------------------------------------------------------------------------
# Entry point


def handler(event: object, context: object = None) -> dict[str, str]:
    """Lambda entry point. Raises only on an AWS error."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    if isinstance(event, dict):
        value = event.get("execution_id")
        log.bind(execution_id=value if isinstance(value, str) and len(value) <= 256 else None)
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        log.log(logging.ERROR, "configuration error", status=ERROR, error=str(exc))
        return _error(f"configuration error: {exc}")
    log.bind(artifacts_bucket=config.artifacts_bucket)
    try:
        request = parse_event(event, config)
    except BadInput as exc:
        log.log(logging.ERROR, "event rejected", status=ERROR, error=str(exc))
        return _error(f"bad event: {exc}")
    log.bind(**{file.field: file.uri for file in request.files})
    try:
        prints = take_fingerprints(request)
    except NotFingerprintable as exc:
        log.log(logging.ERROR, "not fingerprintable", status=ERROR, error=str(exc))
        return _error(f"not fingerprintable: {exc}")
    except Exception as exc:
        log.log(
            logging.ERROR,
            "AWS call failed: the step fails with it",
            status="aws-error",
            exc_info=True,
            **_error_fields(exc),
        )
        raise
    answer = ok_answer(prints)
    fields: dict[str, Any] = {key: answer[key] for key in ANSWER_KEYS if key != "error"}
    fields |= {f"{prefix}_bytes": taken.size for prefix, taken in prints.items()}
    log.log(logging.INFO, "fingerprinted", **fields)
    return answer


# In Lambda: report a bad deployment once, at init.
report_bad_config_at_cold_start(load_config, _Log())
