"""Promote an approved model version into a serving account (the deploy pipeline's "Invoke
Lambda" action ``Promote``, in the target account, before the stage's deployment).

Models are trained and registered once, in the development account: the version's files are
sealed there (write-once, content-addressed copies at ``<SEALED_PREFIX><sha256>/<file name>`` of
the development artifacts bucket, ``lambda/fingerprint``), and its customer metadata records
each sealed object's S3 version and SHA-256. Staging and production run in other accounts and
must serve the same bytes from their own bucket: production must not depend on the development
account at run time. This function, running in the target account, checks in order:

1. ``same-group``: UserParameters ``model_package_arn`` is a version of the source group
   SOURCE_MODEL_PACKAGE_GROUP_ARN (same partition, region and account; the group name compared
   case-insensitively, as SageMaker writes it in lower case in version ARNs), and
   DescribeModelPackage (a cross-account call by ARN) says the same group;
2. ``approved``: its ModelApprovalStatus is ``Approved``;
3. ``fingerprinted``: its customer metadata holds ModelArtifactSha256/Version,
   EvaluationReportSha256/Version and MonitoringBaselineSha256/Version (the last two ``none``
   exactly when the version has no ``MonitoringBaseline``);
4. ``sealed``: the model (``InferenceSpecification.Containers[0].ModelDataUrl``), the
   monitoring baseline (the ``MonitoringBaseline`` customer metadata, unless none) and the
   evaluation report (``ModelMetrics.ModelQuality.Statistics.S3Uri``) are each
   ``s3://SOURCE_BUCKET/<SEALED_PREFIX><sha256>/<file name>`` with ``<sha256>`` the recorded
   SHA-256 (nothing is read for this check);
5. ``copied``: each file is copied write-once into TARGET_BUCKET at the same key: a multipart
   copy of exactly the recorded source VersionId (HeadObject of that version for its size,
   CreateMultipartUpload without encryption headers, so the target bucket's default key
   applies, UploadPartCopy, CompleteMultipartUpload with ``If-None-Match: *``). If the key
   already exists in the target (S3 answers 412), the upload is aborted and the existing object
   is the answer, provided it holds the recorded SHA-256 (a replayed job, a re-promotion);
   holding anything else, it is refused (a sealed object is never replaced). After any other
   error the upload is aborted;
6. ``verified``: the SHA-256 of the target copy (GetObject of its version, in the target
   account, streamed in 1 MiB chunks: the bytes the stage will serve) is the recorded one.

The first four stop at their first failure (nothing is copied unless every file is sealed
where the registry says); the copy and the verification run for every file, so one message names
every problem. On success, PutJobSuccessResult carries the output variables ``model_data_url``,
``monitoring_baseline`` (``none`` without one), ``evaluation_report`` (the target copies' URIs),
``model_package_arn`` and ``model_sha256``. Any failure is reported with PutJobFailureResult
naming each problem, never raised; an AWS error while reading the registry or copying is that
check's failure. A malformed job, or a missing or invalid setting, is logged and reported as a
failure if the event has a job id, else answered with ``{"status": "rejected"}``. Only a failure
to report (PutJob*Result) is raised, so that Lambda's retry can report again. The event is never
logged: CodePipeline puts temporary artifact credentials in it. A replayed job reports the same
output variables and writes no new object version. Standard library and boto3 only: packaged
with a plain ``Code.from_asset``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from platform_codepipeline import (
    MESSAGE_MAX,
    SUMMARY_MAX,
    not_run,
    report_failure,
    shorten,
)
from platform_events import BUCKET_NAME
from platform_events import BadInput as BadJob
from platform_events import get_object as _get_object
from platform_events import get_string as _get_string
from platform_events import json_type as _json_type
from platform_fingerprint import (
    BASELINE_SHA256_KEY,
    BASELINE_VERSION_KEY,
    CHUNK_SIZE,
    EVALUATION_SHA256_KEY,
    EVALUATION_VERSION_KEY,
    MODEL_SHA256_KEY,
    MODEL_VERSION_KEY,
    NONE,
    SEAL_PART_SIZE,
    SEALED_PREFIX,
    SHA256_HEX,
    NotFingerprintable,
    copy_ranges,
    current_version,
    sealed_sha256,
    sha256_of_version,
    split_s3_uri,
)
from platform_logging import InvocationLog, structured_logger
from platform_runtime import ConfigError, report_bad_config_at_cold_start
from platform_runtime import error_fields as _error_fields

APPROVED: Final = "Approved"
CHECKS: Final = ("same-group", "approved", "fingerprinted", "sealed", "copied", "verified")
PARAMETER_KEYS: Final = ("model_package_arn",)
MONITORING_BASELINE: Final = "MonitoringBaseline"  # the version's customer metadata property
PART_SIZE: Final = SEAL_PART_SIZE  # bytes per UploadPartCopy (a module constant: tests lower it)
SHOWN_MAX: Final = 200  # characters of a value quoted in a message
# The output variables of a success, in this order (CodePipeline: #{<namespace>.<name>}).
OUTPUT_VARIABLES: Final = (
    "model_data_url",
    "monitoring_baseline",
    "evaluation_report",
    "model_package_arn",
    "model_sha256",
)


@dataclass(frozen=True)
class FileKind:
    name: str  # log field prefix
    what: str  # in messages
    where: str  # where the version registers it
    sha256_key: str  # customer metadata
    version_key: str  # customer metadata
    required: bool  # False: the version may have none (both fingerprints "none")


MODEL: Final = FileKind(
    "model",
    "model artifact",
    "InferenceSpecification.Containers[0].ModelDataUrl",
    MODEL_SHA256_KEY,
    MODEL_VERSION_KEY,
    True,
)
BASELINE: Final = FileKind(
    "baseline",
    "monitoring baseline",
    f"the {MONITORING_BASELINE} customer metadata",
    BASELINE_SHA256_KEY,
    BASELINE_VERSION_KEY,
    False,
)
EVALUATION: Final = FileKind(
    "evaluation",
    "evaluation report",
    "ModelMetrics.ModelQuality.Statistics.S3Uri",
    EVALUATION_SHA256_KEY,
    EVALUATION_VERSION_KEY,
    True,
)
FILE_KINDS: Final = (MODEL, BASELINE, EVALUATION)

_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_GROUP = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
_ARN_HEAD = (
    r"arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]{1,32}):(?P<account>[0-9]{12}):"
)
# arn:<partition>:sagemaker:<region>:<account>:model-package-group/<name>
_GROUP_ARN = re.compile(rf"{_ARN_HEAD}model-package-group/(?P<group>{_GROUP})")
# A versioned model package: arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<n>
_MODEL_PACKAGE_ARN = re.compile(
    rf"{_ARN_HEAD}model-package/(?P<group>{_GROUP})/(?P<version>[1-9][0-9]{{0,9}})"
)
# What S3 answers as the VersionId of an object written while versioning was off or suspended.
_NULL_VERSION: Final = "null"

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("promote")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (job_id, ...)."""

    logger = LOGGER


