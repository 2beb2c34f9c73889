"""The one error type of the kit (and of the project code built on it)."""

from __future__ import annotations


class DataValidationError(ValueError):
    """Input that breaks the contract; the message names where and why.

    A ValueError: AWS's serving containers answer a ValueError from ``input_fn`` with a client
    error, and the skeletons' scripts turn it into one line on stderr and exit code 2.
    """
