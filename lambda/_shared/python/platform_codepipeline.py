"""Reporting a CodePipeline job's outcome, shared by the platform's Lambda functions that run as
a pipeline's "Invoke Lambda" action (Lambda layer).

The outcome goes back with PutJobSuccessResult or PutJobFailureResult, cut to the API's limits.
A failure to report is logged (ERROR, with the AWS error code and operation) and re-raised, so
that Lambda's retry reports again. The functions take a function returning the caller's
CodePipeline client, called inside the report, so each handler keeps its own client and retries
and even a failure to create the client is logged. Standard library only (the client comes from
boto3).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from platform_logging import InvocationLog
from platform_runtime import error_fields

MESSAGE_MAX: Final = 5000  # FailureDetails.message
SUMMARY_MAX: Final = 2048  # ExecutionDetails.summary


def shorten(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its start ending in "..."."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def report_success(
    codepipeline: Callable[[], Any], job_id: str, summary: str, log: InvocationLog
) -> None:
    """PutJobSuccessResult with ``summary`` (cut to SUMMARY_MAX); raises if it fails."""
    _report(
        "success",
        lambda: codepipeline().put_job_success_result(
            jobId=job_id,
            executionDetails={"summary": summary[:SUMMARY_MAX], "percentComplete": 100},
        ),
        log,
    )


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