def _show(value: object, limit: int = SHOWN_MAX) -> str:
    """A value for a message: its repr, cut short."""
    return shorten(repr(value), limit)


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class SourceGroup:
    """The development account's model package group, from its ARN."""

    arn: str
    partition: str
    region: str
    account: str
    name: str


@dataclass(frozen=True)
class Config:
    source_group: SourceGroup
    source_bucket: str  # the development artifacts bucket, where the files are sealed
    target_bucket: str  # this stage's own artifacts bucket
    sealed_prefix: str  # e.g. "sealed/": the same key prefix in both buckets


def _bucket_setting(env: Mapping[str, str], name: str, meaning: str, problems: list[str]) -> str:
    bucket = env.get(name, "")
    if not bucket:
        problems.append(f"{name} is not set ({meaning})")
    elif not BUCKET_NAME.fullmatch(bucket):
        problems.append(f"{name}={bucket!r} is not an S3 bucket name")
    return bucket


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    problems: list[str] = []
    arn = env.get("SOURCE_MODEL_PACKAGE_GROUP_ARN", "")
    match = _GROUP_ARN.fullmatch(arn)
    if not arn:
        problems.append(
            "SOURCE_MODEL_PACKAGE_GROUP_ARN is not set (the development account's model package "
            "group, arn:<partition>:sagemaker:<region>:<account>:model-package-group/<name>)"
        )
    elif match is None:
        problems.append(
            f"SOURCE_MODEL_PACKAGE_GROUP_ARN={arn!r} is not a model package group ARN "
            "(arn:<partition>:sagemaker:<region>:<account>:model-package-group/<name>)"
        )
    source_bucket = _bucket_setting(
        env,
        "SOURCE_BUCKET",
        "the development artifacts bucket, where the version's files are sealed",
        problems,
    )
    target_bucket = _bucket_setting(
        env, "TARGET_BUCKET", "this stage's own artifacts bucket, where they are copied", problems
    )
    prefix = env.get("SEALED_PREFIX", "")
    if not prefix:
        problems.append(
            "SEALED_PREFIX is not set (the key prefix where the Fingerprint step seals the files "
            'and where they are copied, e.g. "sealed/")'
        )
    elif not SEALED_PREFIX.fullmatch(prefix):
        problems.append(
            f"SEALED_PREFIX={prefix!r} is not a key prefix (segments of letters, digits and "
            '._- each ending in "/", e.g. "sealed/")'
        )
    if problems or match is None:
        raise ConfigError("; ".join(problems))
    group = SourceGroup(arn, match["partition"], match["region"], match["account"], match["group"])
    return Config(group, source_bucket, target_bucket, prefix)


