"""The fingerprint step of a project's training pipeline: the LambdaStep ``Fingerprint``.

It runs before ``Register``. A model version's files live in the project's versioned artifacts
bucket, under ``models/`` and ``pipelines/``, which the training code (running as the pipeline
role) may write: a later run could swap a registered model or loosen its baseline. So this
function fingerprints each file and SEALS it: it copies exactly the version it hashed to a
write-once, content-addressed key that only this function may write (the bucket policy), and
the version is registered with the sealed URIs and their fingerprints. The deploy pipeline
checks both before every deployment (``lambda/release_check``). The files:

- ``model_uri``: the model artifact (``model.tar.gz``);
- ``baseline_uri``: its open-monitoring baseline (``statistics.json``), or ``none``;
- ``evaluation_uri``: its evaluation report (``evaluation.json``);
- optional, each absent or ``none`` when the project does not produce it: the Model Monitor
  baseline files of the closed-service option (``monitor.service: model_monitor``), which the
  version registers as its DriftCheckBaselines and ModelMetrics: ``data_statistics_uri`` and
  ``data_constraints_uri`` (the data-quality baseline), ``model_constraints_uri`` (the
  model-quality constraints), ``bias_pre_uri`` (the pre-training bias report), ``bias_post_uri``
  (the post-training bias report) and ``explainability_uri`` (the SHAP report). They are sealed
  like the others but not recorded in customer metadata (its keys are limited, and a sealed key
  names its SHA-256, so it verifies itself): their answers are the sealed URIs only.

Each must be an object of ARTIFACTS_BUCKET, not under SEALED_PREFIX (a sealed object is never
resealed), and name a file. First every file is fingerprinted: HeadObject (the current
VersionId and ContentLength), then GetObject with exactly that VersionId, hashed in 1 MiB
chunks (constant memory): an overwrite after HeadObject is not what is hashed. Nothing is
written unless every file could be fingerprinted. Then each is sealed at
``<SEALED_PREFIX><sha256>/<file name>`` (``platform_fingerprint.seal``): a multipart copy of
that VersionId (S3 refuses CopyObject with ``If-None-Match``) completed with
``If-None-Match: *``, so an existing sealed object is never replaced; if it exists with the same
SHA-256 (a replayed event, an identical file of another run) it is the answer, with another
SHA-256 the file is not fingerprintable.

The answer is flat (LambdaStep outputs): every key of ANSWER_KEYS is present in every answer and
every value is a string. On ``ok``, ``<file>_sha256`` is the SHA-256 of the version hashed (and
of its sealed copy), ``<file>_version`` and ``<file>_uri`` the SEALED object's version id and
``s3://bucket/key`` (``none`` for all three without a baseline); each Model Monitor file's
``<field>`` (e.g. ``data_statistics_uri``) is its sealed object's URI, ``none`` when it was not
given; every value is a valid SageMaker customer metadata value (never empty). A bad event, a
bad configuration or an object that cannot be fingerprinted or sealed (an unversioned bucket, a
version id SageMaker metadata cannot hold, a sealed key holding other content) is answered with
``status`` ``error`` (never raised), which the pipeline turns into a FailStep naming it. An
AWS error (a missing object, throttling beyond the client's retries, permissions) is logged and
re-raised, after aborting a started multipart copy: the LambdaStep then fails with it. A
replayed event gives the same answer and writes no new version while the source objects do not
change.
Standard library and boto3 only: packaged with a plain ``Code.from_asset``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from platform_events import BadInput, get_execution_id, s3_uri_problem
from platform_events import get_string as _get_string
from platform_events import json_type as _json_type
from platform_fingerprint import (
    CHUNK_SIZE,
    NONE,
    SEAL_PART_SIZE,
    Fingerprint,
    NotFingerprintable,
    Sealed,
    file_name,
    fingerprint,
    is_metadata_value,
    seal,
    sealed_key,
    sealed_prefix_setting,
    split_s3_uri,
)
from platform_logging import InvocationLog, structured_logger
from platform_runtime import Clients, ConfigError, bucket_setting, report_bad_config_at_cold_start

OK: Final = "ok"
ERROR: Final = "error"

S3_URI_MAX: Final = 1024
PART_SIZE: Final = SEAL_PART_SIZE  # bytes per UploadPartCopy (a module constant: tests lower it)
# The files, in the order they are fingerprinted: (event key, answer prefix, required).
FILES: Final = (
    ("model_uri", "model", True),
    ("baseline_uri", "baseline", False),
    ("evaluation_uri", "evaluation", True),
)
# The Model Monitor baseline files (the closed-service option's DriftCheckBaselines and
# ModelMetrics), in the order they are fingerprinted after FILES: (event key, answer prefix).
# Optional (absent or "none"); sealed, but neither SHA-256 nor version is answered: their
# answer is the sealed URI, ``<prefix>_uri``, whose key names the SHA-256.
MONITOR_FILES: Final = (
    ("data_statistics_uri", "data_statistics"),
    ("data_constraints_uri", "data_constraints"),
    ("model_constraints_uri", "model_constraints"),
    ("bias_pre_uri", "bias_pre"),
    ("bias_post_uri", "bias_post"),
    ("explainability_uri", "explainability"),
)
EVENT_KEYS: Final = frozenset(
    {
        "model_uri",
        "baseline_uri",
        "evaluation_uri",
        "execution_id",
        *(field for field, _ in MONITOR_FILES),
    }
)

# Every key of the answer (LambdaStep outputs are declared once, so they are always there).
# ``<file>_version`` and ``<file>_uri`` are the sealed object's.
ANSWER_KEYS: Final = (
    "status",
    "error",
    "model_sha256",
    "model_version",
    "model_uri",
    "baseline_sha256",
    "baseline_version",
    "baseline_uri",
    "evaluation_sha256",
    "evaluation_version",
    "evaluation_uri",
    # the Model Monitor files' sealed copies (MONITOR_FILES), "none" when not given
    "data_statistics_uri",
    "data_constraints_uri",
    "model_constraints_uri",
    "bias_pre_uri",
    "bias_post_uri",
    "explainability_uri",
)


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
    sealed_prefix: str  # e.g. "sealed/": where the sealed copies are written


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    problems: list[str] = []
    bucket = bucket_setting(
        env,
        "ARTIFACTS_BUCKET",
        "the project's versioned artifacts bucket, the only one whose objects are fingerprinted",
        problems,
    )
    prefix = sealed_prefix_setting(
        env,
        'the key prefix of the artifacts bucket where the files are sealed, e.g. "sealed/"',
        problems,
    )
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(bucket, prefix)


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
    # in FILES then MONITOR_FILES order; without the baseline when it is "none", and without
    # each Model Monitor file absent or "none"
    files: tuple[File, ...]
    execution_id: str


def _object_in_bucket(event: Mapping[str, Any], name: str, config: Config) -> tuple[str, str]:
    bucket, prefix = config.artifacts_bucket, config.sealed_prefix
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
    key = parts[1]
    if key.startswith(prefix):
        raise BadInput(
            f"{name} {uri!r} is under the sealed prefix {prefix!r}: pass the file the pipeline "
            "wrote, a sealed object is never resealed"
        )
    if not file_name(key):
        raise BadInput(f"{name} {uri!r} names no file (the key ends in /)")
    # the sealed URI is an answer value: it must be a customer metadata value (<= 256 characters)
    sealed = f"s3://{bucket}/{sealed_key(prefix, '0' * 64, key)}"
    if not is_metadata_value(sealed):
        raise BadInput(
            f"{name} {uri!r}: its sealed URI (s3://{bucket}/{prefix}<sha256>/{file_name(key)}) "
            "would not be a valid SageMaker customer metadata value (at most 256 letters, "
            "digits, spaces and _.:/=+-@)"
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
        bucket, key = _object_in_bucket(event, name, config)
        files.append(File(name, prefix, bucket, key))
    for name, prefix in MONITOR_FILES:
        if name not in event or event[name] == NONE:
            continue
        bucket, key = _object_in_bucket(event, name, config)
        files.append(File(name, prefix, bucket, key))
    execution_id = get_execution_id(event)
    return Request(tuple(files), execution_id)


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_client: Final = Clients()


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


def seal_files(
    request: Request, prints: Mapping[str, Fingerprint], config: Config
) -> dict[str, Sealed]:
    """Each fingerprinted file's sealed copy by answer prefix (raises NotFingerprintable or an
    AWS error)."""
    s3 = _client("s3")
    sealed: dict[str, Sealed] = {}
    for file in request.files:
        try:
            sealed[file.prefix] = seal(
                s3, prints[file.prefix], config.artifacts_bucket, config.sealed_prefix, PART_SIZE
            )
        except NotFingerprintable as exc:
            raise NotFingerprintable(f"{file.field}: {exc}") from None
    return sealed


def ok_answer(sealed: Mapping[str, Sealed]) -> dict[str, str]:
    answer = _answer(status=OK, error=NONE)
    for _, prefix, _ in FILES:
        taken = sealed.get(prefix)
        answer[f"{prefix}_sha256"] = taken.sha256 if taken else NONE
        answer[f"{prefix}_version"] = taken.version if taken else NONE
        answer[f"{prefix}_uri"] = taken.uri if taken else NONE
    for _, prefix in MONITOR_FILES:
        taken = sealed.get(prefix)
        answer[f"{prefix}_uri"] = taken.uri if taken else NONE
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
    log.bind(artifacts_bucket=config.artifacts_bucket, sealed_prefix=config.sealed_prefix)
    try:
        request = parse_event(event, config)
    except BadInput as exc:
        log.log(logging.ERROR, "event rejected", status=ERROR, error=str(exc))
        return _error(f"bad event: {exc}")
    log.bind(**{f"{file.prefix}_source_uri": file.uri for file in request.files})
    try:
        prints = take_fingerprints(request)
        sealed = seal_files(request, prints, config)
    except NotFingerprintable as exc:
        log.log(logging.ERROR, "not fingerprintable", status=ERROR, error=str(exc))
        return _error(f"not fingerprintable: {exc}")
    except Exception as exc:
        log.aws_failure(exc, "the step fails with it", status="aws-error")
        raise
    answer = ok_answer(sealed)
    fields: dict[str, Any] = {key: answer[key] for key in ANSWER_KEYS if key != "error"}
    for prefix, taken in prints.items():
        fields[f"{prefix}_bytes"] = taken.size
        fields[f"{prefix}_source_version"] = taken.version
        fields[f"{prefix}_newly_sealed"] = sealed[prefix].created
    log.log(logging.INFO, "fingerprinted and sealed", **fields)
    return answer


# In Lambda: report a bad deployment once, at init.
report_bad_config_at_cold_start(load_config, _Log())
