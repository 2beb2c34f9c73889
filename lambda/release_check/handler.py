"""Verify a release before it is deployed (the deploy pipeline's "Invoke Lambda" action
``VerifyRelease``, before the staging deployment and again before the production deployment).

A model version's files live in the project's versioned artifacts bucket; whoever can write
there could swap the model or loosen its baseline while an approval waits, and whoever can start
the deploy pipeline chooses its variables. The training pipeline sealed the model artifact and
the open-monitoring baseline (write-once, content-addressed copies under SEALED_PREFIX that only
its Fingerprint function may write), registered the sealed URIs and recorded, in the version's
customer metadata, the sealed objects' versions and SHA-256 (``lambda/fingerprint``); it sealed
and registered the Model Monitor baseline files of the closed-service option
(DriftCheckBaselines) the same way, without metadata (a sealed key names its SHA-256). This
function checks, in order:

1. ``same-group``: UserParameters ``model_package_arn`` is a version of MODEL_PACKAGE_GROUP, in
   the function's own partition, region and account (from ``context.invoked_function_arn``),
   and DescribeModelPackage says the same group;
2. ``approved``: its ModelApprovalStatus is ``Approved``;
3. ``fingerprinted``: its customer metadata holds ModelArtifactSha256, ModelArtifactVersion,
   MonitoringBaselineSha256 and MonitoringBaselineVersion (the last two ``none`` exactly when
   the version has no ``MonitoringBaseline``);
4. ``sealed``: ``InferenceSpecification.Containers[0].ModelDataUrl``, and the version's
   ``MonitoringBaseline`` unless it has none, are sealed objects: objects of ARTIFACTS_BUCKET
   at ``<SEALED_PREFIX><sha256>/<file name>`` where ``<sha256>`` is the recorded SHA-256 (a
   version registered with unsealed files, which the training code could overwrite, is not
   deployed; nothing is read for this check);
5. ``drift-baselines-sealed``: every DriftCheckBaselines file of the version that is a run's
   statistics, constraints or analysis (DRIFT_FILES: all of them but the Clarify ``ConfigFile``s,
   which are the project's code) is a sealed object, ``s3://ARTIFACTS_BUCKET/<SEALED_PREFIX>
   <sha256>/<file name>``, whose current version's SHA-256 (HeadObject, then GetObject with that
   VersionId, streamed) is the ``<sha256>`` its key names (passes when the version has none);
6. ``model-unchanged``: the ModelDataUrl, an object of ARTIFACTS_BUCKET, is still the recorded
   version (HeadObject), and that version's SHA-256 (GetObject with the VersionId, streamed in
   1 MiB chunks) is the recorded one;
7. ``baseline-unchanged``: the same for the version's ``MonitoringBaseline`` (passes when none);
8. ``baselines-match``: every baseline variable the pipeline passes equals what the registry
   says (the DriftCheckBaselines as ``lambda/deploy_router`` maps them, and the
   ``MonitoringBaseline`` customer metadata; ``none`` when absent).

The first three stop at their first failure; the last five are all run (an unsealed file is
still verified unchanged, so one message names everything). The outcome is reported
with PutJobSuccessResult or PutJobFailureResult (naming each failed check and what differed),
never raised; an AWS error while reading the registry or the bucket is that check's failure (an
unverifiable release is not deployed). A malformed job, or a missing or invalid setting, is
logged and reported as a failure if the event has a job id, else answered with
``{"status": "rejected"}``. Only a failure to report (PutJob*Result) is raised, so that Lambda's
retry can report again. The event is never logged: CodePipeline puts temporary artifact
credentials in it. Standard library and boto3 only: packaged with a plain ``Code.from_asset``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
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
from platform_events import BadInput as BadJob
from platform_events import get_object as _get_object
from platform_events import get_string as _get_string
from platform_fingerprint import (
    BASELINE_SHA256_KEY,
    BASELINE_VERSION_KEY,
    CHUNK_SIZE,
    MODEL_SHA256_KEY,
    MODEL_VERSION_KEY,
    NONE,
    NotFingerprintable,
    current_version,
    sealed_prefix_setting,
    sha256_of_version,
    split_s3_uri,
)
from platform_logging import InvocationLog, structured_logger
from platform_release import (
    APPROVED,
    BASELINE_SOURCES,
    MONITORING_BASELINE,
    VARIABLE_VALUE_MAX,
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
from platform_release import DRIFT_FILES as DRIFT_FILES
from platform_release import sealed_address as _sealed_address
from platform_release import sealed_problem as _sealed_problem
from platform_runtime import (
    Clients,
    ConfigError,
    bucket_setting,
    group_setting,
    report_bad_config_at_cold_start,
)
from platform_runtime import describe_error as _describe_error

STAGES: Final = ("staging", "prod")
CHECKS: Final = (
    "same-group",
    "approved",
    "fingerprinted",
    "sealed",
    "drift-baselines-sealed",
    "model-unchanged",
    "baseline-unchanged",
    "baselines-match",
)
PARAMETER_KEYS: Final = ("stage", "model_package_arn", "baselines")
# The Model Monitor baselines, as the deploy pipeline's variables (platform_release's
# BASELINE_SOURCES: each variable and the DriftCheckBaselines source whose S3Uri it carries, the
# mapping lambda/deploy_router sets the variables with), and the DriftCheckBaselines sources the
# Fingerprint step seals (platform_release's DRIFT_FILES, in the order they are verified: every
# source of the API but the Clarify monitors' analysis configs, Bias.ConfigFile and
# Explainability.ConfigFile, which are the project's code, not a run's output).
_BASELINE_SOURCES: Final = BASELINE_SOURCES
# Every baseline variable UserParameters.baselines must hold, in the order they are compared.
BASELINE_VARIABLES: Final[tuple[str, ...]] = (
    *(name for name, _ in _BASELINE_SOURCES),
    MONITORING_BASELINE,
)

# The function's own ARN, maybe qualified by a version or an alias.
_FUNCTION_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):lambda:(?P<region>[a-z0-9-]{1,32}):(?P<account>[0-9]{12}):"
    r"function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?"
)

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("release_check")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (job_id, stage, ...)."""

    logger = LOGGER


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class Config:
    model_package_group: str
    artifacts_bucket: str
    sealed_prefix: str  # e.g. "sealed/": where the Fingerprint step seals the files


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    problems: list[str] = []
    group = group_setting(env, "MODEL_PACKAGE_GROUP", "the project's model package group", problems)
    bucket = bucket_setting(
        env,
        "ARTIFACTS_BUCKET",
        "the project's versioned artifacts bucket, where the fingerprinted files live",
        problems,
    )
    prefix = sealed_prefix_setting(
        env,
        "the key prefix of the artifacts bucket where the Fingerprint step seals the files, "
        'e.g. "sealed/"',
        problems,
    )
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(group, bucket, prefix)