# --------------------------------------------------------------------------------------------
# The job


@dataclass(frozen=True)
class Job:
    model_package_arn: str
    arn_partition: str
    arn_region: str
    arn_account: str
    arn_group: str  # as the ARN writes it (SageMaker writes it in lower case)


def job_id_of(event: object) -> str | None:
    """The job id if the event carries a well-formed one (only then can it be reported)."""
    if not isinstance(event, dict):
        return None
    job = event.get("CodePipeline.job")
    if not isinstance(job, dict):
        return None
    job_id = job.get("id")
    if isinstance(job_id, str) and _JOB_ID.fullmatch(job_id):
        return job_id
    return None


def parse_job(event: object) -> Job:
    """Validates the job and its UserParameters strictly; raises BadJob naming the field."""
    if not isinstance(event, dict):
        raise BadJob(f"the event must be a JSON object, got {_json_type(event)}")
    job = _get_object(event, "CodePipeline.job", "CodePipeline.job")
    data = _get_object(job, "data", "CodePipeline.job.data")
    action = _get_object(data, "actionConfiguration", "CodePipeline.job.data.actionConfiguration")
    configuration = _get_object(
        action, "configuration", "CodePipeline.job.data.actionConfiguration.configuration"
    )
    raw = _get_string(configuration, "UserParameters", "UserParameters", 100_000)
    try:
        parameters = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadJob(f"UserParameters is not valid JSON: {exc}") from None
    if not isinstance(parameters, dict):
        raise BadJob(f"UserParameters must be a JSON object, got {_json_type(parameters)}")
    unknown = [key for key in parameters if key not in PARAMETER_KEYS]
    if unknown:
        raise BadJob(
            f"UserParameters has unknown keys {', '.join(map(_show, unknown))} (it takes "
            f"{', '.join(PARAMETER_KEYS)})"
        )
    arn = _get_string(parameters, "model_package_arn", "UserParameters.model_package_arn")
    match = _MODEL_PACKAGE_ARN.fullmatch(arn)
    if match is None:
        raise BadJob(
            f"UserParameters.model_package_arn {_show(arn)} is not a versioned model package "
            "ARN (was the pipeline started without the ModelPackageArn variable?)"
        )
    return Job(
        model_package_arn=arn,
        arn_partition=match["partition"],
        arn_region=match["region"],
        arn_account=match["account"],
        arn_group=match["group"],
    )


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_BOTO_CONFIG: Final = BotoConfig(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=60
)
_CLIENTS: dict[tuple[str, str | None], Any] = {}


def _client(service: str, region: str | None = None) -> Any:
    """The function's client of ``service`` (in ``region``, else the function's own)."""
    if (service, region) not in _CLIENTS:
        _CLIENTS[service, region] = boto3.client(service, region_name=region, config=_BOTO_CONFIG)
    return _CLIENTS[service, region]


def _sagemaker(config: Config) -> Any:
    """SageMaker in the source group's region (the registry is regional)."""
    return _client("sagemaker", config.source_group.region)


def _describe_error(exc: BaseException) -> str:
    fields = _error_fields(exc)
    return f"{fields['error_code']}: {fields['error']}"


# --------------------------------------------------------------------------------------------
# The checks on the registry


@dataclass(frozen=True)
class Failure:
    check: str  # one of CHECKS
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


