"""Strict reading of JSON events shared by the platform's Lambda functions (Lambda layer).

Every problem raises :class:`BadInput` naming the field by its JSON path, so a handler can answer
a malformed event with one clear error instead of a stack trace (and without a retry).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class BadInput(ValueError):
    """An event or job that can never succeed; the message names the offending field."""


def json_type(value: object) -> str:
    """The JSON name of a value's type, for messages ("got number")."""
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}
    return "null" if value is None else names.get(type(value), "object")


def get(container: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in container:
        raise BadInput(f"{path} is missing")
    return container[key]


def get_object(container: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    value = get(container, key, path)
    if not isinstance(value, dict):
        raise BadInput(f"{path} must be an object, got {json_type(value)}")
    return value


def get_string(container: Mapping[str, Any], key: str, path: str, max_len: int = 2048) -> str:
    value = get(container, key, path)
    if not isinstance(value, str):
        raise BadInput(f"{path} must be a string, got {json_type(value)}")
    if not value.strip():
        raise BadInput(f"{path} must not be empty")
    if len(value) > max_len:
        raise BadInput(f"{path} is longer than {max_len} characters")
    return value