@dataclass(frozen=True)
class Identity:
    """Where the function runs: a released version must be of the same account and region."""

    partition: str
    region: str
    account: str


def identity_of(context: object) -> Identity:
    """The function's partition, region and account, from its own ARN in the invocation
    context; raises ConfigError if the context has none (only outside Lambda)."""
    arn = getattr(context, "invoked_function_arn", None)
    match = _FUNCTION_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        raise ConfigError(
            "the invocation context has no Lambda function ARN (context.invoked_function_arn, "
            f"got {_show(arn)}): the function cannot tell its own account and region"
        )
    return Identity(match["partition"], match["region"], match["account"])


# --------------------------------------------------------------------------------------------
# The job


@dataclass(frozen=True)
class Job(ModelVersion):
    """The job: the version to release (UserParameters ``model_package_arn``), for a stage."""

    stage: str
    baselines: dict[str, str]  # every name of BASELINE_VARIABLES


def _parse_baselines(parameters: Mapping[str, Any]) -> dict[str, str]:
    path = "UserParameters.baselines"
    baselines = _get_object(parameters, "baselines", path)
    unknown = [name for name in baselines if name not in BASELINE_VARIABLES]
    if unknown:
        raise BadJob(
            f"{path} has unknown names {', '.join(map(_show, unknown))} (it takes "
            f"{', '.join(BASELINE_VARIABLES)})"
        )
    # MonitoringBaseline is optional: the open monitoring reads it from the registry, so a
    # pipeline that does not carry it as a variable has nothing to compare.
    missing = [
        name for name in BASELINE_VARIABLES if name not in baselines and name != MONITORING_BASELINE
    ]
    if missing:
        raise BadJob(
            f"{path} misses {', '.join(missing)} (every baseline variable is compared: pass "
            '"#{variables.<name>}" for each)'
        )
    return {
        name: _get_string(baselines, name, f"{path}.{name}", VARIABLE_VALUE_MAX)
        for name in BASELINE_VARIABLES
        if name in baselines
    }


