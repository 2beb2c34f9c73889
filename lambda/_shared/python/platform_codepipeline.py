"""A CodePipeline job's event and outcome, shared by the platform's Lambda functions that run as
a pipeline's "Invoke Lambda" action (Lambda layer).

The job is read strictly: its id (:func:`job_id_of`, only a well-formed one can be reported to)
and its UserParameters (:func:`user_parameters`, a JSON object, raising ``BadInput`` naming the
field). The outcome goes back with PutJobSuccessResult (with output variables when the action
has them) or PutJobFailureResult, cut to the API's limits; a failure names each failed check
(:class:`Failure`). A failure to report is logged (ERROR, with the AWS error code and operation)
and re-raised, so that Lambda's retry reports again. The functions take a function returning the
caller's CodePipeline client, called inside the report, so each handler keeps its own client and
retries and even a failure to create the client is logged. Standard library only (the client
comes from boto3).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from platform_events import BadInput, get_object, get_string, json_type
from platform_logging import InvocationLog, error_fields

MESSAGE_MAX: Final = 5000  # FailureDetails.message
SUMMARY_MAX: Final = 2048  # ExecutionDetails.summary
USER_PARAMETERS_MAX: Final = 100_000  # characters of UserParameters read
SHOWN_MAX: Final = 200  # characters of a value quoted in a message

_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def shorten(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its start ending in "..."."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(value: object, limit: int = SHOWN_MAX) -> str:
    """A value for a message: its repr, cut short."""
    return shorten(repr(value), limit)


# --------------------------------------------------------------------------------------------
# The job


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


def user_parameters(event: object, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """The job's UserParameters, a JSON object (with ``keys``: of no other keys than those);
    raises BadInput naming the field."""
    if not isinstance(event, dict):
        raise BadInput(f"the event must be a JSON object, got {json_type(event)}")
    job = get_object(event, "CodePipeline.job", "CodePipeline.job")
    data = get_object(job, "data", "CodePipeline.job.data")
    action = get_object(data, "actionConfiguration", "CodePipeline.job.data.actionConfiguration")
    configuration = get_object(
        action, "configuration", "CodePipeline.job.data.actionConfiguration.configuration"
    )
    raw = get_string(configuration, "UserParameters", "UserParameters", USER_PARAMETERS_MAX)
    try:
        parameters = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadInput(f"UserParameters is not valid JSON: {exc}") from None
    if not isinstance(parameters, dict):
        raise BadInput(f"UserParameters must be a JSON object, got {json_type(parameters)}")
    unknown = [key for key in parameters if keys is not None and key not in keys]
    if unknown:
        raise BadInput(
            f"UserParameters has unknown keys {', '.join(map(show, unknown))} (it takes "
            f"{', '.join(keys or ())})"
        )
    return parameters


# --------------------------------------------------------------------------------------------
# The outcome


@dataclass(frozen=True)
class Failure:
    """A failed check of the job: the check's name and what failed."""

    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


def failure_message(subject: str, failures: Sequence[Failure]) -> str:
    """``<subject> failed (<checks>): <check>: <detail>; ...``, cut to MESSAGE_MAX (``subject``:
    "release check of <arn> for prod")."""
    checks = ", ".join(dict.fromkeys(f.check for f in failures))
    text = f"{subject} failed ({checks}): " + "; ".join(map(str, failures))
    return shorten(text, MESSAGE_MAX)


def report_success(
    codepipeline: Callable[[], Any],
    job_id: str,
    summary: str,
    log: InvocationLog,
    output_variables: Mapping[str, str] | None = None,
) -> None:
    """PutJobSuccessResult with ``summary`` (cut to SUMMARY_MAX) and, when given, the action's
    ``output_variables``; raises if it fails."""
    request: dict[str, Any] = {
        "jobId": job_id,
        "executionDetails": {"summary": summary[:SUMMARY_MAX], "percentComplete": 100},
    }
    if output_variables is not None:
        request["outputVariables"] = dict(output_variables)
    _report("success", lambda: codepipeline().put_job_success_result(**request), log)


def report_failure(
    codepipeline: Callable[[], Any],
    job_id: str,
    failure_type: str,
    message: str,
    log: InvocationLog,
) -> None:
    """PutJobFailureResult of ``failure_type`` ("JobFailed", "ConfigurationError") with
    ``message`` (cut to MESSAGE_MAX); raises if it fails."""
    _report(
        "failure",
        lambda: codepipeline().put_job_failure_result(
            jobId=job_id, failureDetails={"type": failure_type, "message": message[:MESSAGE_MAX]}
        ),
        log,
    )


def _report(outcome: str, send: Callable[[], object], log: InvocationLog) -> None:
    """Sends a report; on any error logs it and re-raises, so that Lambda retries."""
    try:
        send()
    except Exception as exc:
        log.log(
            logging.ERROR,
            f"could not report {outcome} to CodePipeline: re-raising for a retry",
            status="error",
            exc_info=True,
            **error_fields(exc),
        )
        raise


def not_run(
    codepipeline: Callable[[], Any],
    job_id: str | None,
    what: str,
    subject: str,
    error: str,
    log: InvocationLog,
) -> dict[str, Any]:
    """``what`` (the function's work: "release check") was not run because the ``subject`` ("job"
    or "function") is misconfigured: logged and reported as a ConfigurationError, or rejected
    when there is no job id to report to (then the client is not asked for)."""
    if job_id is None:
        error = f"{error} (and no usable CodePipeline.job.id to report to)"
        log.log(logging.ERROR, "event rejected", status="rejected", error=error)
        return {"status": "rejected", "error": error}
    message = f"{what} not run, the {subject} is misconfigured: {error}"
    log.log(logging.ERROR, f"{subject} misconfigured", status="failed", error=message)
    report_failure(codepipeline, job_id, "ConfigurationError", message, log)
    return {"status": "failed", "job_id": job_id, "error": message[:MESSAGE_MAX]}


def reject_without_job_id(log: InvocationLog) -> dict[str, Any]:
    """A valid job without a usable id (nothing to report to): logged and rejected."""
    error = "CodePipeline.job.id is missing or not a job id"
    log.log(logging.ERROR, "event rejected", status="rejected", error=error)
    return {"status": "rejected", "error": error}


def report_checks_failed(
    codepipeline: Callable[[], Any],
    job_id: str,
    what: str,
    message: str,
    failures: Sequence[Failure],
    log: InvocationLog,
    **fields: Any,
) -> dict[str, Any]:
    """``what`` (the function's work: "release check") failed ``failures``: logged (ERROR, with
    the checks, ``message`` and ``fields``), reported as JobFailed with ``message`` (raises if
    the report fails); the handler's answer."""
    checks = list(dict.fromkeys(f.check for f in failures))
    log.log(
        logging.ERROR,
        f"{what} failed",
        status="failed",
        checks=checks,
        error=message,
        **fields,
    )
    report_failure(codepipeline, job_id, "JobFailed", message, log)
    return {"status": "failed", "job_id": job_id, "checks": checks, "error": message}