def check_arn(job: Job, config: Config) -> Failure | None:
    """``same-group``, on the ARN alone: group, partition, region, account."""
    source = config.source_group
    problems: list[str] = []
    # SageMaker writes the group name in lower case in the ARN
    if job.arn_group.lower() != source.name.lower():
        problems.append(f"it is a version of the group {job.arn_group!r}")
    for what, theirs, ours in (
        ("account", job.arn_account, source.account),
        ("region", job.arn_region, source.region),
        ("partition", job.arn_partition, source.partition),
    ):
        if theirs != ours:
            problems.append(f"it is in the {what} {theirs}, not the source group's {ours}")
    if not problems:
        return None
    return Failure(
        "same-group",
        f"{job.model_package_arn} is not a version of {source.arn}: " + "; ".join(problems),
    )


def describe(job: Job, config: Config) -> dict[str, Any] | Failure:
    """DescribeModelPackage, and ``same-group`` on the described group."""
    try:
        package: dict[str, Any] = _sagemaker(config).describe_model_package(
            ModelPackageName=job.model_package_arn
        )
    except (ClientError, BotoCoreError) as exc:
        return Failure(
            "same-group",
            f"could not read model package {job.model_package_arn}: {_describe_error(exc)}",
        )
    group = package.get("ModelPackageGroupName")
    # the setting is an ARN, which may write the name in lower case: names are unique
    # case-insensitively
    if not isinstance(group, str) or group.lower() != config.source_group.name.lower():
        return Failure(
            "same-group",
            f"model package {job.model_package_arn} is in the group {_show(group)}, not "
            f"{config.source_group.name!r}",
        )
    return package


def check_approved(job: Job, package: Mapping[str, Any]) -> Failure | None:
    status = package.get("ModelApprovalStatus")
    if status == APPROVED:
        return None
    return Failure(
        "approved",
        f"model package {job.model_package_arn} is {status}, not {APPROVED}: only an approved "
        "version is promoted",
    )


def _metadata(package: Mapping[str, Any]) -> dict[str, Any]:
    metadata = package.get("CustomerMetadataProperties")
    return metadata if isinstance(metadata, dict) else {}


def registered_baseline(package: Mapping[str, Any]) -> str:
    """The version's MonitoringBaseline customer metadata, ``none`` when it has none."""
    value = _metadata(package).get(MONITORING_BASELINE)
    return value if isinstance(value, str) and value else NONE


def model_data_url(package: Mapping[str, Any]) -> object:
    """InferenceSpecification.Containers[0].ModelDataUrl, or None."""
    specification = package.get("InferenceSpecification")
    containers = specification.get("Containers") if isinstance(specification, dict) else None
    first = containers[0] if isinstance(containers, list) and containers else None
    return first.get("ModelDataUrl") if isinstance(first, dict) else None


def evaluation_report_uri(package: Mapping[str, Any]) -> object:
    """ModelMetrics.ModelQuality.Statistics.S3Uri, or None."""
    value: object = package
    for step in ("ModelMetrics", "ModelQuality", "Statistics", "S3Uri"):
        value = value.get(step) if isinstance(value, dict) else None
    return value


def check_fingerprinted(package: Mapping[str, Any]) -> Failure | None:
    metadata = _metadata(package)
    baseline = registered_baseline(package)
    problems: list[str] = []
    for kind in FILE_KINDS:
        sha_key, version_key = kind.sha256_key, kind.version_key
        missing = [key for key in (sha_key, version_key) if key not in metadata]
        if missing:
            problems.append(f"no {' and no '.join(missing)}")
            continue
        sha, version = metadata[sha_key], metadata[version_key]
        if not kind.required:
            if baseline == NONE:
                if (sha, version) != (NONE, NONE):
                    problems.append(
                        f"{sha_key} and {version_key} must be none: the version has no "
                        f"{MONITORING_BASELINE} (got {_show(sha)} and {_show(version)})"
                    )
                continue
            if (sha, version) == (NONE, NONE):
                problems.append(
                    f"{sha_key} and {version_key} are none, but the version has the "
                    f"{MONITORING_BASELINE} {_show(baseline)}"
                )
                continue
        if not isinstance(sha, str) or not SHA256_HEX.fullmatch(sha):
            problems.append(
                f"{sha_key} {_show(sha)} is not a SHA-256 (64 lower-case hexadecimal digits)"
            )
        if not isinstance(version, str) or not version or version in (NONE, _NULL_VERSION):
            problems.append(f"{version_key} {_show(version)} is not an S3 version id")
    if not problems:
        return None
    return Failure(
        "fingerprinted",
        "the version's customer metadata does not hold its fingerprints (was it registered "
        "without the Fingerprint step?): " + "; ".join(problems),
    )