def parse_job(event: object) -> Job:
    """Validates the job and its UserParameters strictly; raises BadJob naming the field."""
    parameters = user_parameters(event, PARAMETER_KEYS)
    stage = _get_string(parameters, "stage", "UserParameters.stage", 64)
    if stage not in STAGES:
        raise BadJob(f"UserParameters.stage {_show(stage)} is not one of {', '.join(STAGES)}")
    version = model_version_parameter(parameters)
    baselines = _parse_baselines(parameters)
    return Job(stage=stage, baselines=baselines, **asdict(version))


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_client: Final = Clients()


# --------------------------------------------------------------------------------------------
# The checks (each a Failure of one of CHECKS)


@dataclass
class Verified:
    """What the passed checks established, for the summary and the logs."""

    group: str = ""
    files: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # uri, version, sha
    # the sealed DriftCheckBaselines files: "<section>.<source>" -> URI
    drift: dict[str, str] = field(default_factory=dict)


def check_arn(job: Job, config: Config, identity: Identity) -> Failure | None:
    """``same-group``, on the ARN alone: group, partition, region, account."""
    problems = arn_problems(
        job,
        config.model_package_group,
        identity.partition,
        identity.region,
        identity.account,
        "this function's",
    )
    if not problems:
        return None
    return Failure(
        "same-group",
        f"{job.model_package_arn} is not a version of {config.model_package_group} in "
        f"{identity.account}/{identity.region}: " + "; ".join(problems),
    )


def describe(job: Job, config: Config) -> dict[str, Any] | Failure:
    """DescribeModelPackage, and ``same-group`` on the described group."""
    # unverifiable is not releasable: the deployment stops here rather than proceed
    package = describe_version(
        _client("sagemaker"), job.model_package_arn, config.model_package_group
    )
    return Failure("same-group", package) if isinstance(package, str) else package


def check_approved(job: Job, package: Mapping[str, Any]) -> Failure | None:
    problem = approval_problem(job.model_package_arn, package, "deployed")
    return None if problem is None else Failure("approved", problem)


def check_fingerprinted(package: Mapping[str, Any]) -> Failure | None:
    problem = fingerprint_problem(
        package,
        (
            (MODEL_SHA256_KEY, MODEL_VERSION_KEY, False),
            (BASELINE_SHA256_KEY, BASELINE_VERSION_KEY, True),
        ),
    )
    return None if problem is None else Failure("fingerprinted", problem)


def sealed_address(what: str, uri: object, config: Config) -> tuple[str | None, str | None]:
    """``(the SHA-256 the sealed key at uri is addressed by, None)`` if ``uri`` is a sealed
    object of the artifacts bucket, else ``(None, why it is not)``; nothing is read."""
    return _sealed_address(what, uri, config.artifacts_bucket, config.sealed_prefix, "deployed")


def sealed_problem(what: str, uri: object, sha256: str, config: Config) -> str | None:
    """Why the file at ``uri`` is not the sealed copy of the content ``sha256``, or None."""
    return _sealed_problem(
        what, uri, sha256, config.artifacts_bucket, config.sealed_prefix, "deployed"
    )


def check_sealed(package: Mapping[str, Any], config: Config) -> Failure | None:
    """``sealed``: the model artifact and the monitoring baseline (unless none) are sealed
    objects, each at the key its registered SHA-256 addresses (nothing is read)."""
    metadata = customer_metadata(package)
    files: list[tuple[str, object, str]] = [
        ("model artifact", model_data_url(package), metadata[MODEL_SHA256_KEY])
    ]
    baseline = registered_baseline(package)
    if baseline != NONE:
        files.append(("monitoring baseline", baseline, metadata[BASELINE_SHA256_KEY]))
    problems = [
        problem
        for what, uri, sha256 in files
        if (problem := sealed_problem(what, uri, sha256, config)) is not None
    ]
    return Failure("sealed", "; ".join(problems)) if problems else None


def drift_file_problem(name: str, uri: object, config: Config) -> str | None:
    """Why the DriftCheckBaselines file ``name`` at ``uri`` is not a sealed object holding the
    content its key names, or None. Reads it (HeadObject, GetObject of that version)."""
    what = f"drift-check baseline {name}"
    addressed, problem = sealed_address(what, uri, config)
    if problem is not None:
        return problem
    assert isinstance(uri, str)  # sealed_address accepted it
    bucket, key = split_s3_uri(uri) or ("", "")
    s3 = _client("s3")
    try:
        version, _ = current_version(s3, bucket, key)
        actual, _ = sha256_of_version(s3, bucket, key, version, CHUNK_SIZE)
    except NotFingerprintable as exc:
        return f"the {what}: {exc}"
    except (ClientError, BotoCoreError) as exc:
        return f"could not read the {what} {uri}: {_describe_error(exc)}"
    if actual != addressed:
        return (
            f"the {what} {uri} version {version!r} has the SHA-256 {actual}, not the "
            f"{addressed} its sealed key names: it is not the file the Fingerprint step sealed"
        )
    return None


