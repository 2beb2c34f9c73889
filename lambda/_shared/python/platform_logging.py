"""Structured logging shared by the platform's Lambda functions (shipped as a Lambda layer).

Each function's logger is a Powertools for AWS Lambda (Python) ``Logger`` (the AWS-managed
Powertools layer at run time, the pinned pip package in tests): one JSON object per line on
stdout, which CloudWatch Logs keeps as is, with Powertools' keys (``level``, ``location``,
``message``, ``timestamp`` in ISO 8601 UTC, ``service`` = the function, ``exception``) and the
fields the invocation bound. An exception is logged with its AWS error code and operation when
it has them (:func:`error_fields`). ADR 0024 says why the rest of the layer stays hand-written.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, ClassVar

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

# Log record attributes: a field of one of these names would make the standard library raise
# (or Powertools drop it), so such a field is logged with a trailing underscore instead.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "location",
    "timestamp",
    "level",
}


class _StdoutHandler(logging.Handler):
    """Writes to the *current* sys.stdout, so a test's capture sees the lines too."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


def structured_logger(name: str) -> Logger:
    """The function's Powertools Logger, service ``name``: JSON lines on stdout, INFO and up
    (or the function's Lambda log level), set up once per process."""
    logger = Logger(service=name, logger_handler=_StdoutHandler(), utc=True, use_rfc3339=True)
    # The Lambda runtime's root handler would repeat each line in its own format.
    logging.getLogger(name).propagate = False
    return logger


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


class InvocationLog:
    """One invocation's logger: every line carries the fields bound so far (kept here, not
    appended to the shared Logger, so nothing leaks into the next invocation).

    Subclasses set ``logger`` (from :func:`structured_logger`).
    """

    logger: ClassVar[Logger]

    def __init__(self, **fields: Any) -> None:
        self.fields: dict[str, Any] = dict(fields)

    def bind(self, **fields: Any) -> None:
        self.fields.update(fields)

    def log(
        self, level: int, message: str, exc_info: bool = False, stacklevel: int = 1, **fields: Any
    ) -> None:
        """Logs ``message`` with the bound ``fields`` and these; the line's location is the
        caller's (``stacklevel`` 1, as in the standard library; 2: its caller's, for a shared
        function that logs on behalf of the handler that called it)."""
        self._emit(level, message, exc_info, fields, stacklevel)

    def aws_failure(self, exc: BaseException, consequence: str, status: str = "error") -> None:
        """Logs an AWS call's failure (``AWS call failed: <consequence>``, e.g. "re-raising for
        a retry") at ERROR with its stack trace and :func:`error_fields`; the caller re-raises.
        The line's location is the caller's."""
        fields = {"status": status, **error_fields(exc)}
        self._emit(logging.ERROR, f"AWS call failed: {consequence}", True, fields, 1)

    def _emit(
        self, level: int, message: str, exc_info: bool, fields: dict[str, Any], stacklevel: int
    ) -> None:
        extra = {
            f"{key}_" if key in _RECORD_ATTRIBUTES else key: value
            for key, value in {**self.fields, **fields}.items()
        }
        emit = getattr(self.logger, logging.getLevelName(level).lower())  # .info, .error, ...
        # + 3: the location is not Powertools', this method's, nor that of log or aws_failure
        emit(message, exc_info=exc_info, extra=extra, stacklevel=stacklevel + 3)