@dataclass(frozen=True)
class SourceFile:
    """A file of the version, as registered in the development account."""

    kind: FileKind
    uri: object  # as registered (checked by ``sealed``)
    sha256: str  # recorded
    version: str  # recorded: the sealed source object's version id


def source_files(package: Mapping[str, Any]) -> list[SourceFile]:
    """The version's files (after ``fingerprinted``): model, baseline unless none, report."""
    metadata = _metadata(package)
    files: list[SourceFile] = []
    for kind, uri in (
        (MODEL, model_data_url(package)),
        (BASELINE, registered_baseline(package)),
        (EVALUATION, evaluation_report_uri(package)),
    ):
        if kind is BASELINE and uri == NONE:
            continue
        files.append(SourceFile(kind, uri, metadata[kind.sha256_key], metadata[kind.version_key]))
    return files


def sealed_problem(file: SourceFile, config: Config) -> str | None:
    """Why ``file`` is not registered as the sealed copy of its recorded SHA-256, or None."""
    what, uri, sha256 = file.kind.what, file.uri, file.sha256
    if uri is None:
        return f"the version registers no {what} ({file.kind.where})"
    parts = split_s3_uri(uri) if isinstance(uri, str) else None
    bucket, key = parts if parts is not None else ("", "")
    if bucket != config.source_bucket or not key.startswith(config.sealed_prefix):
        shown = uri if parts is not None else _show(uri)
        return (
            f"the {what} {shown} is not sealed (an object of {config.source_bucket!r} under "
            f"{config.sealed_prefix!r}): a version registered with unsealed files is not "
            "promoted, register it again through the Fingerprint step"
        )
    addressed = sealed_sha256(key, config.sealed_prefix)
    if addressed is None:
        return (
            f"the {what} {uri} is not a sealed object key ({config.sealed_prefix}<sha256>/<file "
            "name>)"
        )
    if addressed != sha256:
        return (
            f"the {what} {uri} is the sealed copy of the SHA-256 {addressed}, not of the "
            f"registered {sha256}"
        )
    return None


def check_sealed(files: list[SourceFile], config: Config) -> Failure | None:
    """``sealed``: every file is registered at the sealed key its recorded SHA-256 addresses
    (nothing is read)."""
    problems = [problem for file in files if (problem := sealed_problem(file, config)) is not None]
    return Failure("sealed", "; ".join(problems)) if problems else None


# --------------------------------------------------------------------------------------------
# The copy into the target bucket


@dataclass(frozen=True)
class Promoted:
    kind: FileKind
    uri: str  # the target copy: s3://TARGET_BUCKET/<sealed key>
    version: str  # the target object's version id
    sha256: str
    created: bool  # False: the key already held the same content (a replay, a re-promotion)


def _precondition_failed(exc: ClientError) -> bool:
    """Whether S3 refused a conditional write because the key exists (412)."""
    code = exc.response.get("Error", {}).get("Code")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return bool(code == "PreconditionFailed" or status == 412)


def _abort(s3: Any, bucket: str, key: str, upload_id: str) -> None:
    """AbortMultipartUpload, best effort: its own failure must not hide the original one (a
    bucket lifecycle rule can clean up an upload left behind)."""
    with contextlib.suppress(Exception):
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def _version_of(uri: str, version: object) -> str:
    if not isinstance(version, str) or not version or version == _NULL_VERSION:
        raise NotFingerprintable(f"{uri} has no version id: the target bucket must be versioned")
    return version


