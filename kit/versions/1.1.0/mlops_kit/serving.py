"""The serving contract: requests in, responses out (docs/project-contract.md, "Serving").

Requests carry RAW values of the project's serving input columns:

- ``text/csv``: one record per line, the columns in order; an optional first line naming
  exactly those columns is skipped; blank lines are skipped; a missing value is an empty field.
- ``application/json``: ``{"instances": [{"<column>": value, ...}, ...]}``.

:func:`request_records` turns a request into raw records (column -> value, the CSV's strings or
the JSON's values) with where each came from (``line 2``, ``instance 0``), lazily, so that the
project's own parsing of one record fails before a later record is read. The response is
``{"predictions": [{...}, ...]}``, one object per record, in ``application/json``.
Invalid requests raise DataValidationError (a ValueError) naming the line or instance.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .errors import DataValidationError

CSV = "text/csv"
JSON = "application/json"


def media_type(content_type: str | None) -> str:
    """``text/csv; charset=utf-8`` -> ``text/csv`` (lowercase; "" for none)."""
    return (content_type or "").split(";")[0].strip().lower()


def body_text(body: str | bytes | bytearray) -> str:
    """The request body as text (UTF-8)."""
    if isinstance(body, (bytes, bytearray)):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise DataValidationError("the request body is not UTF-8 text") from None
    return body


def csv_records(text: str, columns: Sequence[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """(where, record) of each line of a text/csv body."""
    for line_no, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if line_no == 1 and [f.strip() for f in fields] == list(columns):
            continue  # header
        if len(fields) != len(columns):
            raise DataValidationError(
                f"line {line_no}: expected {len(columns)} values "
                f"({','.join(columns)}), got {len(fields)}"
            )
        yield f"line {line_no}", dict(zip(columns, fields))


def json_records(text: str, columns: Sequence[str]) -> Iterator[tuple[str, Mapping[str, object]]]:
    """(where, record) of each instance of an application/json body."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataValidationError(f"the request body is not valid JSON: {err}") from None
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list):
        raise DataValidationError(
            f'expected {{"instances": [...]}}, each an object keyed by {", ".join(columns)}'
        )
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise DataValidationError(f"instance {index}: expected an object, got {instance!r}")
        yield f"instance {index}", instance


def request_records(
    body: str | bytes | bytearray, content_type: str | None, columns: Sequence[str]
) -> Iterator[tuple[str, Mapping[str, object]]]:
    """(where, record) of each record of a request; refuses other content types and a request
    without records."""
    media = media_type(content_type)
    if media == CSV:
        records: Iterator[tuple[str, Mapping[str, object]]] = csv_records(body_text(body), columns)
    elif media == JSON:
        records = json_records(body_text(body), columns)
    else:
        raise DataValidationError(
            f"unsupported content type {content_type!r}; send {CSV} or {JSON}"
        )
    count = 0
    for record in records:
        count += 1
        yield record
    if not count:
        raise DataValidationError("the request holds no instances")


def response(predictions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The response document: ``{"predictions": [...]}``, one object per record."""
    return {"predictions": list(predictions)}


def encode_response(document: Mapping[str, Any], accept: str | None) -> tuple[str, str]:
    """(body, content type) of a response: JSON, the only type (also for ``*/*`` or none)."""
    if media_type(accept) not in ("", "*/*", JSON):
        raise DataValidationError(f"unsupported accept type {accept!r}; accept {JSON}")
    return json.dumps(document), JSON
