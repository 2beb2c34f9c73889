"""The platform's own model monitoring: baseline statistics, data quality, drift, model quality.

SageMaker Model Monitor and Clarify are closed to new customers, so the platform monitors its
endpoints with this script, run as SageMaker Processing jobs in AWS's scikit-learn 1.2-1 image
(Python 3.9, numpy 1.2x) with network isolation: it reads local files, writes local files, calls
no AWS API and imports only the standard library and numpy (the code stays Python 3.8-compatible).
CloudWatch publication of ``metrics.json`` is a later step's job.

Baseline
--------

    python3 monitoring.py baseline --input <dir> --columns a,b,c --output <dir>

Reads ``<input>/baseline.csv`` (or ``--input`` itself when it is a file): the preprocess step's
``baseline/`` output, a header naming (at least) the serving input columns, then raw values as
the endpoint receives them; an empty (or blank) field is a missing value. Writes
``<output>/statistics.json``::

    {"statistics_version": 1, "row_count": 2000, "columns": ["a", "b", "c"],
     "features": {
       "a": {"kind": "numeric", "count": 1980, "missing_rate": 0.01,
             "min": 0.0, "max": 72.0, "mean": 30.1, "std": 20.2,
             "bin_edges": ["-inf", 3.0, 8.0, ..., 64.0, "inf"],
             "bin_proportions": [0.1, 0.1, ...]},
       "c": {"kind": "categorical", "count": 2000, "missing_rate": 0.0,
             "categories": {"month-to-month": 0.55, "one-year": 0.25, "two-year": 0.2,
                            "__other__": 0.0},
             "distinct_count": 3, "seen_categories": ["month-to-month", "one-year", "two-year"]}}}

- ``kind`` is ``numeric`` when every non-missing value parses as a finite float, else
  ``categorical``. ``count`` is the number of non-missing values, ``missing_rate`` the missing
  share of the rows; ``std`` is the population standard deviation.
- Numeric bins: the baseline's deciles (``numpy.quantile``, linear interpolation) rounded to 6
  decimals and deduplicated, between ``"-inf"`` and ``"inf"`` outer edges (strings, as JSON has no
  infinity; ``float()`` reads them back), so at most 10 bins, each closed on the right:
  ``(e[i], e[i+1]]``. ``bin_proportions`` are the baseline's values per bin (missing values
  excluded). A column of integers gets one bin per frequent value.
- Categorical: the proportions of the 20 most frequent values (ties by name) and ``__other__``
  for the rest; ``seen_categories`` lists every distinct baseline value (null beyond 1000).
- A column without any baseline value is ``numeric`` with null statistics and no bins.
- Every float is rounded to 6 decimals; keys are sorted: same data, same bytes.

Monitor
-------

    python3 monitoring.py monitor --capture <dir> --baseline <statistics.json> --columns a,b,c
        --problem-type binary_classification|multiclass_classification|regression
        --prediction-field F [--probability-field P] [--classes x,y,z]
        [--label-threshold 0.5] [--ground-truth <dir>] [--min-rows 30] --output <dir>

Reads every ``*.jsonl`` file under ``--capture`` (recursively, in path order): SageMaker data
capture, one record per line::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "...", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "application/json",
                                        "mode": "OUTPUT", "data": "...", "encoding": "JSON"}},
     "eventMetadata": {"eventId": "...", "inferenceId": "...", "inferenceTime": "..."},
     "eventVersion": "0"}

``encoding`` ``BASE64`` means ``data`` is base64 of the UTF-8 body; the content type says how to
read it (without one, ``CSV``/``JSON`` encodings say it). A request holds one row or several:
``text/csv`` lines in ``--columns`` order (a first line that names exactly the columns is a
header and skipped; blank lines are ignored) or ``application/json`` ``{"instances": [{column:
value, ...}, ...]}`` (an absent key or null is a missing value; a list of values in column order
is accepted too). The response is ``{"predictions": [{F: ..., P: ...}, ...]}``, one per row.
A record that cannot be read is skipped and counted by reason: ``invalid_json`` (the line),
``missing_field`` (captureData, endpointInput/endpointOutput or their data),
``undecodable_base64``, ``unsupported_content_type``, ``invalid_request`` (a JSON body without an
``instances`` list, unreadable CSV), ``empty_request``, ``invalid_response`` (no
``predictions`` list), ``prediction_count_mismatch``.

Data quality (per feature, over the rows of the records read):

- ``missing_rate``: missing values / rows analysed;
- numeric: ``out_of_range_rate``: values outside the baseline's [min, max] (1e-6 tolerance for
  the rounding) / values present; categorical: ``unseen_rate``: values not among the baseline's
  ``seen_categories`` / values present (null when the baseline did not list them);
- schema errors, counted by kind: ``wrong_field_count`` (a CSV row; the row is not analysed),
  ``invalid_instance`` (a JSON instance that is neither an object nor a list of the columns'
  length; not analysed), ``non_numeric_value`` (in a numeric column), ``non_scalar_value`` (a
  JSON list/object as a value). The value itself counts as ``invalid``, neither missing nor
  present.

Drift per feature: the Population Stability Index between the baseline's proportions ``b`` and
the current ones ``c`` over the same bins (numeric: the baseline's bins; categorical: the
baseline's top categories plus ``__other__``, where an unseen category lands)::

    PSI = sum_i (c_i - b_i) * ln(c_i / b_i)      an empty bin's proportion taken as 1e-4

Missing values are left out of both sides (``missing_rate`` reports them). The usual reading:
PSI < 0.1 no drift (``none``), 0.1 to 0.25 moderate (``moderate``), > 0.25 major (``major``).
With N current values and B bins, sampling alone gives about (B - 1) / N (plus the same over the
baseline's size): 0.01 for 1000 values over 10 bins, but 0.3 for 30 values. So an alarm on PSI
wants ``--min-rows`` in the hundreds (the default 30 suits missing and out-of-range rates). The
report also gives the maximum over the features (``MaxFeatureDrift``).

Model quality (with ``--ground-truth``): every ``*.jsonl`` under that folder holds labels::

    {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "<id>"},
     "eventVersion": "0"}

joined to a captured prediction by the capture's ``inferenceId`` when it has one, else its
``eventId``. Only single-row requests are joined (a multi-row request is counted as
unjoinable, and a label naming one too); a later label for the same id replaces an earlier one
(counted as a duplicate). Metrics (as in ``evaluation.json``):

- ``binary_classification``: ``auc`` (the Mann-Whitney rank formula, ties at half, over the
  ``--probability-field`` scores, or over the 0/1 predictions without one), ``accuracy``,
  ``precision``, ``recall``, ``f1`` of the prediction field as 0/1 (when a response lacks the
  prediction field, its probability >= ``--label-threshold`` stands in); labels ``0``/``1``.
- ``multiclass_classification``: ``accuracy``, ``weighted_f1``, ``weighted_precision``,
  ``weighted_recall`` (per-class figures weighted by the labels' support; a class never
  predicted has precision 0); labels and predictions compared as text (``2``, ``2.0`` and
  ``"2"`` are one class), limited to ``--classes`` when given.
- ``regression``: ``rmse``, ``mae``, ``mse``, ``r2`` (null when the labels are constant).

Too little data: with fewer than ``--min-rows`` rows analysed, no data-quality or drift figure is
computed (the report says ``insufficient_data``, metrics hold ``InsufficientData`` = 1 with
``Check=data``); a feature with fewer than ``--min-rows`` values present gets no PSI
(``drift_status`` ``insufficient_data``); with fewer than ``--min-rows`` joined labels, no
quality metric (``InsufficientData`` = 1, ``Check=quality``). ``InsufficientData`` is 0 when the
check ran, so an alarm can tell "no data" from "no drift".

Outputs in ``--output``: ``report.json`` (everything above: settings, counts, per-feature
figures, quality) and ``metrics.json``, a list of ``{"name": ..., "value": ...,
"dimensions": {...}}`` (dimensions only where named) sorted by name then dimensions:
``RowsAnalysed``, ``RecordsSkipped``, ``SchemaErrors``, ``InsufficientData`` (``Check``),
``MaxFeatureDrift``, ``FeatureDrift``, ``MissingRate``, ``OutOfRangeRate`` (``Feature``; for a
categorical feature its unseen rate), and with ground truth ``LabelsJoined``, one entry per
quality metric (``auc``, ``rmse``, ...). Figures not computed are left out.

Exit codes: 0 on success (also with insufficient data), 2 with one line on stderr for bad
arguments, a bad baseline CSV (no file, a missing column, no rows, a row of the wrong length) or
a bad ``statistics.json``.
"""

