"""Structured logging shared by the platform's Lambda functions (shipped as a Lambda layer).

One JSON object per line on stdout, which CloudWatch Logs keeps as is. Standard library only.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, ClassVar


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; fields passed as ``extra={"fields": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({key: value for key, value in fields.items() if value is not None})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StdoutHandler(logging.Handler):
    """Writes to the *current* sys.stdout, so a test's capture sees the lines too."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


def structured_logger(name: str) -> logging.Logger:
    """The function's logger: JSON lines on stdout, INFO and up, set up once per process."""
    logger = logging.getLogger(name)
    if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the Lambda runtime's root handler would prefix and repeat lines
    return logger


class InvocationLog:
    """One invocation's logger: every line carries the fields bound so far.

    Subclasses set ``logger`` (from :func:`structured_logger`).
    """

    logger: ClassVar[logging.Logger]

    def __init__(self, **fields: Any) -> None:
        self.fields: dict[str, Any] = dict(fields)

    def bind(self, **fields: Any) -> None:
        self.fields.update(fields)

    def log(self, level: int, message: str, exc_info: bool = False, **fields: Any) -> None:
        self.logger.log(
            level, message, exc_info=exc_info, extra={"fields": {**self.fields, **fields}}
        )