def copy_once(s3: Any, file: SourceFile, config: Config, key: str) -> str | None:
    """Copies the recorded version of ``key`` from the source bucket to the same key of the
    target bucket, write-once; returns the new object's version id, or None if the key already
    exists in the target (nothing written). AWS errors are raised, after aborting the upload."""
    source_uri = f"s3://{config.source_bucket}/{key}"
    target_uri = f"s3://{config.target_bucket}/{key}"
    head = s3.head_object(Bucket=config.source_bucket, Key=key, VersionId=file.version)
    served = head.get("VersionId")
    if served != file.version:
        raise NotFingerprintable(
            f"{source_uri} version {file.version!r}: S3 answered the version {served!r}"
        )
    try:
        ranges = copy_ranges(int(head.get("ContentLength", 0)), PART_SIZE)
    except ValueError as exc:
        raise NotFingerprintable(f"{source_uri} version {file.version!r}: {exc}") from None
    copy_source = {"Bucket": config.source_bucket, "Key": key, "VersionId": file.version}
    bucket = config.target_bucket
    upload_id: str = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        completed: list[dict[str, Any]] = []
        for number, byte_range in enumerate(ranges, start=1):
            request: dict[str, Any] = {
                "Bucket": bucket,
                "Key": key,
                "UploadId": upload_id,
                "PartNumber": number,
                "CopySource": copy_source,
            }
            if byte_range is not None:
                request["CopySourceRange"] = byte_range
            answer = s3.upload_part_copy(**request)
            copied = answer.get("CopySourceVersionId")
            if copied is not None and copied != file.version:
                raise NotFingerprintable(
                    f"{source_uri} version {file.version!r}: S3 copied the version {copied!r}"
                )
            completed.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})
        try:
            done = s3.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": completed},
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if not _precondition_failed(exc):
                raise
            done = None
    except BaseException:
        _abort(s3, bucket, key, upload_id)
        raise
    if done is None:  # the key exists; S3 keeps the upload after a failed precondition
        _abort(s3, bucket, key, upload_id)
        return None
    return _version_of(target_uri, done.get("VersionId"))


def promote_file(file: SourceFile, config: Config) -> Promoted | Failure:
    """``copied`` then ``verified`` for one sealed file (its URI passed ``sealed``)."""
    what = file.kind.what
    parts = split_s3_uri(file.uri) if isinstance(file.uri, str) else None
    if parts is None:  # not after ``sealed``
        return Failure("copied", f"the {what} {_show(file.uri)} is not an s3://bucket/key URI")
    key = parts[1]
    target_uri = f"s3://{config.target_bucket}/{key}"
    s3 = _client("s3")
    try:
        version = copy_once(s3, file, config, key)
    except NotFingerprintable as exc:
        return Failure("copied", f"the {what}: {exc}")
    except (ClientError, BotoCoreError) as exc:
        return Failure(
            "copied",
            f"could not copy the {what} {file.uri} version {file.version!r} to {target_uri}: "
            f"{_describe_error(exc)}",
        )
    created = version is not None
    try:
        if version is None:
            version, _ = current_version(s3, config.target_bucket, key)
        actual, _ = sha256_of_version(s3, config.target_bucket, key, version, CHUNK_SIZE)
    except NotFingerprintable as exc:
        return Failure("verified", f"the {what} copy: {exc}")
    except (ClientError, BotoCoreError) as exc:
        return Failure(
            "verified", f"could not read the {what} copy {target_uri}: {_describe_error(exc)}"
        )
    if actual == file.sha256:
        return Promoted(file.kind, target_uri, version, actual, created)
    if not created:
        return Failure(
            "copied",
            f"{target_uri} already exists with the SHA-256 {actual} (version {version!r}), not "
            f"the registered {file.sha256} of the {what}: a sealed object is never replaced, "
            "and this one does not hold what its key says",
        )
    return Failure(
        "verified",
        f"the copy {target_uri} (version {version!r}) of the {what} {file.uri} version "
        f"{file.version!r} has the SHA-256 {actual}, not the registered {file.sha256}: the "
        "registered version does not hold what the registry records (the copy stays, "
        "write-once; nothing is deployed from it)",
    )


# --------------------------------------------------------------------------------------------
# All of it


def run_checks(job: Job, config: Config, promoted: list[Promoted]) -> list[Failure]:
    """The checks in order: the first four stop at a failure, the copy runs for every file;
    ``promoted`` receives each file copied and verified."""
    failure = check_arn(job, config)
    if failure is not None:
        return [failure]  # another group's, account's or region's version is not read at all
    package = describe(job, config)
    if isinstance(package, Failure):
        return [package]
    for gate in (check_approved(job, package), check_fingerprinted(package)):
        if gate is not None:
            return [gate]
    files = source_files(package)
    failure = check_sealed(files, config)
    if failure is not None:
        return [failure]  # nothing is copied unless every file is sealed
    failures: list[Failure] = []
    for file in files:
        result = promote_file(file, config)
        if isinstance(result, Failure):
            failures.append(result)
        else:
            promoted.append(result)
    return failures