# The script runs on Python 3.8/3.9 (the repository's ruff targets 3.11): no zip(strict=...), no
# itertools.pairwise. tests/test_monitoring_code.py checks the Python 3.8 compatibility.
# ruff: noqa: B905, RUF007
from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import numpy.typing as npt

STATISTICS_VERSION = 1
REPORT_VERSION = 1
DECIMALS = 6
DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
TOP_CATEGORIES = 20
OTHER = "__other__"
MAX_SEEN_CATEGORIES = 1000
PSI_EPSILON = 1e-4
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
RANGE_TOLERANCE = 1e-6
DEFAULT_MIN_ROWS = 30
NUMERIC = "numeric"
CATEGORICAL = "categorical"
OK = "ok"
INSUFFICIENT = "insufficient_data"
NO_BASELINE_VALUES = "no_baseline_values"
BASELINE_FILE = "baseline.csv"
STATISTICS_FILE = "statistics.json"
REPORT_FILE = "report.json"
METRICS_FILE = "metrics.json"
# Batch scoring's files (--capture-format batch)
CAPTURE_FORMATS = ("endpoint", "batch")
BATCH_OUTPUT_SUFFIX = ".out"
BATCH_INFERENCE_ID = "SageMakerInferenceId"
QUALITY_METRICS = {
    "binary_classification": ("auc", "accuracy", "precision", "recall", "f1"),
    "multiclass_classification": (
        "accuracy",
        "weighted_f1",
        "weighted_precision",
        "weighted_recall",
    ),
    "regression": ("rmse", "mae", "mse", "r2"),
}
PROBLEM_TYPES = tuple(QUALITY_METRICS)


class InputError(Exception):
    """Bad arguments or inputs: the CLI prints the message on one line and exits 2."""


class _Skip(Exception):
    """A capture or ground-truth record that cannot be used; the argument is the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# values


def parse_finite(text: str) -> float | None:
    """The float a text holds when it is finite, else None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def scalar_text(value: Any) -> str | None:
    """A JSON value as the text a CSV field would hold: null -> "" (missing), None for lists and
    objects (not a value)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    return None


def class_key(value: Any) -> str | None:
    """A class label or prediction as text, numbers spelt one way (2, 2.0, "2" and "2.0" give
    "2"); None when it is missing or not a scalar."""
    text = scalar_text(value)
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    number = parse_finite(text)
    if number is not None and number == int(number) and abs(number) < 1e15:
        return str(int(number))
    return text


def binary_value(value: Any) -> int | None:
    """0 or 1 from 0/1 numbers, "0"/"1" texts (also "0.0") and booleans; else None."""
    if isinstance(value, bool):
        return int(value)
    text = scalar_text(value)
    if text is None:
        return None
    text = text.strip().lower()
    if text in ("true", "false"):
        return int(text == "true")
    number = parse_finite(text)
    if number == 0.0:
        return 0
    if number == 1.0:
        return 1
    return None


def number_value(value: Any) -> float | None:
    """A finite number from a JSON number or a numeric text; else None."""
    if isinstance(value, bool):
        return None
    if _is_number(value):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        return parse_finite(value.strip())
    return None


def _rounded(value: Any) -> Any:
    """A JSON document with every float rounded (non-finite ones become null)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, DECIMALS) + 0.0  # + 0.0: no "-0.0"
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def dumps(document: Any) -> str:
    """Deterministic JSON: floats rounded to 6 decimals, sorted keys, one trailing newline."""
    return json.dumps(_rounded(document), sort_keys=True, indent=2, allow_nan=False) + "\n"


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(document), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# baseline statistics


