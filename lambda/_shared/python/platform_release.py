"""A model version in the registry, read as the deploy pipeline's release actions read it, shared
by the platform's Lambda functions that verify or promote a release (``lambda/release_check``,
``lambda/promote``; Lambda layer).

A released version is named by a versioned model package ARN (UserParameters
``model_package_arn``); DescribeModelPackage gives its approval, its model artifact, and its
customer metadata: the ``MonitoringBaseline`` URI and the fingerprints the Fingerprint step
recorded (``platform_fingerprint``'s keys). Its files are registered at their sealed keys,
``<sealed prefix><sha256>/<file name>``. The functions here read and judge without writing; each
answers a problem as text (the caller names the check that failed and adds its own outcome:
"deployed", "promoted"). Standard library and botocore's exceptions only (the caller's SageMaker
client comes from boto3).

The version's Model Monitor baselines (DriftCheckBaselines, the closed-service option) are read
here too, the same way for every function: which sources are a run's sealed files
(:data:`DRIFT_FILES`, verified by ``lambda/release_check``, copied by ``lambda/promote``), and
which source each deploy template baseline parameter takes (:data:`BASELINE_SOURCES`, the
deploy pipeline's variables ``lambda/deploy_router`` sets; :func:`baseline_variables`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError
from platform_codepipeline import show
from platform_events import (
    GROUP_NAME,
    BadInput,
    get_object,
    get_string,
    json_type,
    s3_uri_problem,
)
from platform_fingerprint import NONE, SHA256_HEX, sealed_sha256, split_s3_uri
from platform_logging import InvocationLog
from platform_runtime import describe_error

APPROVED: Final = "Approved"
MONITORING_BASELINE: Final = "MonitoringBaseline"  # the version's customer metadata property

ARN_HEAD: Final = (
    r"arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]{1,32}):(?P<account>[0-9]{12}):"
)
# A versioned model package: arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<n>
MODEL_PACKAGE_ARN: Final = re.compile(
    rf"{ARN_HEAD}model-package/(?P<group>{GROUP_NAME.pattern})/(?P<version>[1-9][0-9]{{0,9}})"
)


# The registry's state-change events (SageMaker Model Package State Change), as the deploy
# router and the model card function read them.
EVENT_SOURCE: Final = "aws.sagemaker"
EVENT_DETAIL_TYPE: Final = "SageMaker Model Package State Change"
APPROVAL_STATUSES: Final = frozenset({"Approved", "Rejected", "PendingManualApproval"})


@dataclass(frozen=True)
class ModelPackageChange:
    """A version's approval changed: the event's id, the group, the version (ARN and number),
    its new status, and the ARN's partition, region and account (the registry's)."""

    event_id: str | None
    group: str
    arn: str
    version: int
    approval_status: str
    partition: str
    region: str
    account: str


def _check_envelope(event: Mapping[str, Any], source_account: str | None) -> None:
    """Checks the event's ``source`` and ``detail-type`` (a registry state change) and, with
    ``source_account``, that the event's ``account`` is it; raises BadInput otherwise."""
    source = get_string(event, "source", "source")
    if source != EVENT_SOURCE:
        raise BadInput(f"source {source!r} is not accepted (expected {EVENT_SOURCE!r})")
    detail_type = get_string(event, "detail-type", "detail-type")
    if detail_type != EVENT_DETAIL_TYPE:
        raise BadInput(
            f"detail-type {detail_type!r} is not accepted (expected {EVENT_DETAIL_TYPE!r})"
        )
    if source_account is not None:
        account = get_string(event, "account", "account", 64)
        if account != source_account:
            raise BadInput(
                f"account {account!r} is not SOURCE_ACCOUNT {source_account!r}: only the "
                "development account's approvals are deployed"
            )


