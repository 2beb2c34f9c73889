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
   DescribeModelPackage (a cross-account call by ARN, in the ARN's region) says the same group;
2. ``approved``: its ModelApprovalStatus is ``Approved``;
3. ``fingerprinted``: its customer metadata holds ModelArtifactSha256/Version,
   EvaluationReportSha256/Version and MonitoringBaselineSha256/Version (the last two ``none``
   exactly when the version has no ``MonitoringBaseline``);
4. ``sealed``: the model (``InferenceSpecification.Containers[0].ModelDataUrl``), the
   monitoring baseline (the ``MonitoringBaseline`` customer metadata, unless none) and the
   evaluation report (``ModelMetrics.ModelQuality.Statistics.S3Uri``) are each
   ``s3://SOURCE_BUCKET/<SEALED_PREFIX><sha256>/<file name>`` with ``<sha256>`` the recorded
   SHA-256; so is every Model Monitor baseline file of the version's DriftCheckBaselines
   (``platform_release.DRIFT_FILES``: its statistics, constraints and analysis files, not the
   Clarify ``ConfigFile``s, which are the project's code), with ``<sha256>`` any well-formed
   SHA-256 (these have no fingerprint in the metadata: the key is the fingerprint). Nothing is
   read for this check;
5. ``copied``: each file is copied write-once into TARGET_BUCKET at the same key: a multipart
   copy of exactly the recorded source VersionId (HeadObject of that version for its size,
   CreateMultipartUpload without encryption headers, so the target bucket's default key
   applies, UploadPartCopy, CompleteMultipartUpload with ``If-None-Match: *``). If the key
   already exists in the target (S3 answers 412), the upload is aborted and the existing object
   is the answer, provided it holds the recorded SHA-256 (a replayed job, a re-promotion);
   holding anything else, it is refused (a sealed object is never replaced). After any other
   error the upload is aborted. A DriftCheckBaselines file, which has no recorded version, is
   copied at its current version (HeadObject without a VersionId) the same way;
6. ``verified``: the SHA-256 of the target copy (GetObject of its version, in the target
   account, streamed in 1 MiB chunks: the bytes the stage will serve) is the recorded one (for
   a DriftCheckBaselines file: the one its sealed key names).

The first four stop at their first failure (nothing is copied unless every file is sealed
where the registry says); the copy and the verification run for every file, so one message names
every problem.

Regions: the development account may keep its registry and artifacts bucket in another region
(A, the region of SOURCE_MODEL_PACKAGE_GROUP_ARN) than this function's (B, the target bucket's).
DescribeModelPackage goes to the version ARN's region (``same-group`` made it the source
group's: a SageMaker client of another region does not find the version); the HeadObject of a
source version goes to the source group's region, where SOURCE_BUCKET is taken to be; the copy
(CreateMultipartUpload, UploadPartCopy with the source bucket as CopySource,
CompleteMultipartUpload, AbortMultipartUpload), every read of the target copy and the reports
to CodePipeline go to the function's own region. One client per service and region, made at
first use; with A the function's own region the requests are the same as in one region.

On success, PutJobSuccessResult carries the output variables ``model_data_url``,
``monitoring_baseline`` (``none`` without one), ``evaluation_report`` (the target copies' URIs),
``model_package_arn`` and ``model_sha256``, and one per Model Monitor baseline a deploy template
takes (BASELINE_OUTPUTS, named as the templates' parameters: the target copy's URI, or ``none``
when the version has no such file); with the optional setting DATA_KEY_ARN (this serving
environment's data KMS key, ``arn:<partition>:kms:<region>:<account>:key/<key id>``) also
``data_key_arn``, that ARN, after those (DATA_KEY_OUTPUT: a pipeline in another account passes it to
the endpoint template's DataKeyArn parameter, as it cannot know the key's id; without the
setting there is no such variable); with the optional settings SUBNET_IDS (1 to MAX_SUBNETS
distinct subnet ids, ``subnet-`` and 8 or 17 lower-case hex digits each, comma-separated, no
spaces) and SECURITY_GROUP_ID (``sg-`` and 8 or 17 lower-case hex digits), this serving
environment's VPC placement, set both or neither, also ``subnet_ids`` and
``security_group_id``, their values as set, after all others (VPC_OUTPUTS: for the endpoint
template's SubnetIds and SecurityGroupId parameters in VPC mode, whose generated ids the other
account cannot know either). Any failure is reported with PutJobFailureResult naming each
problem, never raised; an AWS error while reading the registry or copying is that
check's failure. A malformed job, or a missing or invalid setting, is logged and reported as a
failure if the event has a job id, else answered with ``{"status": "rejected"}``. Only a failure
to report (PutJob*Result) is raised, so that Lambda's retry can report again. The event is never
logged: CodePipeline puts temporary artifact credentials in it. A replayed job reports the same
output variables and writes no new object version. Standard library and boto3 only: packaged
with a plain ``Code.from_asset``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError
from platform_codepipeline import (
    SUMMARY_MAX,
    Failure,
    job_id_of,
    not_run,
    reject_without_job_id,
    report_checks_failed,
    report_success,
    shorten,
    user_parameters,
)
from platform_codepipeline import failure_message as _failure_message
from platform_codepipeline import show as _show
from platform_events import GROUP_NAME, KMS_KEY_ARN
from platform_events import BadInput as BadJob
from platform_fingerprint import (
    BASELINE_SHA256_KEY,
    BASELINE_VERSION_KEY,
    CHUNK_SIZE,
    EVALUATION_SHA256_KEY,
    EVALUATION_VERSION_KEY,
    MODEL_SHA256_KEY,
    MODEL_VERSION_KEY,
    NONE,
    NULL_VERSION,
    SEAL_PART_SIZE,
    NotFingerprintable,
    copy_ranges,
    copy_write_once,
    current_version,
    sealed_prefix_setting,
    sha256_of_version,
    split_s3_uri,
)
from platform_logging import InvocationLog, structured_logger
from platform_release import (
    APPROVED,
    ARN_HEAD,
    BASELINE_SOURCES,
    DRIFT_FILES,
    MONITORING_BASELINE,
    ModelVersion,
    approval_problem,
    arn_problems,
    baseline_variables,
    customer_metadata,
    describe_version,
    drift_files,
    fingerprint_problem,
    model_data_url,
    model_version_parameter,
    registered_baseline,
)
from platform_release import sealed_address as _sealed_address
from platform_release import sealed_problem as _sealed_problem
from platform_runtime import (
    Clients,
    ConfigError,
    bucket_setting,
    matching_setting,
    optional_setting,
    report_bad_config_at_cold_start,
)
from platform_runtime import describe_error as _describe_error

CHECKS: Final = ("same-group", "approved", "fingerprinted", "sealed", "copied", "verified")
PARAMETER_KEYS: Final = ("model_package_arn",)
PART_SIZE: Final = SEAL_PART_SIZE  # bytes per UploadPartCopy (a module constant: tests lower it)
# The output variable of each promoted DriftCheckBaselines file a deploy template takes, named
# as the templates' baseline parameters (platform_release.BASELINE_SOURCES, the mapping
# lambda/deploy_router sets the deploy pipeline's variables with), in that order. Not the
# Clarify analysis configs (BiasConfig, ExplainabilityConfig): they are not sealed files (the
# project's code), so they are not promoted.
BASELINE_OUTPUTS: Final = tuple(name for name, path in BASELINE_SOURCES if path in DRIFT_FILES)
# The output variables of a success, in this order (CodePipeline: #{<namespace>.<name>}).
OUTPUT_VARIABLES: Final = (
    "model_data_url",
    "monitoring_baseline",
    "evaluation_report",
    "model_package_arn",
    "model_sha256",
    *BASELINE_OUTPUTS,
)
# The output variable appended after OUTPUT_VARIABLES when DATA_KEY_ARN is set: this serving
# environment's data key, for the endpoint template's DataKeyArn parameter.
DATA_KEY_OUTPUT: Final = "data_key_arn"
# The output variables appended last when SUBNET_IDS and SECURITY_GROUP_ID are set (both or
# neither): this serving environment's VPC placement, for the endpoint template's SubnetIds (a
# comma-separated list) and SecurityGroupId parameters in VPC mode, in this order.
VPC_OUTPUTS: Final = ("subnet_ids", "security_group_id")
# SUBNET_IDS lists at most this many subnets (a subnet per Availability Zone the endpoint uses):
# 6 ids of 24 characters and their commas, 149 characters, well within a variable's 1000.
MAX_SUBNETS: Final = 6


@dataclass(frozen=True)
class FileKind:
    name: str  # log field prefix ("<section>.<source>" for a DriftCheckBaselines file)
    what: str  # in messages
    where: str  # where the version registers it
    sha256_key: str  # customer metadata ("" for a DriftCheckBaselines file: none)
    version_key: str  # customer metadata ("" for a DriftCheckBaselines file: none)
    required: bool  # False: the version may have none (both fingerprints "none")
    # A DriftCheckBaselines file (section, source): sealed without customer metadata, its
    # sealed key names its SHA-256
    drift: tuple[str, str] | None = None


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


def drift_kind(section: str, source: str) -> FileKind:
    """The kind of the DriftCheckBaselines file ``<section>.<source>``."""
    name = f"{section}.{source}"
    return FileKind(
        name,
        f"drift-check baseline {name}",
        f"DriftCheckBaselines.{name}.S3Uri",
        "",
        "",
        False,
        (section, source),
    )


DRIFT_KINDS: Final = {
    f"{section}.{source}": drift_kind(section, source) for section, source in DRIFT_FILES
}

# arn:<partition>:sagemaker:<region>:<account>:model-package-group/<name>
_GROUP_ARN = re.compile(rf"{ARN_HEAD}model-package-group/(?P<group>{GROUP_NAME.pattern})")
# EC2 ids: the prefix and 8 (older) or 17 lower-case hex digits, nothing else
_SUBNET_ID = re.compile(r"subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})")
_SECURITY_GROUP_ID = re.compile(r"sg-(?:[0-9a-f]{8}|[0-9a-f]{17})")
_EC2_ID_FORM = "8 or 17 lower-case hex digits"

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("promote")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (job_id, ...)."""

    logger = LOGGER


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
class VpcPlacement:
    """This serving environment's VPC placement (SUBNET_IDS and SECURITY_GROUP_ID), output as
    VPC_OUTPUTS for the endpoint template: nothing is called with it."""

    subnet_ids: str  # as set: comma-separated subnet ids, no spaces
    security_group_id: str


@dataclass(frozen=True)
class Config:
    source_group: SourceGroup
    source_bucket: str  # the development artifacts bucket, where the files are sealed
    target_bucket: str  # this stage's own artifacts bucket
    sealed_prefix: str  # e.g. "sealed/": the same key prefix in both buckets
    # this serving environment's data key ARN (output as DATA_KEY_OUTPUT), or None: not set
    data_key_arn: str | None = None
    # this serving environment's VPC placement (output as VPC_OUTPUTS), or None: not set
    vpc: VpcPlacement | None = None


def subnet_ids_problem(value: str) -> str | None:
    """Why SUBNET_IDS=``value`` (set, not empty) is not 1 to MAX_SUBNETS distinct subnet ids
    separated by commas, or None."""
    ids = value.split(",")
    # each malformed id once; each well-formed id listed twice or more, once (at its second)
    malformed = dict.fromkeys(i for i in ids if not _SUBNET_ID.fullmatch(i))
    repeated = dict.fromkeys(i for n, i in enumerate(ids) if i in ids[:n] and i not in malformed)
    reasons = [f"{i!r} is not a subnet id" for i in malformed]
    reasons += [f"{i!r} is listed more than once" for i in repeated]
    if len(ids) > MAX_SUBNETS:
        reasons.append(f"it lists {len(ids)}, over {MAX_SUBNETS}")
    if not reasons:
        return None
    return (
        f"SUBNET_IDS={value!r} is not this serving environment's subnets as 1 to {MAX_SUBNETS} "
        "distinct subnet ids separated by commas, without spaces (each subnet- and "
        f"{_EC2_ID_FORM}): {', '.join(reasons)}"
    )


def vpc_setting(env: Mapping[str, str], problems: list[str]) -> VpcPlacement | None:
    """SUBNET_IDS and SECURITY_GROUP_ID, both or neither (empty means unset); appends each
    problem to ``problems``."""
    subnets = env.get("SUBNET_IDS") or None
    if subnets is not None and (problem := subnet_ids_problem(subnets)) is not None:
        problems.append(problem)
    group = optional_setting(
        env,
        "SECURITY_GROUP_ID",
        _SECURITY_GROUP_ID,
        f"a security group id (sg- and {_EC2_ID_FORM}, without spaces: this serving "
        "environment's endpoint security group)",
        problems,
    )
    if (subnets is None) != (group is None):
        named = ["SUBNET_IDS", "SECURITY_GROUP_ID"]
        if subnets is None:
            named.reverse()
        problems.append(
            f"{named[0]} is set but {named[1]} is not: this serving environment's VPC placement "
            "needs both (or neither)"
        )
    if subnets is None or group is None:
        return None
    return VpcPlacement(subnets, group)


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    problems: list[str] = []
    arn = matching_setting(
        env,
        "SOURCE_MODEL_PACKAGE_GROUP_ARN",
        "the development account's model package group, "
        "arn:<partition>:sagemaker:<region>:<account>:model-package-group/<name>",
        _GROUP_ARN,
        "a model package group ARN "
        "(arn:<partition>:sagemaker:<region>:<account>:model-package-group/<name>)",
        problems,
    )
    match = _GROUP_ARN.fullmatch(arn)
    source_bucket = bucket_setting(
        env,
        "SOURCE_BUCKET",
        "the development artifacts bucket, where the version's files are sealed",
        problems,
    )
    target_bucket = bucket_setting(
        env, "TARGET_BUCKET", "this stage's own artifacts bucket, where they are copied", problems
    )
    prefix = sealed_prefix_setting(
        env,
        "the key prefix where the Fingerprint step seals the files and where they are copied, "
        'e.g. "sealed/"',
        problems,
    )
    data_key = optional_setting(
        env,
        "DATA_KEY_ARN",
        KMS_KEY_ARN,
        "a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key id>; this serving "
        "environment's data key, not an alias)",
        problems,
    )
    vpc = vpc_setting(env, problems)
    if problems or match is None:
        raise ConfigError("; ".join(problems))
    group = SourceGroup(arn, match["partition"], match["region"], match["account"], match["group"])
    return Config(group, source_bucket, target_bucket, prefix, data_key, vpc)


# --------------------------------------------------------------------------------------------
# The job


@dataclass(frozen=True)
class Job(ModelVersion):
    """The job: the version to promote (UserParameters ``model_package_arn``)."""


def parse_job(event: object) -> Job:
    """Validates the job and its UserParameters strictly; raises BadJob naming the field."""
    parameters = user_parameters(event, PARAMETER_KEYS)
    return Job(**asdict(model_version_parameter(parameters)))


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_client: Final = Clients(read_timeout=60)


def _sagemaker(region: str) -> Any:
    """SageMaker in ``region``: the registry is regional, so a version is described by a client
    of its ARN's region (a client of another region does not find it)."""
    return _client("sagemaker", region)


def _source_s3(config: Config) -> Any:
    """S3 for the requests on SOURCE_BUCKET itself (HeadObject of the source version): a client
    of the source group's region, where the development account keeps its registry and its
    artifacts bucket."""
    return _client("s3", config.source_group.region)


def _target_s3() -> Any:
    """S3 for the copy and everything on TARGET_BUCKET: the function's own region, the target
    bucket's (an UploadPartCopy is sent to the destination bucket's region, whatever the
    CopySource bucket's)."""
    return _client("s3")


# --------------------------------------------------------------------------------------------
# The checks on the registry (each a Failure of one of CHECKS)


def check_arn(job: Job, config: Config) -> Failure | None:
    """``same-group``, on the ARN alone: group, partition, region, account."""
    source = config.source_group
    problems = arn_problems(
        job, source.name, source.partition, source.region, source.account, "the source group's"
    )
    if not problems:
        return None
    return Failure(
        "same-group",
        f"{job.model_package_arn} is not a version of {source.arn}: " + "; ".join(problems),
    )


def describe(job: Job, config: Config) -> dict[str, Any] | Failure:
    """DescribeModelPackage (a client of the version ARN's region: ``check_arn`` made it the
    source group's), and ``same-group`` on the described group."""
    # the setting is an ARN, which may write the name in lower case: names are unique
    # case-insensitively
    package = describe_version(
        _sagemaker(job.arn_region),
        job.model_package_arn,
        config.source_group.name,
        ignore_case=True,
    )
    return Failure("same-group", package) if isinstance(package, str) else package


def check_approved(job: Job, package: Mapping[str, Any]) -> Failure | None:
    problem = approval_problem(job.model_package_arn, package, "promoted")
    return None if problem is None else Failure("approved", problem)


def evaluation_report_uri(package: Mapping[str, Any]) -> object:
    """ModelMetrics.ModelQuality.Statistics.S3Uri, or None."""
    value: object = package
    for step in ("ModelMetrics", "ModelQuality", "Statistics", "S3Uri"):
        value = value.get(step) if isinstance(value, dict) else None
    return value


def check_fingerprinted(package: Mapping[str, Any]) -> Failure | None:
    problem = fingerprint_problem(
        package,
        ((kind.sha256_key, kind.version_key, not kind.required) for kind in FILE_KINDS),
        not_versions=(NONE, NULL_VERSION),
    )
    return None if problem is None else Failure("fingerprinted", problem)


@dataclass(frozen=True)
class SourceFile:
    """A file of the version, as registered in the development account."""

    kind: FileKind
    uri: object  # as registered (checked by ``sealed``)
    sha256: str  # recorded (a DriftCheckBaselines file: the one its sealed key names)
    # recorded: the sealed source object's version id; None for a DriftCheckBaselines file (no
    # customer metadata): its current version is copied
    version: str | None


def source_files(package: Mapping[str, Any]) -> list[SourceFile]:
    """The version's files (after ``fingerprinted``): model, baseline unless none, report."""
    metadata = customer_metadata(package)
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
    if file.uri is None:
        return f"the version registers no {file.kind.what} ({file.kind.where})"
    return _sealed_problem(
        file.kind.what,
        file.uri,
        file.sha256,
        config.source_bucket,
        config.sealed_prefix,
        "promoted",
    )


def sealed_drift_file(name: str, uri: object, config: Config) -> SourceFile | str:
    """The DriftCheckBaselines file ``name`` (``<section>.<source>``) registered at ``uri``, if
    that is a sealed object of the source bucket (its key names a SHA-256, which the copy must
    have), else why not; nothing is read."""
    kind = DRIFT_KINDS[name]
    addressed, problem = _sealed_address(
        kind.what, uri, config.source_bucket, config.sealed_prefix, "promoted"
    )
    if problem is not None:
        return problem
    assert addressed is not None  # sealed_address answers one or the other
    return SourceFile(kind, uri, addressed, None)


def drift_source_files(package: Mapping[str, Any], config: Config) -> list[SourceFile | str]:
    """Each DRIFT_FILES source of the version's DriftCheckBaselines, in DRIFT_FILES order, as a
    sealed file to copy or why it is not one (none: the version has no Model Monitor
    baselines)."""
    return [sealed_drift_file(name, uri, config) for name, uri in drift_files(package)]


def check_sealed(
    files: list[SourceFile], drift: list[SourceFile | str], config: Config
) -> Failure | None:
    """``sealed``: every file is registered at the sealed key its recorded SHA-256 addresses,
    and every DriftCheckBaselines file at a sealed key of the source bucket (nothing is
    read)."""
    problems = [problem for file in files if (problem := sealed_problem(file, config)) is not None]
    problems += [problem for problem in drift if isinstance(problem, str)]
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


def copy_once(
    source_s3: Any, s3: Any, file: SourceFile, config: Config, key: str
) -> tuple[str, str | None]:
    """Copies the recorded version of ``key`` (a DriftCheckBaselines file: its current version)
    from the source bucket to the same key of the target bucket, write-once
    (``platform_fingerprint.copy_write_once``); returns the source version copied and the new
    object's version id, or None if the key already exists in the target (nothing written).
    ``source_s3`` sends the HeadObject of the source (the source bucket's region), ``s3`` the
    copy (the target bucket's region). AWS errors are raised, after aborting the upload."""
    source_uri = f"s3://{config.source_bucket}/{key}"
    if file.version is None:
        # no recorded version: the current one (NotFingerprintable if the bucket is not
        # versioned); its sealed key names the content it must have, checked on the copy
        version, size = current_version(source_s3, config.source_bucket, key)
    else:
        version = file.version
        head = source_s3.head_object(Bucket=config.source_bucket, Key=key, VersionId=version)
        served = head.get("VersionId")
        if served != version:
            raise NotFingerprintable(
                f"{source_uri} version {version!r}: S3 answered the version {served!r}"
            )
        size = int(head.get("ContentLength", 0))
    try:
        ranges = copy_ranges(size, PART_SIZE)
    except ValueError as exc:
        raise NotFingerprintable(f"{source_uri} version {version!r}: {exc}") from None
    return version, copy_write_once(
        s3,
        config.source_bucket,
        key,
        version,
        config.target_bucket,
        key,
        ranges,
        bucket_role="target",
    )


def _verify_copy(
    s3: Any, file: SourceFile, config: Config, key: str, target_uri: str, version: str | None
) -> tuple[str, str] | Failure:
    """``verified``, reading the copy: its S3 version (the current one when the copy was not
    made now) and its SHA-256, or the failure to read them."""
    what = file.kind.what
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
    return version, actual


def _mismatch(
    file: SourceFile,
    target_uri: str,
    version: str,
    source_version: str,
    actual: str,
    created: bool,
) -> Failure:
    """The failure for a copy whose SHA-256 is not the expected one: ``copied`` when the target
    object already existed, ``verified`` when it was copied now."""
    what = file.kind.what
    recorded = file.version is not None
    expected = (
        f"the registered {file.sha256}" if recorded else f"the {file.sha256} its sealed key names"
    )
    if not created:
        return Failure(
            "copied",
            f"{target_uri} already exists with the SHA-256 {actual} (version {version!r}), not "
            f"{expected} of the {what}: a sealed object is never replaced, and this one does "
            "not hold what its key says",
        )
    why = (
        "the registered version does not hold what the registry records"
        if recorded
        else "the sealed source object does not hold what its key says, it is not the file "
        "the Fingerprint step sealed"
    )
    return Failure(
        "verified",
        f"the copy {target_uri} (version {version!r}) of the {what} {file.uri} version "
        f"{source_version!r} has the SHA-256 {actual}, not {expected}: {why} (the copy stays, "
        "write-once; nothing is deployed from it)",
    )


def promote_file(file: SourceFile, config: Config) -> Promoted | Failure:
    """``copied`` then ``verified`` for one sealed file (its URI passed ``sealed``)."""
    what = file.kind.what
    parts = split_s3_uri(file.uri) if isinstance(file.uri, str) else None
    if parts is None:  # not after ``sealed``
        return Failure("copied", f"the {what} {_show(file.uri)} is not an s3://bucket/key URI")
    key = parts[1]
    target_uri = f"s3://{config.target_bucket}/{key}"
    shown = f"version {file.version!r}" if file.version is not None else "(its current version)"
    s3 = _target_s3()
    try:
        source_version, version = copy_once(_source_s3(config), s3, file, config, key)
    except NotFingerprintable as exc:
        return Failure("copied", f"the {what}: {exc}")
    except (ClientError, BotoCoreError) as exc:
        return Failure(
            "copied",
            f"could not copy the {what} {file.uri} {shown} to {target_uri}: {_describe_error(exc)}",
        )
    created = version is not None
    read = _verify_copy(s3, file, config, key, target_uri, version)
    if isinstance(read, Failure):
        return read
    version, actual = read
    if actual == file.sha256:
        return Promoted(file.kind, target_uri, version, actual, created)
    return _mismatch(file, target_uri, version, source_version, actual, created)


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
    drift = drift_source_files(package, config)
    failure = check_sealed(files, drift, config)
    if failure is not None:
        return [failure]  # nothing is copied unless every file is sealed
    files += [file for file in drift if isinstance(file, SourceFile)]
    failures: list[Failure] = []
    for file in files:
        result = promote_file(file, config)
        if isinstance(result, Failure):
            failures.append(result)
        else:
            promoted.append(result)
    return failures


def local_drift_check_baselines(promoted: list[Promoted]) -> dict[str, dict[str, Any]]:
    """The version's DriftCheckBaselines as this stage has them: each promoted file's section
    and source, with the target copy's S3Uri."""
    local: dict[str, dict[str, Any]] = {}
    for p in promoted:
        if p.kind.drift is not None:
            section, source = p.kind.drift
            local.setdefault(section, {})[source] = {"S3Uri": p.uri}
    return local


def output_variables(
    job: Job,
    promoted: list[Promoted],
    log: InvocationLog | None = None,
    data_key_arn: str | None = None,
    vpc: VpcPlacement | None = None,
) -> dict[str, str]:
    """The success's output variables (every file promoted): OUTPUT_VARIABLES, then
    DATA_KEY_OUTPUT when ``data_key_arn`` is given, then VPC_OUTPUTS when ``vpc`` is. The
    baseline ones are the deploy router's mapping (``platform_release.baseline_variables``) of
    the target copies: ``none`` for a file the version does not have, or (logged) whose URI a
    variable cannot hold."""
    uris = {p.kind.name: p.uri for p in promoted}
    model = next(p for p in promoted if p.kind is MODEL)
    baselines = baseline_variables(local_drift_check_baselines(promoted), log)
    variables = {
        "model_data_url": uris[MODEL.name],
        "monitoring_baseline": uris.get(BASELINE.name, NONE),
        "evaluation_report": uris[EVALUATION.name],
        "model_package_arn": job.model_package_arn,
        "model_sha256": model.sha256,
        **{name: baselines[name] for name in BASELINE_OUTPUTS},
    }
    if data_key_arn is not None:
        variables[DATA_KEY_OUTPUT] = data_key_arn
    if vpc is not None:
        variables.update(zip(VPC_OUTPUTS, (vpc.subnet_ids, vpc.security_group_id), strict=True))
    return variables


def failure_message(job: Job, config: Config, failures: list[Failure]) -> str:
    return _failure_message(
        f"promotion of {job.model_package_arn} to {config.target_bucket}", failures
    )


def success_summary(job: Job, config: Config, promoted: list[Promoted]) -> str:
    parts = [f"{job.model_package_arn} ({APPROVED}) promoted to {config.target_bucket}"]
    for p in promoted:
        if p.kind.drift is None:
            how = "copied" if p.created else "already there"
            parts.append(f"{p.kind.what} {p.uri} ({how}, SHA-256 {p.sha256} verified)")
    if not any(p.kind is BASELINE for p in promoted):
        parts.append(f"no {BASELINE.what}")
    drift = [p for p in promoted if p.kind.drift is not None]
    if drift:
        each = ", ".join(
            f"{p.kind.name} ({'copied' if p.created else 'already there'})" for p in drift
        )
        parts.append(
            f"{len(drift)} drift-check baseline {'file' if len(drift) == 1 else 'files'} "
            f"under s3://{config.target_bucket}/{config.sealed_prefix}, each copy's SHA-256 "
            f"the one its key names: {each}"
        )
    else:
        parts.append("no drift-check baseline files")
    return shorten(", ".join(parts), SUMMARY_MAX)


# --------------------------------------------------------------------------------------------
# Reporting to CodePipeline (errors here are raised: Lambda retries, the report is resent)


def _codepipeline() -> Any:
    return _client("codepipeline")


# --------------------------------------------------------------------------------------------
# Entry point


def _bind_config(log: _Log, config: Config) -> None:
    """Binds the configuration's groups, buckets, data key and VPC to the log lines."""
    log.bind(
        source_model_package_group=config.source_group.arn,
        source_bucket=config.source_bucket,
        target_bucket=config.target_bucket,
    )
    if config.data_key_arn is not None:
        log.bind(data_key_arn=config.data_key_arn)
    if config.vpc is not None:
        log.bind(subnet_ids=config.vpc.subnet_ids, security_group_id=config.vpc.security_group_id)


def _promoted_fields(promoted: list[Promoted]) -> dict[str, Any]:
    """The promoted copies as log and report fields: ``<kind>_uri``, ``_version``, ``_sha256``
    and ``_copied`` per file, the Model Monitor baselines under ``drift_baselines``."""
    files: dict[str, Any] = {
        f"{p.kind.name}_{part}": value
        for p in promoted
        if p.kind.drift is None
        for part, value in (
            ("uri", p.uri),
            ("version", p.version),
            ("sha256", p.sha256),
            ("copied", p.created),
        )
    }
    drift = {
        p.kind.name: {"uri": p.uri, "version": p.version, "sha256": p.sha256, "copied": p.created}
        for p in promoted
        if p.kind.drift is not None
    }
    if drift:
        files["drift_baselines"] = drift
    return files


def handler(event: object, context: object = None) -> dict[str, Any]:
    """Lambda entry point: reports to CodePipeline; raises only if the report itself fails."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    job_id = job_id_of(event)
    log.bind(job_id=job_id)
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        return not_run(_codepipeline, job_id, "promotion", "function", str(exc), log)
    _bind_config(log, config)
    try:
        job = parse_job(event)
    except BadJob as exc:
        return not_run(_codepipeline, job_id, "promotion", "job", str(exc), log)
    if job_id is None:  # parse_job accepted the job, so only the id is wrong
        return reject_without_job_id(log)
    log.bind(model_package_arn=job.model_package_arn)

    promoted: list[Promoted] = []
    failures = run_checks(job, config, promoted)
    files = _promoted_fields(promoted)
    if failures:
        message = failure_message(job, config, failures)
        return report_checks_failed(
            _codepipeline, job_id, "promotion", message, failures, log, **files
        )
    variables = output_variables(job, promoted, log, config.data_key_arn, config.vpc)
    summary = success_summary(job, config, promoted)
    log.log(logging.INFO, "promoted", status="succeeded", **files)
    report_success(_codepipeline, job_id, summary, log, output_variables=variables)
    return {"status": "succeeded", "job_id": job_id, "summary": summary, "outputs": variables}


# In Lambda: report a bad configuration once, at init.
report_bad_config_at_cold_start(load_config, _Log())