def decile_edges(values: npt.NDArray[np.float64]) -> list[float]:
    """The inner bin edges: the deciles of the values, rounded to 6 decimals, deduplicated."""
    quantiles = np.quantile(values, DECILES)
    return sorted({round(float(q), DECIMALS) + 0.0 for q in quantiles})


def bin_proportions(values: npt.NDArray[np.float64], inner_edges: Sequence[float]) -> list[float]:
    """The share of values per bin (-inf, e0], (e0, e1], ..., (e_last, +inf)."""
    indices = np.searchsorted(np.asarray(inner_edges, dtype=float), values, side="left")
    counts = np.bincount(indices, minlength=len(inner_edges) + 1)
    total = max(int(values.size), 1)
    return [int(c) / total for c in counts]


def column_statistics(values: Sequence[str]) -> dict[str, Any]:
    """The statistics of one column's raw texts (see the module docstring)."""
    texts = [v.strip() for v in values]
    present = [t for t in texts if t]
    rows = len(texts)
    common: dict[str, Any] = {
        "count": len(present),
        "missing_rate": (rows - len(present)) / rows if rows else 0.0,
    }
    numbers = [parse_finite(t) for t in present]
    if all(n is not None for n in numbers):
        array = np.asarray([n for n in numbers if n is not None], dtype=float)
        if array.size == 0:
            return {
                "kind": NUMERIC,
                **common,
                **dict.fromkeys(("min", "max", "mean", "std", "bin_edges", "bin_proportions")),
            }
        edges = decile_edges(array)
        return {
            "kind": NUMERIC,
            **common,
            "min": float(array.min()),
            "max": float(array.max()),
            "mean": float(array.mean()),
            "std": float(array.std()),
            "bin_edges": ["-inf", *edges, "inf"],
            "bin_proportions": bin_proportions(array, edges),
        }
    counts = Counter(present)
    ranked = sorted(
        ((k, c) for k, c in counts.items() if k != OTHER), key=lambda item: (-item[1], item[0])
    )
    top = ranked[:TOP_CATEGORIES]
    total = len(present)
    categories = {k: c / total for k, c in top}
    categories[OTHER] = (total - sum(c for _, c in top)) / total
    return {
        "kind": CATEGORICAL,
        **common,
        "categories": categories,
        "distinct_count": len(counts),
        "seen_categories": sorted(counts) if len(counts) <= MAX_SEEN_CATEGORIES else None,
    }


def read_baseline_csv(path: Path, columns: Sequence[str]) -> dict[str, list[str]]:
    """The raw texts of each column of a baseline CSV (header line first)."""
    if path.is_dir():
        path = path / BASELINE_FILE
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    values: dict[str, list[str]] = {c: [] for c in columns}
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: empty file, expected a header line")
            names = [h.strip() for h in header]
            missing = [c for c in columns if c not in names]
            if missing:
                raise InputError(f"{path}: the header lacks column(s) {', '.join(missing)}")
            positions = [names.index(c) for c in columns]
            for row in reader:
                if not row:
                    continue
                if len(row) != len(names):
                    raise InputError(
                        f"{path}: line {reader.line_num}: {len(row)} fields, "
                        f"the header has {len(names)}"
                    )
                for column, position in zip(columns, positions):
                    values[column].append(row[position])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{path}: cannot read: {err}") from err
    if not values[columns[0]]:
        raise InputError(f"{path}: no data rows")
    return values


def baseline_statistics(path: Path, columns: Sequence[str]) -> dict[str, Any]:
    """statistics.json's document for a baseline CSV (or a folder holding baseline.csv)."""
    table = read_baseline_csv(path, columns)
    return {
        "statistics_version": STATISTICS_VERSION,
        "row_count": len(table[columns[0]]),
        "columns": list(columns),
        "features": {c: column_statistics(table[c]) for c in columns},
    }


@dataclass
class FeatureBaseline:
    """One feature of statistics.json, checked and ready for comparisons."""

    name: str
    kind: str
    minimum: float | None = None
    maximum: float | None = None
    inner_edges: list[float] = field(default_factory=list)
    proportions: list[float] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # top categories, OTHER excluded
    seen: set[str] | None = None

    @property
    def has_values(self) -> bool:
        return bool(self.proportions)