def _version_arn(
    detail: Mapping[str, Any], group: str, source_account: str | None
) -> tuple[str, re.Match[str]]:
    """Returns ``detail.ModelPackageArn`` and its match of MODEL_PACKAGE_ARN after checking
    that it is a versioned ARN of ``group`` (and, with ``source_account``, in that account);
    raises BadInput otherwise."""
    arn = get_string(detail, "ModelPackageArn", "detail.ModelPackageArn")
    match = MODEL_PACKAGE_ARN.fullmatch(arn)
    if match is None:
        raise BadInput(f"detail.ModelPackageArn {arn!r} is not a versioned model package ARN")
    # SageMaker writes the group name in lower case in the ARN
    if match["group"].lower() != group.lower():
        raise BadInput(
            f"detail.ModelPackageArn {arn!r} does not belong to detail.ModelPackageGroupName "
            f"{group!r}"
        )
    if source_account is not None and match["account"] != source_account:
        raise BadInput(
            f"detail.ModelPackageArn {arn!r} is in the account {match['account']}, not "
            f"SOURCE_ACCOUNT {source_account}: only the development account's versions are "
            "deployed"
        )
    return arn, match


def _check_stated_version(detail: Mapping[str, Any], version: int) -> None:
    """Checks that ``detail.ModelPackageVersion``, when present, is a number equal to the ARN's
    ``version``; raises BadInput otherwise."""
    if "ModelPackageVersion" in detail:
        stated = detail["ModelPackageVersion"]
        if not isinstance(stated, int) or isinstance(stated, bool):
            raise BadInput(f"detail.ModelPackageVersion must be a number, got {json_type(stated)}")
        if stated != version:
            raise BadInput(
                f"detail.ModelPackageVersion {stated} does not match the version {version} "
                "in detail.ModelPackageArn"
            )


def _approval_status(detail: Mapping[str, Any]) -> str:
    """Returns ``detail.ModelApprovalStatus``; raises BadInput unless it is one of
    APPROVAL_STATUSES."""
    status = get_string(detail, "ModelApprovalStatus", "detail.ModelApprovalStatus", 64)
    if status not in APPROVAL_STATUSES:
        accepted = ", ".join(sorted(APPROVAL_STATUSES))
        raise BadInput(
            f"detail.ModelApprovalStatus {status!r} is not a model approval status "
            f"(one of {accepted})"
        )
    return status


def model_package_change(event: object, source_account: str | None = None) -> ModelPackageChange:
    """Validates an EventBridge event strictly; raises BadInput naming the first problem. With
    ``source_account`` (SOURCE_ACCOUNT), the event's ``account`` and the version ARN's account
    must be it."""
    if not isinstance(event, dict):
        raise BadInput(f"the event must be a JSON object, got {json_type(event)}")
    _check_envelope(event, source_account)
    event_id = event.get("id")
    detail = get_object(event, "detail", "detail")
    group = get_string(detail, "ModelPackageGroupName", "detail.ModelPackageGroupName", 63)
    if not GROUP_NAME.fullmatch(group):
        raise BadInput(f"detail.ModelPackageGroupName {group!r} is not a model package group name")
    arn, match = _version_arn(detail, group, source_account)
    version = int(match["version"])
    _check_stated_version(detail, version)
    status = _approval_status(detail)
    return ModelPackageChange(
        event_id if isinstance(event_id, str) else None,
        group,
        arn,
        version,
        status,
        match["partition"],
        match["region"],
        match["account"],
    )


def accepted_change(
    event: object, group: str, log: InvocationLog, source_account: str | None = None
) -> ModelPackageChange | dict[str, str]:
    """The event's state change (:func:`model_package_change`) when it is of a version of
    ``group``, its ARN, version and approval status then bound to ``log``; else the function's
    answer: ``rejected`` (a malformed event) or ``ignored`` (another group's version), each
    logged where the caller's line is."""
    try:
        change = model_package_change(event, source_account)
    except BadInput as exc:
        log.log(logging.ERROR, "event rejected", status="rejected", error=str(exc), stacklevel=2)
        return {"status": "rejected", "error": str(exc)}
    log.bind(
        model_package_arn=change.arn,
        model_package_version=change.version,
        approval_status=change.approval_status,
    )
    if change.group != group:
        reason = f"model package group {change.group!r} is not {group!r}"
        log.log(logging.INFO, "ignored", status="ignored", reason=reason, stacklevel=2)
        return {"status": "ignored", "reason": reason, "model_package_arn": change.arn}
    return change


