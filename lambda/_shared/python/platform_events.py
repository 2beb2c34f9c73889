"""Strict reading of JSON events shared by the platform's Lambda functions (Lambda layer).

Every problem raises :class:`BadInput` naming the field by its JSON path, so a handler can answer
a malformed event with one clear error instead of a stack trace (and without a retry). The names
and patterns more than one function checks (in events and settings alike) live here too, each
matched whole (``fullmatch``) unless its comment says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# A model package group's name (``GROUP_NAME.pattern`` where an ARN pattern names the group).
GROUP_NAME: Final = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
# A SageMaker endpoint's name (an inference component's names are of the same form).
ENDPOINT_NAME: Final = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
# A SageMaker pipeline's name (a CodePipeline's are of another form).
SAGEMAKER_PIPELINE_NAME: Final = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}")
# An SSM parameter's name, e.g. /mlops-dev-demand/ml/code-version.
SSM_PARAMETER_NAME: Final = re.compile(r"/?[a-zA-Z0-9_.\-/]{1,1011}")
# A KMS key's ARN, arn:<partition>:kms:<region>:<account>:key/<key id> (a key id: letters,
# digits, hyphens; a UUID or a multi-Region key's mrk-...): a key ARN, not an alias.
KMS_KEY_ARN: Final = re.compile(
    r"arn:aws[a-z-]*:kms:[a-z0-9-]{1,32}:[0-9]{12}:key/[a-zA-Z0-9-]{1,128}"
)
# A metric's name, as the gate metric and the evaluation report's metrics are named.
METRIC_NAME: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# A decimal number written out, e.g. "0.75", "-1e-3" (a metric's value, a gate's number): no
# "nan", "inf", hexadecimal or "1_000" (all of which float() accepts).
DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Any ASCII control character (tab and newline among them), found with ``search``.
CONTROL_CHARACTER: Final = re.compile(r"[\x00-\x1f\x7f]")
# A pipeline execution id, as a LambdaStep's event carries it (``execution_id``).
EXECUTION_ID_MAX: Final = 256
_EXECUTION_ID = re.compile(r"[A-Za-z0-9._:/-]+")
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


def get_execution_id(container: Mapping[str, Any]) -> str:
    """``execution_id``: the pipeline execution id a LambdaStep's event carries (at most
    EXECUTION_ID_MAX characters: letters, digits and . _ : / -)."""
    execution_id = get_string(container, "execution_id", "execution_id", EXECUTION_ID_MAX)
    if not _EXECUTION_ID.fullmatch(execution_id):
        raise BadInput(
            f"execution_id {execution_id!r} is not a pipeline execution id (letters, digits "
            "and . _ : / -)"
        )
    return execution_id


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