def _feature_baseline(name: str, stats: Any) -> FeatureBaseline:
    if not isinstance(stats, dict):
        raise InputError(f"feature {name}: not an object")
    kind = stats.get("kind")
    if kind == NUMERIC:
        if stats.get("count") == 0:
            return FeatureBaseline(name, NUMERIC)
        edges, shares = stats.get("bin_edges"), stats.get("bin_proportions")
        low: Any = stats.get("min")
        high: Any = stats.get("max")
        if not (_is_number(low) and _is_number(high)):
            raise InputError(f"feature {name}: min/max are not numbers")
        if not (isinstance(edges, list) and isinstance(shares, list) and len(edges) >= 2):
            raise InputError(f"feature {name}: bin_edges/bin_proportions are not lists")
        try:
            floats = [float(e) for e in edges]
            proportions = [float(s) for s in shares]
        except (TypeError, ValueError) as err:
            raise InputError(f"feature {name}: bad bins: {err}") from err
        inner = floats[1:-1]
        if (
            floats[0] != -math.inf
            or floats[-1] != math.inf
            or not all(math.isfinite(e) for e in inner)
            or any(a >= b for a, b in zip(inner, inner[1:]))
            or len(proportions) != len(floats) - 1
        ):
            raise InputError(f"feature {name}: bins must run from -inf to inf, increasing")
        return FeatureBaseline(
            name, NUMERIC, float(low), float(high), inner_edges=inner, proportions=proportions
        )
    if kind == CATEGORICAL:
        categories = stats.get("categories")
        seen = stats.get("seen_categories")
        if not (isinstance(categories, dict) and OTHER in categories):
            raise InputError(f"feature {name}: categories must be an object with {OTHER}")
        if not (seen is None or (isinstance(seen, list) and all(isinstance(s, str) for s in seen))):
            raise InputError(f"feature {name}: seen_categories must be a list of texts or null")
        if not all(_is_number(v) for v in categories.values()):
            raise InputError(f"feature {name}: category proportions must be numbers")
        names = sorted(k for k in categories if k != OTHER)
        return FeatureBaseline(
            name,
            CATEGORICAL,
            categories=names,
            proportions=[float(categories[k]) for k in names] + [float(categories[OTHER])],
            seen=set(seen) if seen is not None else None,
        )
    raise InputError(f"feature {name}: kind must be {NUMERIC} or {CATEGORICAL}")


def load_statistics(document: Any, columns: Sequence[str]) -> dict[str, FeatureBaseline]:
    """The baselines of the given columns from a statistics.json document."""
    if not isinstance(document, dict):
        raise InputError("statistics: not a JSON object")
    version = document.get("statistics_version")
    if version != STATISTICS_VERSION:
        raise InputError(f"statistics: statistics_version {version!r}, expected 1")
    features = document.get("features")
    if not isinstance(features, dict):
        raise InputError("statistics: no features object")
    missing = [c for c in columns if c not in features]
    if missing:
        raise InputError(f"statistics: no baseline for column(s) {', '.join(missing)}")
    return {c: _feature_baseline(c, features[c]) for c in columns}


# ---------------------------------------------------------------------------------------------
# captured records


@dataclass
class Row:
    """One request row: its fields in column order (None for a value that is not a scalar), or
    no fields and the schema error that kept it from lining up with the columns."""

    cells: list[str | None] | None
    error: str | None = None


@dataclass
class Capture:
    record_id: str | None
    rows: list[Row]
    predictions: list[Any]


def _content_kind(content_type: Any, encoding: str) -> str | None:
    if isinstance(content_type, str) and content_type.strip():
        base = content_type.split(";")[0].strip().lower()
        return {"text/csv": "csv", "application/json": "json"}.get(base)
    return {"CSV": "csv", "JSON": "json"}.get(encoding)


def _decoded(part: Any) -> tuple[str, str | None]:
    """(the body's text, "csv" | "json" | None) of an endpointInput/endpointOutput object."""
    if not isinstance(part, dict) or not isinstance(part.get("data"), str):
        raise _Skip("missing_field")
    data: str = part["data"]
    encoding = str(part.get("encoding") or "").upper()
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except ValueError as err:  # binascii.Error, UnicodeDecodeError
            raise _Skip("undecodable_base64") from err
    return data, _content_kind(part.get("observedContentType"), encoding)


def csv_rows(text: str, columns: Sequence[str]) -> list[Row]:
    """The rows of a text/csv body (a header line naming exactly the columns is skipped)."""
    try:
        lines = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    except csv.Error as err:
        raise _Skip("invalid_request") from err
    if lines and [f.strip() for f in lines[0]] == list(columns):
        lines = lines[1:]
    return [
        Row(list(r)) if len(r) == len(columns) else Row(None, "wrong_field_count") for r in lines
    ]


def json_rows(text: str, columns: Sequence[str]) -> list[Row]:
    """The rows of an application/json body {"instances": [...]}."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise _Skip("invalid_request") from err
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list):
        raise _Skip("invalid_request")
    rows = []
    for instance in instances:
        if isinstance(instance, dict):
            rows.append(Row([scalar_text(instance.get(c)) for c in columns]))
        elif isinstance(instance, list) and len(instance) == len(columns):
            rows.append(Row([scalar_text(v) for v in instance]))
        else:
            rows.append(Row(None, "invalid_instance"))
    return rows


def _record_id(metadata: Any) -> str | None:
    if not isinstance(metadata, dict):
        return None
    for key in ("inferenceId", "eventId"):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def parse_capture(line: bytes | str, columns: Sequence[str]) -> Capture:
    """One data-capture line; raises _Skip with the reason when it cannot be used."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        document = json.loads(text)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise _Skip("invalid_json") from err
    capture = document.get("captureData") if isinstance(document, dict) else None
    if not isinstance(capture, dict):
        raise _Skip("missing_field")
    request, request_kind = _decoded(capture.get("endpointInput"))
    response, response_kind = _decoded(capture.get("endpointOutput"))
    if request_kind is None or response_kind != "json":
        raise _Skip("unsupported_content_type")
    rows = csv_rows(request, columns) if request_kind == "csv" else json_rows(request, columns)
    if not rows:
        raise _Skip("empty_request")
    try:
        answer = json.loads(response)
    except (ValueError, RecursionError) as err:
        raise _Skip("invalid_response") from err
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list):
        raise _Skip("invalid_response")
    if len(predictions) != len(rows):
        raise _Skip("prediction_count_mismatch")
    return Capture(_record_id(document.get("eventMetadata")), rows, predictions)