# The Model Monitor baselines a version carries, as the deploy templates' baseline parameters
# (BASELINE_PARAMETERS, constructs/mlops_constructs/monitor/settings.py) and the deploy
# pipeline's variables: (name, path in DescribeModelPackage's DriftCheckBaselines to the source
# whose S3Uri it carries).
BASELINE_SOURCES: Final[tuple[tuple[str, tuple[str, str]], ...]] = (
    ("DataQualityStatistics", ("ModelDataQuality", "Statistics")),
    ("DataQualityConstraints", ("ModelDataQuality", "Constraints")),
    ("ModelQualityConstraints", ("ModelQuality", "Constraints")),
    ("BiasConfig", ("Bias", "ConfigFile")),
    ("BiasConstraints", ("Bias", "PostTrainingConstraints")),
    ("ExplainabilityConfig", ("Explainability", "ConfigFile")),
    ("ExplainabilityConstraints", ("Explainability", "Constraints")),
)
BASELINE_VARIABLES: Final[tuple[str, ...]] = tuple(name for name, _ in BASELINE_SOURCES)
VARIABLE_VALUE_MAX: Final = 1000  # a CodePipeline variable value's limit
# The DriftCheckBaselines sources the Fingerprint step seals (section, source), in this order:
# every source of the API but the Clarify monitors' analysis configs (Bias.ConfigFile,
# Explainability.ConfigFile), which are the project's code, not a run's output. Each is sealed
# at <sealed prefix><sha256>/<file name> without customer metadata: its key names its SHA-256.
DRIFT_FILES: Final[tuple[tuple[str, str], ...]] = (
    ("ModelDataQuality", "Statistics"),
    ("ModelDataQuality", "Constraints"),
    ("ModelQuality", "Statistics"),
    ("ModelQuality", "Constraints"),
    ("Bias", "PreTrainingConstraints"),
    ("Bias", "PostTrainingConstraints"),
    ("Explainability", "Constraints"),
)


# --------------------------------------------------------------------------------------------
# The version asked for


@dataclass(frozen=True)
class ModelVersion:
    """A model version as UserParameters names it: its ARN and the ARN's parts."""

    model_package_arn: str
    arn_partition: str
    arn_region: str
    arn_account: str
    arn_group: str  # as the ARN writes it (SageMaker writes it in lower case)


def model_version_parameter(parameters: Mapping[str, Any]) -> ModelVersion:
    """UserParameters ``model_package_arn``, a versioned model package ARN; raises BadInput."""
    arn = get_string(parameters, "model_package_arn", "UserParameters.model_package_arn")
    match = MODEL_PACKAGE_ARN.fullmatch(arn)
    if match is None:
        raise BadInput(
            f"UserParameters.model_package_arn {show(arn)} is not a versioned model package "
            "ARN (was the pipeline started without the ModelPackageArn variable?)"
        )
    return ModelVersion(
        model_package_arn=arn,
        arn_partition=match["partition"],
        arn_region=match["region"],
        arn_account=match["account"],
        arn_group=match["group"],
    )


def arn_problems(
    version: ModelVersion, group: str, partition: str, region: str, account: str, whose: str
) -> list[str]:
    """Why ``version``'s ARN is not of ``group`` (compared case-insensitively: SageMaker
    writes the group name in lower case in the ARN) in that partition, region and account,
    each compared with ``whose`` ("this function's") value; nothing is read."""
    problems: list[str] = []
    if version.arn_group.lower() != group.lower():
        problems.append(f"it is a version of the group {version.arn_group!r}")
    for what, theirs, ours in (
        ("account", version.arn_account, account),
        ("region", version.arn_region, region),
        ("partition", version.arn_partition, partition),
    ):
        if theirs != ours:
            problems.append(f"it is in the {what} {theirs}, not {whose} {ours}")
    return problems


# --------------------------------------------------------------------------------------------
# The group's approved versions


def _approved_listing(group: str, page_size: int) -> dict[str, Any]:
    """ListModelPackages of ``group``'s Approved versions, the most recently created first."""
    return {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": APPROVED,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": page_size,
    }


def approved_versions(sagemaker: Any, group: str, page_size: int) -> Iterator[str]:
    """The ARNs of ``group``'s Approved versions (``group`` a name, or a group ARN), the most
    recently created first, read a page of ``page_size`` at a time: the next page only when the
    caller reads past the ones before (a filtered listing may answer an empty page with a
    NextToken)."""
    request = _approved_listing(group, page_size)
    while True:
        response = sagemaker.list_model_packages(**request)
        for summary in response.get("ModelPackageSummaryList", []):
            arn: str = summary["ModelPackageArn"]
            yield arn
        token = response.get("NextToken")
        if not token:
            return
        request["NextToken"] = token