def check_drift_baselines_sealed(
    package: Mapping[str, Any], config: Config, verified: Verified
) -> Failure | None:
    """``drift-baselines-sealed``: every DRIFT_FILES source of the version's
    DriftCheckBaselines is a sealed object that holds what its key says (each one read)."""
    problems: list[str] = []
    for name, uri in drift_files(package):
        problem = drift_file_problem(name, uri, config)
        if problem is None:
            verified.drift[name] = str(uri)
        else:
            problems.append(problem)
    return Failure("drift-baselines-sealed", "; ".join(problems)) if problems else None


def verify_object(
    check: str, what: str, uri: object, version: str, sha256: str, config: Config
) -> Failure | None:
    """The object at ``uri`` is still the recorded version, with the recorded SHA-256."""
    parts = split_s3_uri(uri) if isinstance(uri, str) else None
    if parts is None:
        return Failure(check, f"the {what} {_show(uri)} is not an s3://bucket/key URI")
    bucket, key = parts
    if bucket != config.artifacts_bucket:
        return Failure(
            check,
            f"the {what} {uri} is not in the artifacts bucket {config.artifacts_bucket!r}: "
            "its fingerprint cannot be verified",
        )
    s3 = _client("s3")
    try:
        current, _ = current_version(s3, bucket, key)
        if current != version:
            return Failure(
                check,
                f"the {what} {uri} is now the version {current!r}, not the registered "
                f"{version!r}: it was written after registration",
            )
        actual, _ = sha256_of_version(s3, bucket, key, version, CHUNK_SIZE)
    except NotFingerprintable as exc:
        return Failure(check, f"the {what}: {exc}")
    except (ClientError, BotoCoreError) as exc:
        return Failure(check, f"could not read the {what} {uri}: {_describe_error(exc)}")
    if actual != sha256:
        return Failure(
            check,
            f"the {what} {uri} version {version!r} has the SHA-256 {actual}, not the "
            f"registered {sha256}",
        )
    return None


def registry_baselines(package: Mapping[str, Any]) -> dict[str, str]:
    """Every baseline variable's value as the registry says it: deploy_router's mapping of
    DriftCheckBaselines (``platform_release.baseline_variables``: ``none`` when absent or not an
    s3://bucket/key URI usable as a variable) and the MonitoringBaseline customer metadata
    (``none`` when absent)."""
    drift = package.get("DriftCheckBaselines")
    values = baseline_variables(drift if isinstance(drift, Mapping) else {})
    values[MONITORING_BASELINE] = registered_baseline(package)
    return values


def check_baselines_match(job: Job, package: Mapping[str, Any]) -> Failure | None:
    expected = registry_baselines(package)
    problems: list[str] = []
    for name in (n for n in BASELINE_VARIABLES if n in job.baselines):
        passed, registered = job.baselines[name], expected[name]
        if passed == registered:
            continue
        if passed == NONE:
            problems.append(
                f"{name} is none but the version has {registered}: the {job.stage} endpoint "
                "would run without that monitoring baseline"
            )
        else:
            problems.append(f"{name} is {_show(passed)}, the version has {_show(registered)}")
    if not problems:
        return None
    return Failure(
        "baselines-match",
        "the pipeline's baseline variables are not the version's: " + "; ".join(problems),
    )


def _gate_checks(
    job: Job, config: Config, identity: Identity, verified: Verified
) -> dict[str, Any] | Failure:
    """The first three checks, which stop at a failure (ARN, group, approval and fingerprints):
    the described version, or the first failure."""
    failure = check_arn(job, config, identity)
    if failure is not None:
        return failure  # another group's, account's or region's version is not read at all
    package = describe(job, config)
    if isinstance(package, Failure):
        return package
    verified.group = config.model_package_group
    for gate in (check_approved(job, package), check_fingerprinted(package)):
        if gate is not None:
            return gate
    return package


def _verify_model(
    package: Mapping[str, Any], metadata: Mapping[str, Any], config: Config, verified: Verified
) -> Failure | None:
    """``model-unchanged``: the model artifact is still the registered version and SHA-256
    (recorded in ``verified`` when it is)."""
    model_uri = model_data_url(package)
    failure = verify_object(
        "model-unchanged",
        "model artifact",
        model_uri,
        metadata[MODEL_VERSION_KEY],
        metadata[MODEL_SHA256_KEY],
        config,
    )
    if failure is None:
        verified.files["model"] = (
            str(model_uri),
            metadata[MODEL_VERSION_KEY],
            metadata[MODEL_SHA256_KEY],
        )
    return failure