def batch_output_captures(line: bytes | str) -> list[Capture]:
    """One line of a batch transform ``.out`` file: a response ``{"predictions": [...]}``
    to a mini-batch of input rows, with the ``SageMakerInferenceId`` and
    ``SageMakerInferenceTime`` data capture appends (``GenerateInferenceId``). One capture per
    prediction, its id ``<SageMakerInferenceId>:<index>`` (0-based within the response), so a
    label can name a row; raises _Skip with the reason when the line cannot be used."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        document = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise _Skip("invalid_json") from err
    predictions = document.get("predictions") if isinstance(document, dict) else None
    if not isinstance(predictions, list) or not predictions:
        raise _Skip("invalid_response")
    inference_id = document.get(BATCH_INFERENCE_ID)
    if not isinstance(inference_id, str) or not inference_id:
        return [Capture(None, [], [p]) for p in predictions]
    return [Capture(f"{inference_id}:{i}", [], [p]) for i, p in enumerate(predictions)]


def all_files(root: Path) -> list[Path]:
    """Every file under a folder, in path order."""
    files = [p for p in root.rglob("*") if p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def read_batch(root: Path, columns: Sequence[str]) -> tuple[list[Capture], Counter[str], int, int]:
    """(captures, skipped by reason, records read, files) of batch scoring's files under
    ``root`` (the Monitor step's manifest input): ``*.out`` files are the transform jobs'
    responses (one record per line, see :func:`batch_output_captures`), every other file an
    input the jobs scored (one record per file: headerless ``text/csv`` rows in ``--columns``
    order, as :func:`csv_rows` reads them)."""
    captures: list[Capture] = []
    skipped: Counter[str] = Counter()
    read = 0
    files = all_files(root)
    for path in files:
        if path.name.endswith(BATCH_OUTPUT_SUFFIX):
            for line in _lines(path):
                read += 1
                try:
                    captures.extend(batch_output_captures(line))
                except _Skip as skip:
                    skipped[skip.reason] += 1
            continue
        read += 1
        try:
            text = path.read_bytes().decode("utf-8")
            rows = csv_rows(text, columns)
        except UnicodeDecodeError:
            skipped["invalid_request"] += 1
            continue
        except _Skip as skip:
            skipped[skip.reason] += 1
            continue
        if not rows:
            skipped["empty_request"] += 1
            continue
        captures.append(Capture(None, rows, []))
    return captures, skipped, read, len(files)


def jsonl_files(root: Path) -> list[Path]:
    """Every *.jsonl file under a folder, in path order."""
    files = [p for p in root.rglob("*.jsonl") if p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _lines(path: Path) -> Iterator[bytes]:
    # bytes.splitlines breaks at \n, \r\n and \r only (str.splitlines would also break at
    # U+2028 and the like, which JSON strings may hold).
    for line in path.read_bytes().splitlines():
        if line.strip():
            yield line


# ---------------------------------------------------------------------------------------------
# data quality and drift


def population_stability_index(
    expected: Sequence[float], actual: Sequence[float], epsilon: float = PSI_EPSILON
) -> float:
    """PSI = sum (a - e) * ln(a / e) over aligned proportions, an empty one taken as epsilon."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.shape != a.shape:
        raise ValueError("expected and actual proportions must have the same length")
    e = np.where(e > 0, e, epsilon)
    a = np.where(a > 0, a, epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_level(psi: float) -> str:
    """none (< 0.1), moderate (0.1 to 0.25) or major (> 0.25)."""
    if psi < PSI_MODERATE:
        return "none"
    return "moderate" if psi <= PSI_MAJOR else "major"


@dataclass
class _FeatureValues:
    numbers: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    missing: int = 0
    invalid: int = 0


def _collect(
    rows: Sequence[Row], baselines: dict[str, FeatureBaseline], schema_errors: Counter[str]
) -> dict[str, _FeatureValues]:
    collected = {name: _FeatureValues() for name in baselines}
    order = list(baselines.values())
    for row in rows:
        if row.cells is None:
            continue
        for baseline, cell in zip(order, row.cells):
            values = collected[baseline.name]
            if cell is None:
                values.invalid += 1
                schema_errors["non_scalar_value"] += 1
                continue
            text = cell.strip()
            if not text:
                values.missing += 1
            elif baseline.kind == NUMERIC:
                number = parse_finite(text)
                if number is None:
                    values.invalid += 1
                    schema_errors["non_numeric_value"] += 1
                else:
                    values.numbers.append(number)
            else:
                values.texts.append(text)
    return collected


def _feature_report(
    baseline: FeatureBaseline, values: _FeatureValues, rows: int, min_rows: int
) -> dict[str, Any]:
    numeric = baseline.kind == NUMERIC
    present = len(values.numbers) if numeric else len(values.texts)
    report: dict[str, Any] = {
        "kind": baseline.kind,
        "values": present,
        "missing": values.missing,
        "invalid": values.invalid,
        "missing_rate": None,
        "psi": None,
        "drift": None,
    }
    if numeric:
        report.update(out_of_range=None, out_of_range_rate=None, bin_proportions=None)
    else:
        report.update(unseen=None, unseen_rate=None, category_proportions=None)
    if rows < min_rows:
        report["drift_status"] = INSUFFICIENT
        return report
    report["missing_rate"] = values.missing / rows
    if numeric and present and baseline.minimum is not None and baseline.maximum is not None:
        array = np.asarray(values.numbers, dtype=float)
        outside = int(
            np.count_nonzero(
                (array < baseline.minimum - RANGE_TOLERANCE)
                | (array > baseline.maximum + RANGE_TOLERANCE)
            )
        )
        report.update(out_of_range=outside, out_of_range_rate=outside / present)
    if not numeric and present and baseline.seen is not None:
        seen = baseline.seen
        unseen = sum(1 for t in values.texts if t not in seen)
        report.update(unseen=unseen, unseen_rate=unseen / present)
    if not baseline.has_values:
        report["drift_status"] = NO_BASELINE_VALUES
        return report
    if present < min_rows:
        report["drift_status"] = INSUFFICIENT
        return report
    if numeric:
        current = bin_proportions(np.asarray(values.numbers, dtype=float), baseline.inner_edges)
        report["bin_proportions"] = current
    else:
        counts = Counter(values.texts)
        shares = [counts.get(c, 0) / present for c in baseline.categories]
        current = [
            *shares,
            (present - sum(counts.get(c, 0) for c in baseline.categories)) / present,
        ]
        report["category_proportions"] = dict(zip([*baseline.categories, OTHER], current))
    psi = population_stability_index(baseline.proportions, current)
    report.update(psi=psi, drift=drift_level(psi), drift_status=OK)
    return report


# ---------------------------------------------------------------------------------------------
# model quality


def average_ranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """1-based ranks, ties sharing their average rank."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts).astype(float)
    averages = ends - (counts.astype(float) - 1.0) / 2.0
    ranks: npt.NDArray[np.float64] = averages[inverse.reshape(-1)]
    return ranks


def auc_score(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """ROC AUC by the Mann-Whitney rank formula (ties count half); None with one class only."""
    y = np.asarray(labels, dtype=int)
    positives = int(np.count_nonzero(y == 1))
    negatives = int(y.size) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = average_ranks(np.asarray(scores, dtype=float))
    rank_sum = float(ranks[y == 1].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def binary_metrics(
    labels: Sequence[int], predicted: Sequence[int], scores: Sequence[float] | None = None
) -> dict[str, float | None]:
    """auc (over the scores, else the 0/1 predictions), accuracy, precision, recall, f1."""
    y = np.asarray(labels, dtype=int)
    p = np.asarray(predicted, dtype=int)
    tp = int(np.count_nonzero((y == 1) & (p == 1)))
    fp = int(np.count_nonzero((y == 0) & (p == 1)))
    fn = int(np.count_nonzero((y == 1) & (p == 0)))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "auc": auc_score(labels, list(scores) if scores is not None else list(predicted)),
        "accuracy": float(np.mean(y == p)),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
    }


def multiclass_metrics(labels: Sequence[str], predicted: Sequence[str]) -> dict[str, float | None]:
    """accuracy and the support-weighted precision, recall and f1 over the labels' classes."""
    total = len(labels)
    support = Counter(labels)
    predicted_count = Counter(predicted)
    hits = Counter(y for y, p in zip(labels, predicted) if y == p)
    weighted = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    for cls, count in support.items():
        precision = _ratio(hits[cls], predicted_count[cls])
        recall = hits[cls] / count
        weighted["precision"] += count * precision
        weighted["recall"] += count * recall
        weighted["f1"] += count * _ratio(2 * precision * recall, precision + recall)
    return {
        "accuracy": sum(hits.values()) / total,
        "weighted_f1": weighted["f1"] / total,
        "weighted_precision": weighted["precision"] / total,
        "weighted_recall": weighted["recall"] / total,
    }


def regression_metrics(
    labels: Sequence[float], predicted: Sequence[float]
) -> dict[str, float | None]:
    """rmse, mae, mse and r2 (None when the labels are constant)."""
    y = np.asarray(labels, dtype=float)
    errors = np.asarray(predicted, dtype=float) - y
    mse = float(np.mean(errors**2))
    total = float(np.sum((y - y.mean()) ** 2))
    return {
        "rmse": math.sqrt(mse),
        "mae": float(np.mean(np.abs(errors))),
        "mse": mse,
        "r2": 1.0 - float(np.sum(errors**2)) / total if total > 0 else None,
    }


@dataclass
class QualitySettings:
    problem_type: str
    prediction_field: str
    probability_field: str | None = None
    classes: list[str] | None = None
    label_threshold: float = 0.5


def label_value(value: Any, settings: QualitySettings) -> Any:
    """A ground-truth label for the problem type (int, class text or float), None if invalid."""
    if settings.problem_type == "binary_classification":
        return binary_value(value)
    if settings.problem_type == "regression":
        return number_value(value)
    key = class_key(value)
    if key is not None and settings.classes is not None and key not in settings.classes:
        return None
    return key


def prediction_value(prediction: Any, settings: QualitySettings) -> tuple[Any, float | None]:
    """(predicted value, score) of one response object; (None, None) when it is unusable."""
    if not isinstance(prediction, dict):
        return None, None
    raw = prediction.get(settings.prediction_field)
    if settings.problem_type != "binary_classification":
        return label_value(raw, settings), None
    predicted = None
    if settings.prediction_field in prediction:
        predicted = binary_value(raw)
        if predicted is None:
            return None, None
    score = None
    if settings.probability_field is not None:
        score = number_value(prediction.get(settings.probability_field))
        if score is None or not 0.0 <= score <= 1.0:
            return None, None
        if predicted is None:
            predicted = int(score >= settings.label_threshold)
    return predicted, score


def parse_ground_truth(line: bytes | str, settings: QualitySettings) -> tuple[str, Any]:
    """(event id, label) of one ground-truth line; raises _Skip with the reason."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        document = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise _Skip("invalid_json") from err
    if not isinstance(document, dict):
        raise _Skip("missing_field")
    data_part, metadata = document.get("groundTruthData"), document.get("eventMetadata")
    if not (isinstance(data_part, dict) and isinstance(metadata, dict)):
        raise _Skip("missing_field")
    data, event_id = data_part.get("data"), metadata.get("eventId")
    if not (isinstance(data, str) and isinstance(event_id, str) and event_id):
        raise _Skip("missing_field")
    encoding = str(data_part.get("encoding") or "").upper()
    raw: Any = data
    if encoding == "BASE64":
        try:
            raw = base64.b64decode(data, validate=True).decode("utf-8")
        except ValueError as err:
            raise _Skip("undecodable_base64") from err
    elif encoding == "JSON":
        try:
            raw = json.loads(data)
        except (ValueError, RecursionError) as err:
            raise _Skip("invalid_label") from err
    label = label_value(raw, settings)
    if label is None:
        raise _Skip("invalid_label")
    return event_id, label


def _quality_report(
    captures: Sequence[Capture],
    ground_truth: Path,
    settings: QualitySettings,
    min_rows: int,
) -> dict[str, Any]:
    predictions: dict[str, Any] = {}
    multi_row: set[str] = set()
    counts: Counter[str] = Counter()
    for capture in captures:
        if capture.record_id is None:
            counts["records_without_id"] += 1
        elif len(capture.rows) > 1:
            counts["multi_row_records"] += 1
            multi_row.add(capture.record_id)
        else:
            if capture.record_id in predictions:
                counts["duplicate_prediction_ids"] += 1
            predictions[capture.record_id] = capture.predictions[0]

    labels: dict[str, Any] = {}
    skipped: Counter[str] = Counter()
    files = jsonl_files(ground_truth)
    for path in files:
        for line in _lines(path):
            try:
                event_id, label = parse_ground_truth(line, settings)
            except _Skip as skip:
                skipped[skip.reason] += 1
                continue
            if event_id in labels:
                counts["duplicate_labels"] += 1
            labels[event_id] = label

    pairs: list[tuple[Any, Any, float | None]] = []
    for event_id in sorted(labels):
        if event_id in predictions:
            predicted, score = prediction_value(predictions[event_id], settings)
            if predicted is None:
                counts["invalid_predictions"] += 1
            else:
                pairs.append((labels[event_id], predicted, score))
        elif event_id in multi_row:
            counts["labels_for_multi_row_records"] += 1
        else:
            counts["labels_without_prediction"] += 1
    report: dict[str, Any] = {
        "files": len(files),
        "labels": {
            "read": len(labels) + counts["duplicate_labels"],
            "skipped": sum(skipped.values()),
            "skipped_by_reason": dict(skipped),
            "duplicates": counts["duplicate_labels"],
        },
        "joined": len(pairs),
        "labels_without_prediction": counts["labels_without_prediction"],
        "predictions_without_label": sum(1 for i in predictions if i not in labels),
        "invalid_predictions": counts["invalid_predictions"],
        "unjoinable": {
            "multi_row_records": counts["multi_row_records"],
            "labels_for_multi_row_records": counts["labels_for_multi_row_records"],
            "records_without_id": counts["records_without_id"],
            "duplicate_prediction_ids": counts["duplicate_prediction_ids"],
        },
        "metrics": dict.fromkeys(QUALITY_METRICS[settings.problem_type]),
    }
    if len(pairs) < min_rows:
        report["status"] = INSUFFICIENT
        return report
    truth = [pair[0] for pair in pairs]
    guessed = [pair[1] for pair in pairs]
    if settings.problem_type == "binary_classification":
        scores = [pair[2] for pair in pairs if pair[2] is not None]
        usable = scores if len(scores) == len(pairs) else None  # all or none have one
        report["metrics"] = binary_metrics(truth, guessed, usable)
    elif settings.problem_type == "multiclass_classification":
        report["metrics"] = multiclass_metrics(truth, guessed)
    else:
        report["metrics"] = regression_metrics(truth, guessed)
    report["status"] = OK
    return report


# ---------------------------------------------------------------------------------------------
# the monitoring run


def _metric(name: str, value: float, **dimensions: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "value": float(value)}
    if dimensions:
        entry["dimensions"] = dimensions
    return entry


def metrics_list(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The CloudWatch metrics of a report (figures not computed are left out)."""
    data = report["data"]
    entries = [
        _metric("RowsAnalysed", report["capture"]["rows"]["analysed"]),
        _metric("RecordsSkipped", report["capture"]["records"]["skipped"]),
        _metric("SchemaErrors", report["schema_errors"]["total"]),
        _metric("InsufficientData", data["status"] == INSUFFICIENT, Check="data"),
    ]
    if data["max_feature_drift"] is not None:
        entries.append(_metric("MaxFeatureDrift", data["max_feature_drift"]["psi"]))
    for name, feature in data["features"].items():
        if feature["psi"] is not None:
            entries.append(_metric("FeatureDrift", feature["psi"], Feature=name))
        if feature["missing_rate"] is not None:
            entries.append(_metric("MissingRate", feature["missing_rate"], Feature=name))
        rate = feature.get("out_of_range_rate", feature.get("unseen_rate"))
        if rate is not None:
            entries.append(_metric("OutOfRangeRate", rate, Feature=name))
    quality = report["quality"]
    if quality is not None:
        entries.append(_metric("LabelsJoined", quality["joined"]))
        entries.append(
            _metric("InsufficientData", quality["status"] == INSUFFICIENT, Check="quality")
        )
        for name, value in quality["metrics"].items():
            if value is not None and math.isfinite(value):
                entries.append(_metric(name, value))
    return sorted(
        entries, key=lambda e: (e["name"], json.dumps(e.get("dimensions", {}), sort_keys=True))
    )


def run_monitor(
    capture_dir: Path,
    statistics: Any,
    columns: Sequence[str],
    settings: QualitySettings,
    ground_truth_dir: Path | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
    capture_format: str = "endpoint",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(report, metrics) of the captured data against the baseline statistics document
    (``capture_format`` ``endpoint``: data capture ``*.jsonl``; ``batch``: batch scoring's
    inputs and ``.out`` responses, :func:`read_batch`)."""
    baselines = load_statistics(statistics, columns)
    captures: list[Capture] = []
    skipped: Counter[str] = Counter()
    if capture_format == "batch":
        captures, skipped, read, file_count = read_batch(capture_dir, columns)
    else:
        files = jsonl_files(capture_dir)
        file_count = len(files)
        read = 0
        for path in files:
            for line in _lines(path):
                read += 1
                try:
                    captures.append(parse_capture(line, columns))
                except _Skip as skip:
                    skipped[skip.reason] += 1

    rows = [row for capture in captures for row in capture.rows]
    schema_errors: Counter[str] = Counter(row.error for row in rows if row.error is not None)
    analysed = sum(1 for row in rows if row.cells is not None)
    collected = _collect(rows, baselines, schema_errors)
    features = {
        name: _feature_report(baselines[name], collected[name], analysed, min_rows)
        for name in columns
    }
    drifts = [(f["psi"], name) for name, f in features.items() if f["psi"] is not None]
    top = max(drifts, key=lambda item: item[0]) if drifts else None  # first of equals
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "settings": {
            "columns": list(columns),
            "problem_type": settings.problem_type,
            "prediction_field": settings.prediction_field,
            "probability_field": settings.probability_field,
            "classes": settings.classes,
            "label_threshold": settings.label_threshold,
            "min_rows": min_rows,
        },
        "baseline": {
            "row_count": statistics.get("row_count"),
            "statistics_version": statistics.get("statistics_version"),
        },
        "capture": {
            "format": capture_format,
            "files": file_count,
            "records": {
                "read": read,
                "used": len(captures),
                "skipped": sum(skipped.values()),
                "skipped_by_reason": dict(skipped),
            },
            "rows": {"total": len(rows), "analysed": analysed},
        },
        "schema_errors": {"total": sum(schema_errors.values()), "by_kind": dict(schema_errors)},
        "data": {
            "status": INSUFFICIENT if analysed < min_rows else OK,
            "rows_analysed": analysed,
            "max_feature_drift": {"feature": top[1], "psi": top[0]} if top else None,
            "features": features,
        },
        "quality": None
        if ground_truth_dir is None
        else _quality_report(captures, ground_truth_dir, settings, min_rows),
    }
    return report, metrics_list(report)


# ---------------------------------------------------------------------------------------------
# command line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise InputError(message)


def _names(text: str, option: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise InputError(f"{option}: empty name in {text!r}")
    if len(set(names)) != len(names):
        raise InputError(f"{option}: duplicate names in {text!r}")
    return names


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="monitoring.py", description="Baseline statistics and monitoring.")
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser("baseline", help="baseline.csv -> statistics.json")
    base.add_argument("--input", required=True, type=Path)
    base.add_argument("--columns", required=True)
    base.add_argument("--output", required=True, type=Path)
    mon = commands.add_parser("monitor", help="captured data -> report.json + metrics.json")
    mon.add_argument("--capture", required=True, type=Path)
    mon.add_argument("--baseline", required=True, type=Path)
    mon.add_argument("--columns", required=True)
    mon.add_argument("--problem-type", required=True, choices=PROBLEM_TYPES)
    mon.add_argument("--prediction-field", required=True)
    mon.add_argument("--probability-field")
    mon.add_argument("--classes")
    mon.add_argument("--label-threshold", type=float, default=0.5)
    mon.add_argument("--ground-truth", type=Path)
    mon.add_argument("--min-rows", type=int, default=DEFAULT_MIN_ROWS)
    mon.add_argument("--capture-format", choices=CAPTURE_FORMATS, default="endpoint")
    mon.add_argument("--output", required=True, type=Path)
    return parser


def _monitor_command(args: argparse.Namespace) -> str:
    columns = _names(args.columns, "--columns")
    if args.min_rows < 1:
        raise InputError("--min-rows must be at least 1")
    if not 0.0 <= args.label_threshold <= 1.0:
        raise InputError("--label-threshold must be within [0, 1]")
    if not args.capture.is_dir():
        raise InputError(f"--capture {args.capture}: not a folder")
    if args.ground_truth is not None and not args.ground_truth.is_dir():
        raise InputError(f"--ground-truth {args.ground_truth}: not a folder")
    classes = None
    if args.classes is not None:
        classes = [class_key(c) or "" for c in _names(args.classes, "--classes")]
    try:
        statistics = json.loads(args.baseline.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"--baseline {args.baseline}: cannot read: {err}") from err
    settings = QualitySettings(
        args.problem_type,
        args.prediction_field,
        args.probability_field,
        classes,
        args.label_threshold,
    )
    try:
        report, metrics = run_monitor(
            args.capture,
            statistics,
            columns,
            settings,
            args.ground_truth,
            args.min_rows,
            args.capture_format,
        )
    except InputError as err:
        raise InputError(f"--baseline {args.baseline}: {err}") from err
    _write_json(args.output / REPORT_FILE, report)
    _write_json(args.output / METRICS_FILE, metrics)
    data, quality = report["data"], report["quality"]
    top = data["max_feature_drift"]
    drift = "-" if top is None else "{:.4f} ({})".format(top["psi"], top["feature"])
    checked = "not checked" if quality is None else quality["status"]
    return (
        f"rows analysed {data['rows_analysed']} ({data['status']}), "
        f"records skipped {report['capture']['records']['skipped']}, "
        f"max PSI {drift}, quality {checked}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "baseline":
            columns = _names(args.columns, "--columns")
            statistics = baseline_statistics(args.input, columns)
            _write_json(args.output / STATISTICS_FILE, statistics)
            print(f"statistics of {statistics['row_count']} rows, {len(columns)} columns")
        else:
            print(_monitor_command(args))
    except InputError as err:
        message = " ".join(str(err).split())
        print(f"monitoring.py: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