def newest_approved(sagemaker: Any, group: str) -> str | None:
    """The ARN of ``group``'s most recently created Approved version (``group`` a name, or a
    group ARN), or None: pages of one version, a further page read only after an empty one."""
    return next(approved_versions(sagemaker, group, 1), None)


# --------------------------------------------------------------------------------------------
# The registry's description of it


def describe_version(
    sagemaker: Any, arn: str, group: str, *, ignore_case: bool = False
) -> dict[str, Any] | str:
    """DescribeModelPackage of ``arn`` if the registry says it is a version of ``group`` (with
    ``ignore_case``, the names compared case-insensitively), else why not: an AWS error (it
    could not be read), or another group."""
    try:
        package: dict[str, Any] = sagemaker.describe_model_package(ModelPackageName=arn)
    except (ClientError, BotoCoreError) as exc:
        return f"could not read model package {arn}: {describe_error(exc)}"
    described = package.get("ModelPackageGroupName")
    if ignore_case:
        same = isinstance(described, str) and described.lower() == group.lower()
    else:
        same = described == group
    if not same:
        return f"model package {arn} is in the group {show(described)}, not {group!r}"
    return package


def approval_problem(arn: str, package: Mapping[str, Any], outcome: str) -> str | None:
    """Why the version is not approved, saying what only an approved version is (``outcome``:
    "deployed"), or None."""
    status = package.get("ModelApprovalStatus")
    if status == APPROVED:
        return None
    return f"model package {arn} is {status}, not {APPROVED}: only an approved version is {outcome}"


def customer_metadata(package: Mapping[str, Any]) -> dict[str, Any]:
    """The version's CustomerMetadataProperties ({} when it has none)."""
    metadata = package.get("CustomerMetadataProperties")
    return metadata if isinstance(metadata, dict) else {}


def registered_baseline(package: Mapping[str, Any]) -> str:
    """The version's MonitoringBaseline customer metadata, ``none`` when it has none."""
    value = customer_metadata(package).get(MONITORING_BASELINE)
    return value if isinstance(value, str) and value else NONE


def model_data_url(package: Mapping[str, Any]) -> object:
    """InferenceSpecification.Containers[0].ModelDataUrl, or None."""
    specification = package.get("InferenceSpecification")
    containers = specification.get("Containers") if isinstance(specification, dict) else None
    first = containers[0] if isinstance(containers, list) and containers else None
    return first.get("ModelDataUrl") if isinstance(first, dict) else None


def fingerprint_problem(
    package: Mapping[str, Any],
    files: Iterable[tuple[str, str, bool]],
    not_versions: Iterable[str] = (NONE,),
) -> str | None:
    """Why the version's customer metadata does not hold the fingerprints of ``files`` (each
    ``(SHA-256 key, version key, optional)``: an optional file's are ``none`` exactly when the
    version has no MonitoringBaseline), or None. A recorded version must be a non-empty string
    other than ``not_versions``."""
    metadata = customer_metadata(package)
    baseline = registered_baseline(package)
    refused = tuple(not_versions)
    problems: list[str] = []
    for sha_key, version_key, optional in files:
        missing = [key for key in (sha_key, version_key) if key not in metadata]
        if missing:
            problems.append(f"no {' and no '.join(missing)}")
            continue
        sha, version = metadata[sha_key], metadata[version_key]
        if optional and baseline == NONE:
            if (sha, version) != (NONE, NONE):
                problems.append(
                    f"{sha_key} and {version_key} must be none: the version has no "
                    f"{MONITORING_BASELINE} (got {show(sha)} and {show(version)})"
                )
            continue
        if optional and (sha, version) == (NONE, NONE):
            problems.append(
                f"{sha_key} and {version_key} are none, but the version has the "
                f"{MONITORING_BASELINE} {show(baseline)}"
            )
            continue
        if not isinstance(sha, str) or not SHA256_HEX.fullmatch(sha):
            problems.append(
                f"{sha_key} {show(sha)} is not a SHA-256 (64 lower-case hexadecimal digits)"
            )
        if not isinstance(version, str) or not version or version in refused:
            problems.append(f"{version_key} {show(version)} is not an S3 version id")
    if not problems:
        return None
    return (
        "the version's customer metadata does not hold its fingerprints (was it registered "
        "without the Fingerprint step?): " + "; ".join(problems)
    )