def _verify_baseline(
    package: Mapping[str, Any], metadata: Mapping[str, Any], config: Config, verified: Verified
) -> Failure | None:
    """``baseline-unchanged``: the monitoring baseline, when the version has one, is still the
    registered version and SHA-256 (recorded in ``verified`` when it is)."""
    baseline_uri = registered_baseline(package)
    if baseline_uri == NONE:
        return None
    failure = verify_object(
        "baseline-unchanged",
        "monitoring baseline",
        baseline_uri,
        metadata[BASELINE_VERSION_KEY],
        metadata[BASELINE_SHA256_KEY],
        config,
    )
    if failure is None:
        verified.files["baseline"] = (
            baseline_uri,
            metadata[BASELINE_VERSION_KEY],
            metadata[BASELINE_SHA256_KEY],
        )
    return failure


def run_checks(job: Job, config: Config, identity: Identity, verified: Verified) -> list[Failure]:
    """The checks in order: the first three stop at a failure, the last five all run."""
    package = _gate_checks(job, config, identity, verified)
    if isinstance(package, Failure):
        return [package]
    metadata = customer_metadata(package)
    results = [  # evaluated in this order
        check_sealed(package, config),
        check_drift_baselines_sealed(package, config, verified),
        _verify_model(package, metadata, config, verified),
        _verify_baseline(package, metadata, config, verified),
        check_baselines_match(job, package),
    ]
    return [failure for failure in results if failure is not None]


def failure_message(job: Job, failures: list[Failure]) -> str:
    return _failure_message(f"release check of {job.model_package_arn} for {job.stage}", failures)


def success_summary(job: Job, verified: Verified) -> str:
    parts = [
        f"release of {job.model_package_arn} verified for {job.stage}: a version of "
        f"{verified.group}, {APPROVED}"
    ]
    for name, what in (("model", "model artifact"), ("baseline", "monitoring baseline")):
        if name in verified.files:
            _, version, sha = verified.files[name]
            parts.append(f"{what} version {version} with the SHA-256 {sha}")
        else:
            parts.append(f"no {what}")
    drift = len(verified.drift)
    parts.append(
        f"{drift} drift-check baseline {'file' if drift == 1 else 'files'} sealed"
        if drift
        else "no drift-check baseline files"
    )
    parts.append(f"the {len(job.baselines)} baseline variables match the registry")
    text = ", ".join(parts)
    return shorten(text, SUMMARY_MAX)


# --------------------------------------------------------------------------------------------
# Reporting to CodePipeline (errors here are raised: Lambda retries, the report is resent)


def _codepipeline() -> Any:
    return _client("codepipeline")


# --------------------------------------------------------------------------------------------
# Entry point


def handler(event: object, context: object = None) -> dict[str, Any]:
    """Lambda entry point: reports to CodePipeline; raises only if the report itself fails."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    job_id = job_id_of(event)
    log.bind(job_id=job_id)
    try:
        config = load_config(os.environ)
        identity = identity_of(context)
    except ConfigError as exc:
        return not_run(_codepipeline, job_id, "release check", "function", str(exc), log)
    log.bind(model_package_group=config.model_package_group)
    try:
        job = parse_job(event)
    except BadJob as exc:
        return not_run(_codepipeline, job_id, "release check", "job", str(exc), log)
    if job_id is None:  # parse_job accepted the job, so only the id is wrong
        return reject_without_job_id(log)
    log.bind(stage=job.stage, model_package_arn=job.model_package_arn)

    verified = Verified()
    failures = run_checks(job, config, identity, verified)
    files: dict[str, Any] = {
        f"{name}_{part}": value
        for name, (uri, version, sha) in verified.files.items()
        for part, value in (("uri", uri), ("version", version), ("sha256", sha))
    }
    if verified.drift:
        files["drift_baselines"] = dict(verified.drift)
    if failures:
        message = failure_message(job, failures)
        return report_checks_failed(
            _codepipeline, job_id, "release check", message, failures, log, **files
        )
    summary = success_summary(job, verified)
    log.log(logging.INFO, "release check passed", status="succeeded", **files)
    report_success(_codepipeline, job_id, summary, log)
    return {"status": "succeeded", "job_id": job_id, "summary": summary}


# In Lambda: report a bad configuration once, at init.
report_bad_config_at_cold_start(load_config, _Log())
