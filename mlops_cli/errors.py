"""One error type for the tool: a message a person can act on, and the exit code."""

from __future__ import annotations


class CliError(Exception):
    """Ends the command with ``message`` on stderr (no stack trace) and exit ``code``.

    Codes: 2 for bad input (arguments, configuration, a missing file), 1 for a failure on the AWS
    side (missing credentials, a resource that does not exist, an API error).
    """

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