# --------------------------------------------------------------------------------------------
# Its sealed files


def sealed_address(
    what: str, uri: object, bucket: str, sealed_prefix: str, outcome: str
) -> tuple[str | None, str | None]:
    """``(the SHA-256 the sealed key at uri is addressed by, None)`` if ``uri`` is a sealed
    object of ``bucket``, else ``(None, why it is not)``, saying what a version registered with
    unsealed files is not (``outcome``: "deployed"); nothing is read."""
    parts = split_s3_uri(uri) if isinstance(uri, str) else None
    uri_bucket, key = parts if parts is not None else ("", "")
    if uri_bucket != bucket or not key.startswith(sealed_prefix):
        shown = uri if parts is not None else show(uri)
        return None, (
            f"the {what} {shown} is not sealed (an object of {bucket!r} under "
            f"{sealed_prefix!r}): a version registered with unsealed files is not {outcome}, "
            "register it again through the Fingerprint step"
        )
    addressed = sealed_sha256(key, sealed_prefix)
    if addressed is None:
        return None, (
            f"the {what} {uri} is not a sealed object key ({sealed_prefix}<sha256>/<file name>)"
        )
    return addressed, None


def sealed_problem(
    what: str, uri: object, sha256: str, bucket: str, sealed_prefix: str, outcome: str
) -> str | None:
    """Why the file at ``uri`` is not the sealed copy, in ``bucket``, of the content
    ``sha256``, or None (see :func:`sealed_address`); nothing is read."""
    addressed, problem = sealed_address(what, uri, bucket, sealed_prefix, outcome)
    if problem is not None:
        return problem
    if addressed != sha256:
        return (
            f"the {what} {uri} is the sealed copy of the SHA-256 {addressed}, not of the "
            f"registered {sha256}"
        )
    return None


# --------------------------------------------------------------------------------------------
# Its Model Monitor baselines (DriftCheckBaselines)


def drift_files(package: Mapping[str, Any]) -> list[tuple[str, object]]:
    """``("<section>.<source>", its S3Uri)`` of each DRIFT_FILES source the version's
    DriftCheckBaselines has, in DRIFT_FILES order (the S3Uri as described: maybe not a URI)."""
    drift = package.get("DriftCheckBaselines")
    drift = drift if isinstance(drift, Mapping) else {}
    found: list[tuple[str, object]] = []
    for section, source in DRIFT_FILES:
        block = drift.get(section)
        if not isinstance(block, Mapping) or source not in block:
            continue
        metric = block[source]
        found.append(
            (f"{section}.{source}", metric.get("S3Uri") if isinstance(metric, Mapping) else None)
        )
    return found


def baseline_uri_problem(uri: object) -> str | None:
    """Why a baseline location is not an ``s3://bucket/key`` URI usable as a variable, or None."""
    if not isinstance(uri, str):
        return f"is not a string (got {json_type(uri)})"
    return s3_uri_problem(
        uri, max_len=VARIABLE_VALUE_MAX, limit="a pipeline variable's limit", object_key=True
    )


def baseline_variables(
    baselines: Mapping[str, Any], log: InvocationLog | None = None
) -> dict[str, str]:
    """The BASELINE_VARIABLES values for a DriftCheckBaselines structure (``none`` if absent).

    A baseline whose S3Uri is malformed is logged (WARNING) and passed as ``none``: the endpoint
    then has no monitor for it, rather than a deployment that fails on a bad registry entry.
    """
    values: dict[str, str] = {}
    for variable, (section, source) in BASELINE_SOURCES:
        block = baselines.get(section)
        metric = block.get(source) if isinstance(block, Mapping) else None
        uri = metric.get("S3Uri") if isinstance(metric, Mapping) else None
        if uri is None:
            values[variable] = NONE
            continue
        problem = baseline_uri_problem(uri)
        if problem is not None:
            if log is not None:
                log.log(
                    logging.WARNING,
                    "malformed monitoring baseline: passed as none",
                    variable=variable,
                    baseline=f"DriftCheckBaselines.{section}.{source}.S3Uri",
                    value=uri,
                    error=f"DriftCheckBaselines.{section}.{source}.S3Uri {uri!r} {problem}",
                )
            values[variable] = NONE
            continue
        values[variable] = uri
    return values
