"""Strict reading of JSON events shared by the platform's Lambda functions (Lambda layer).

Every problem raises :class:`BadInput` naming the field by its JSON path, so a handler can answer
a malformed event with one clear error instead of a stack trace (and without a retry).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_S3_PREFIX_URI = re.compile(r"s3://(?P<bucket>[^/]+)(?P<path>/.*)?")
_S3_OBJECT_URI = re.compile(r"s3://(?P<bucket>[^/]+)/(?P<key>.+)")


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


def s3_uri_problem(
    uri: str, *, max_len: int, limit: str = "", object_key: bool = False
) -> str | None:
    """Why ``uri`` is not an ``s3://bucket/prefix`` URI (with ``object_key``: ``s3://bucket/key``)
    of at most ``max_len`` characters, or None. ``limit`` names whose limit ``max_len`` is."""
    match = (_S3_OBJECT_URI if object_key else _S3_PREFIX_URI).fullmatch(uri)
    if match is None:
        return f"is not an s3://bucket/{'key' if object_key else 'prefix'} URI"
    if not BUCKET_NAME.fullmatch(match["bucket"]):
        return f"names the invalid bucket {match['bucket']!r}"
    if len(uri) > max_len:
        return f"is longer than {max_len} characters" + (f" ({limit})" if limit else "")
    return None