def output_variables(job: Job, promoted: list[Promoted]) -> dict[str, str]:
    """The success's output variables (every file promoted)."""
    uris = {p.kind.name: p.uri for p in promoted}
    model = next(p for p in promoted if p.kind is MODEL)
    return {
        "model_data_url": uris[MODEL.name],
        "monitoring_baseline": uris.get(BASELINE.name, NONE),
        "evaluation_report": uris[EVALUATION.name],
        "model_package_arn": job.model_package_arn,
        "model_sha256": model.sha256,
    }


def failure_message(job: Job, config: Config, failures: list[Failure]) -> str:
    checks = ", ".join(dict.fromkeys(f.check for f in failures))
    text = (
        f"promotion of {job.model_package_arn} to {config.target_bucket} failed ({checks}): "
        + "; ".join(map(str, failures))
    )
    return shorten(text, MESSAGE_MAX)


def success_summary(job: Job, config: Config, promoted: list[Promoted]) -> str:
    parts = [f"{job.model_package_arn} ({APPROVED}) promoted to {config.target_bucket}"]
    for p in promoted:
        how = "copied" if p.created else "already there"
        parts.append(f"{p.kind.what} {p.uri} ({how}, SHA-256 {p.sha256} verified)")
    if not any(p.kind is BASELINE for p in promoted):
        parts.append(f"no {BASELINE.what}")
    return shorten(", ".join(parts), SUMMARY_MAX)


# --------------------------------------------------------------------------------------------
# Reporting to CodePipeline (errors here are raised: Lambda retries, the report is resent)


def _codepipeline() -> Any:
    return _client("codepipeline")


def report_promoted(
    job_id: str, summary: str, variables: Mapping[str, str], log: InvocationLog
) -> None:
    """PutJobSuccessResult with the summary and the output variables; on any error logs it and
    re-raises, so that Lambda retries (platform_codepipeline.report_success takes no output
    variables)."""
    try:
        _codepipeline().put_job_success_result(
            jobId=job_id,
            executionDetails={"summary": summary[:SUMMARY_MAX], "percentComplete": 100},
            outputVariables=dict(variables),
        )
    except Exception as exc:
        log.log(
            logging.ERROR,
            "could not report success to CodePipeline: re-raising for a retry",
            status="error",
            exc_info=True,
            **_error_fields(exc),
        )
        raise


# --------------------------------------------------------------------------------------------
# Entry point


def handler(event: object, context: object = None) -> dict[str, Any]:
    """Lambda entry point: reports to CodePipeline; raises only if the report itself fails."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    job_id = job_id_of(event)
    log.bind(job_id=job_id)
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        return not_run(_codepipeline, job_id, "promotion", "function", str(exc), log)
    log.bind(
        source_model_package_group=config.source_group.arn,
        source_bucket=config.source_bucket,
        target_bucket=config.target_bucket,
    )
    try:
        job = parse_job(event)
    except BadJob as exc:
        return not_run(_codepipeline, job_id, "promotion", "job", str(exc), log)
    if job_id is None:  # parse_job accepted the job, so only the id is wrong
        error = "CodePipeline.job.id is missing or not a job id"
        log.log(logging.ERROR, "event rejected", status="rejected", error=error)
        return {"status": "rejected", "error": error}
    log.bind(model_package_arn=job.model_package_arn)

    promoted: list[Promoted] = []
    failures = run_checks(job, config, promoted)
    files: dict[str, Any] = {
        f"{p.kind.name}_{part}": value
        for p in promoted
        for part, value in (
            ("uri", p.uri),
            ("version", p.version),
            ("sha256", p.sha256),
            ("copied", p.created),
        )
    }
    if failures:
        message = failure_message(job, config, failures)
        checks = list(dict.fromkeys(f.check for f in failures))
        log.log(
            logging.ERROR,
            "promotion failed",
            status="failed",
            checks=checks,
            error=message,
            **files,
        )
        report_failure(_codepipeline, job_id, "JobFailed", message, log)
        return {"status": "failed", "job_id": job_id, "checks": checks, "error": message}
    variables = output_variables(job, promoted)
    summary = success_summary(job, config, promoted)
    log.log(logging.INFO, "promoted", status="succeeded", **files)
    report_promoted(job_id, summary, variables, log)
    return {"status": "succeeded", "job_id": job_id, "summary": summary, "outputs": variables}


# In Lambda: report a bad configuration once, at init.
report_bad_config_at_cold_start(load_config, _Log())
