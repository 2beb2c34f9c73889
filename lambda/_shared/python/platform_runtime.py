"""Runtime conventions shared by the platform's Lambda functions (Lambda layer).

Configuration errors name every problem at once and are reported at cold start; AWS errors are
logged with their code and operation before they are re-raised for a retry.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError
from platform_events import BUCKET_NAME
from platform_logging import InvocationLog


class ConfigError(ValueError):
    """The function's environment is missing or invalid; the message names every problem."""


def bucket_setting(env: Mapping[str, str], name: str, meaning: str, problems: list[str]) -> str:
    """The setting ``name``, an S3 bucket name (``meaning`` says which bucket); a problem is
    appended to ``problems`` if it is not set or not a bucket name."""
    bucket = env.get(name, "")
    if not bucket:
        problems.append(f"{name} is not set ({meaning})")
    elif not BUCKET_NAME.fullmatch(bucket):
        problems.append(f"{name}={bucket!r} is not an S3 bucket name")
    return bucket


def error_fields(exc: BaseException) -> dict[str, Any]:
    """Log fields describing an exception: the AWS error code and operation when there is one."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return {
            "error": error.get("Message") or str(exc),
            "error_code": error.get("Code"),
            "operation": exc.operation_name,
        }
    return {"error": str(exc), "error_code": type(exc).__name__}


def describe_error(exc: BaseException) -> str:
    """An exception for a message: ``<AWS error code or exception type>: <message>``."""
    fields = error_fields(exc)
    return f"{fields['error_code']}: {fields['error']}"


def report_bad_config_at_cold_start(
    load_config: Callable[[Mapping[str, str]], object], log: InvocationLog
) -> None:
    """In Lambda, log a configuration error once at init: every invocation would fail."""
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    try:
        load_config(os.environ)
    except ConfigError as exc:
        log.log(
            logging.ERROR,
            "configuration error at cold start: every invocation will fail",
            status="failed",
            error=str(exc),
        )
