"""The platform's own model monitoring: baseline statistics, data quality, drift, model quality.

SageMaker Model Monitor and Clarify are closed to new customers, so the platform monitors its
endpoints with this script, run as SageMaker Processing jobs in AWS's scikit-learn 1.2-1 image
(Python 3.9, numpy 1.2x) with network isolation: it reads local files, writes local files, calls
no AWS API and imports only the standard library and numpy (the code stays Python 3.8-compatible).
CloudWatch publication of ``metrics.json`` is a later step's job.

Baseline
--------

    python3 monitoring.py baseline --input <dir> --columns a,b,c --output <dir>
        [--model <dir> ...: feature attributions, see Attributions]

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
        [--capture-format endpoint|batch] [--model <dir> ...: see Attributions]

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

Attributions
------------

    python3 monitoring.py baseline ... --model <dir> [--entry inference.py]
        --prediction-field F [--probability-field P]
        [--attribution-rows 100] [--background-rows 20] [--permutations 8]
    python3 monitoring.py monitor ... --model <dir> [--entry inference.py]
        [--attribution-rows 100] [--permutations 8]

How much each feature drives the model's score, on the baseline and on captured traffic, and
whether the model now relies on other features than it did on the baseline. Model-agnostic: the
model is called through its own serving functions, as the endpoint calls it.

The model: ``--model`` is a folder holding ``model.tar.gz`` (or the archive's path), extracted
into a temporary folder that is removed afterwards (only files and folders, no absolute or
``..`` paths), or a folder of already extracted files when it holds no archive. The entry
``code/<--entry>`` is imported with ``code/`` first on ``sys.path`` (the modules it imports come
from the archive); ``model_fn(<model folder>)`` is called once; rows are then scored 500 at a
time: one headerless ``text/csv`` body of the rows' raw values -> ``input_fn(body, "text/csv")``
-> ``predict_fn(data, model)`` -> ``output_fn(prediction, "application/json")`` (a text, bytes
or a ``(body, content type)`` pair) -> ``{"predictions": [...]}``, one per row. The body is a
text, as the scikit-learn and XGBoost containers pass it, unless ``input_fn`` fails on the first
one with a TypeError or AttributeError: then bytes, as the inference toolkit (PyTorch, Hugging
Face) passes them. The score explained is the ``--probability-field`` value when given, else the
``--prediction-field`` value as a number (regression, or a 0/1 class). A TensorFlow Serving
model (``input_handler``/``output_handler``) cannot be called this way.

The method: Shapley values by permutation sampling (Strumbelj & Kononenko 2014; what shap's
PermutationExplainer and SamplingExplainer estimate). For each explained row ``x`` (the i-th,
from 0) and each of ``P`` permutations (the k-th: an order of the ``F`` features) paired with a
background row ``z`` (row ``(i * P + k) mod B`` of the ``B`` background rows): start from ``z``
and switch the features to ``x``'s values one at a time in that order; each switch's change of
the score is added to the switched feature's value; ``phi_j(x)`` is the average over the ``P``
permutations. Values are the raw CSV texts, so a categorical feature needs no encoding and a
missing value is switched like any other. The values add up to the score's change:
``sum_j phi_j(x) = f(x) - mean_k f(z_k)`` over the background rows the row was paired with (all
of them, evenly, when ``B`` divides ``P``); on a model additive in its features (linear) they
are exact, ``phi_j(x) = f_j(x_j) - mean_k f_j(z_kj)``, whatever the permutations. The cost is
rows x P x (F + 1) predictions (100 x 8 x 21 = 16,800 for 20 features): the hybrid rows of many
explained rows are built first and scored in batches.

Global attribution of feature j: ``mean_abs`` = the mean of ``|phi_j|`` over the explained rows;
``shares`` = those divided by their sum (all 0 when the sum is 0).

Drift of the attributions: the NDCG of the current ranking, as SageMaker Clarify's
explainability monitor defines it: relevance ``rel`` = the baseline's ``mean_abs``; features
ranked by the current ``mean_abs`` (descending, ties by name)::

    DCG = sum_i rel(feature ranked i-th) / log2(i + 1)      i = 1, 2, ..., F
    iDCG = the same over the baseline's own ranking;  NDCG = DCG / iDCG  (1.0 when iDCG is 0)

1.0 is the baseline's order; the top of the ranking weighs most. Below 0.9 (Clarify's
threshold) the model now relies on different features.

The draws use ``numpy.random.default_rng(0)``: the baseline draws up to ``B`` background rows,
then up to ``N`` explained rows (each a set of distinct rows of ``baseline.csv``, kept in file
order), then the permutations; the monitor draws up to ``N`` of the rows analysed without a
schema error (request and file order; in the batch format the input rows the data check
analysed), then the permutations, and uses the baseline's background rows. Same inputs, same
model: same bytes.

``baseline --model`` adds to ``statistics.json`` (without ``--model`` there is no such key and
the file is as before; readers accept it with or without)::

    "attributions": {"method": "permutation_shapley", "score": "churn_probability",
                     "rows": 100, "permutations": 8, "seed": 0,
                     "mean_abs": {"a": 0.12, ...}, "shares": {"a": 0.6, ...},
                     "background": [["12", "70.35", "", "one-year"], ...]}

``monitor --model`` adds to ``report.json`` (without ``--model`` nothing changes)::

    "attribution": {"status": "ok", "method": "permutation_shapley", "score": "...",
                    "permutations": 8, "seed": 0, "rows_available": 950, "rows": 100,
                    "ndcg": 0.98, "mean_abs": {...}, "shares": {...}, "baseline_shares": {...},
                    "features": {"a": {"share": 0.55, "baseline_share": 0.6, "change": -0.05,
                                       "rank": 1, "baseline_rank": 1}, ...}}

and to ``metrics.json``: ``AttributionNDCG``, ``FeatureAttribution`` (``Feature``: the current
share) and ``InsufficientData`` (``Check=attribution``). With fewer than ``--min-rows`` rows
analysed without a schema error the status is ``insufficient_data``: ``InsufficientData`` = 1
and no figure (0 when the attributions ran). A baseline without ``attributions`` gives
``no_baseline_attributions``, a warning line on stderr, no attribution metric and exit 0. In
both cases the model is not loaded. The score field must be the one the baseline explained.

Exit codes: 2 with one line on stderr (``attribution: ...``) when the model cannot be found,
extracted, imported or called (neither ``model.tar.gz`` nor ``code/<entry>``, a serving function
missing or raising), a response that is not ``{"predictions": [...]}``, a prediction count that
is not the rows sent, a score that is not a number; also for ``--attribution-rows``,
``--background-rows`` or ``--permutations`` below 1, ``baseline --model`` without
``--prediction-field``, and (``monitor --model``) a malformed ``attributions`` in
``statistics.json``, other columns than the baseline's or another score field.
"""

# The script runs on Python 3.8/3.9 (the repository's ruff targets 3.11): no zip(strict=...), no
# itertools.pairwise. tests/test_monitoring_code.py checks the Python 3.8 compatibility.
# ruff: noqa: B905, RUF007
from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import importlib.util
import io
import json
import math
import os
import shutil
import sys
import tarfile
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from types import ModuleType

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
# Feature attributions (--model)
ATTRIBUTION_METHOD = "permutation_shapley"
ATTRIBUTION_SEED = 0
DEFAULT_ATTRIBUTION_ROWS = 100
DEFAULT_BACKGROUND_ROWS = 20
DEFAULT_PERMUTATIONS = 8
DEFAULT_ENTRY = "inference.py"
MODEL_ARCHIVE = "model.tar.gz"
SERVING_FUNCTIONS = ("model_fn", "input_fn", "predict_fn", "output_fn")
SCORE_BATCH_ROWS = 500  # rows per request body
HYBRID_CHUNK_ROWS = 20_000  # hybrid rows built before they are scored
CSV_TYPE = "text/csv"
JSON_TYPE = "application/json"
NO_BASELINE_ATTRIBUTIONS = "no_baseline_attributions"


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


def baseline_statistics(
    path: Path, columns: Sequence[str], attribution: AttributionSettings | None = None
) -> dict[str, Any]:
    """statistics.json's document for a baseline CSV (or a folder holding baseline.csv), with
    the model's ``attributions`` when settings are given."""
    table = read_baseline_csv(path, columns)
    document = {
        "statistics_version": STATISTICS_VERSION,
        "row_count": len(table[columns[0]]),
        "columns": list(columns),
        "features": {c: column_statistics(table[c]) for c in columns},
    }
    if attribution is not None:
        document["attributions"] = baseline_attributions(table, columns, attribution)
    return document


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


def response_predictions(text: str) -> list[Any]:
    """The ``predictions`` list of a response body; raises _Skip("invalid_response")."""
    try:
        answer = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise _Skip("invalid_response") from err
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list):
        raise _Skip("invalid_response")
    return predictions


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
    predictions = response_predictions(response)
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
    """report.json's entry of one feature: its counts, missing and out-of-range (or unseen)
    rates, and its drift from the baseline (or why there is none)."""
    numeric = baseline.kind == NUMERIC
    present = len(values.numbers) if numeric else len(values.texts)
    report = _empty_feature_report(baseline, values, present)
    if rows < min_rows:
        report["drift_status"] = INSUFFICIENT
        return report
    report["missing_rate"] = values.missing / rows
    _outside_baseline(report, baseline, values, present)
    if not baseline.has_values:
        report["drift_status"] = NO_BASELINE_VALUES
        return report
    if present < min_rows:
        report["drift_status"] = INSUFFICIENT
        return report
    current = _current_proportions(report, baseline, values, present)
    psi = population_stability_index(baseline.proportions, current)
    report.update(psi=psi, drift=drift_level(psi), drift_status=OK)
    return report


def _empty_feature_report(
    baseline: FeatureBaseline, values: _FeatureValues, present: int
) -> dict[str, Any]:
    """A feature's entry with its counts and every figure still ``None``."""
    report: dict[str, Any] = {
        "kind": baseline.kind,
        "values": present,
        "missing": values.missing,
        "invalid": values.invalid,
        "missing_rate": None,
        "psi": None,
        "drift": None,
    }
    if baseline.kind == NUMERIC:
        report.update(out_of_range=None, out_of_range_rate=None, bin_proportions=None)
    else:
        report.update(unseen=None, unseen_rate=None, category_proportions=None)
    return report


def _outside_baseline(
    report: dict[str, Any], baseline: FeatureBaseline, values: _FeatureValues, present: int
) -> None:
    """Adds the values outside the baseline to ``report``: out of its range (numeric) or
    categories it never saw (categorical)."""
    numeric = baseline.kind == NUMERIC
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


def _current_proportions(
    report: dict[str, Any], baseline: FeatureBaseline, values: _FeatureValues, present: int
) -> list[float]:
    """The values' shares per baseline bin (numeric) or category and ``OTHER``
    (categorical), also added to ``report``."""
    if baseline.kind == NUMERIC:
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
    return current


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
    """The model quality section: the captures' predictions joined by event id with the
    ground-truth labels under ``ground_truth``, what could not be joined and why, and (with at
    least ``min_rows`` joined) the problem type's metrics, else status insufficient data."""
    counts: Counter[str] = Counter()
    predictions, multi_row = _predictions_by_id(captures, counts)
    files = jsonl_files(ground_truth)
    labels, skipped = _labels_by_id(files, settings, counts)
    pairs = _joined(labels, predictions, multi_row, settings, counts)
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
    report["metrics"] = _quality_metrics(pairs, settings)
    report["status"] = OK
    return report


def _predictions_by_id(
    captures: Sequence[Capture], counts: Counter[str]
) -> tuple[dict[str, Any], set[str]]:
    """(prediction by record id, ids of multi-row records) of the single-row captures with an
    id (the last wins); counts records without id, multi-row records and duplicate ids."""
    predictions: dict[str, Any] = {}
    multi_row: set[str] = set()
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
    return predictions, multi_row


def _labels_by_id(
    files: Sequence[Path], settings: QualitySettings, counts: Counter[str]
) -> tuple[dict[str, Any], Counter[str]]:
    """(label by event id, skipped lines by reason) of the ground-truth ``files`` (the last
    label of an id wins); counts duplicate labels."""
    labels: dict[str, Any] = {}
    skipped: Counter[str] = Counter()
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
    return labels, skipped


def _joined(
    labels: dict[str, Any],
    predictions: dict[str, Any],
    multi_row: set[str],
    settings: QualitySettings,
    counts: Counter[str],
) -> list[tuple[Any, Any, float | None]]:
    """(label, predicted value, score) of each labelled prediction, in event id order; counts
    invalid predictions, labels of multi-row records and labels without a prediction."""
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
    return pairs


def _quality_metrics(
    pairs: Sequence[tuple[Any, Any, float | None]], settings: QualitySettings
) -> dict[str, Any]:
    """The problem type's metrics of the joined (label, predicted, score) ``pairs``; binary
    classification uses the scores only when every pair has one."""
    truth = [pair[0] for pair in pairs]
    guessed = [pair[1] for pair in pairs]
    if settings.problem_type == "binary_classification":
        scores = [pair[2] for pair in pairs if pair[2] is not None]
        usable = scores if len(scores) == len(pairs) else None  # all or none have one
        return binary_metrics(truth, guessed, usable)
    if settings.problem_type == "multiclass_classification":
        return multiclass_metrics(truth, guessed)
    return regression_metrics(truth, guessed)


# ---------------------------------------------------------------------------------------------
# feature attributions: the model, called through its serving functions


class AttributionError(InputError):
    """The model cannot be found, loaded or called, or its answers are unusable: exit 2."""


@dataclass
class AttributionSettings:
    """Where the model is, which score to explain and how many rows and permutations."""

    model: Path
    score_field: str
    entry: str = DEFAULT_ENTRY
    rows: int = DEFAULT_ATTRIBUTION_ROWS
    background_rows: int = DEFAULT_BACKGROUND_ROWS
    permutations: int = DEFAULT_PERMUTATIONS


def _failure(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _extract(archive_path: Path, target: Path) -> None:
    """A model archive's files and folders into target (links, devices, absolute or ``..``
    paths refused)."""
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            members = archive.getmembers()
            for member in members:
                path = PurePosixPath(member.name)
                if (
                    path.is_absolute()
                    or ".." in path.parts
                    or not (member.isfile() or member.isdir())
                ):
                    raise AttributionError(
                        f"attribution: {archive_path}: refused member {member.name!r} "
                        "(only files and folders inside the archive)"
                    )
            if hasattr(tarfile, "data_filter"):  # Python 3.12, and 3.8.17+ security releases
                archive.extractall(target, members, filter="data")
            else:
                archive.extractall(target, members)
    except (OSError, EOFError, tarfile.TarError, zlib.error) as err:
        raise AttributionError(f"attribution: {archive_path}: cannot extract: {err}") from err


@contextlib.contextmanager
def _model_folder(model: Path, entry: str) -> Iterator[Path]:
    """The folder of the model's files: its model.tar.gz extracted into a temporary folder
    (removed afterwards), or --model itself when it holds no archive but code/<entry>."""
    archive = model if model.is_file() else model / MODEL_ARCHIVE
    if not archive.is_file():
        if not (model / "code" / entry).is_file():
            raise AttributionError(
                f"attribution: --model {model}: neither {MODEL_ARCHIVE} nor code/{entry}"
            )
        yield model
        return
    temporary = Path(tempfile.mkdtemp(prefix="model-"))
    try:
        _extract(archive, temporary)
        if not (temporary / "code" / entry).is_file():
            raise AttributionError(f"attribution: {archive}: no code/{entry}")
        yield temporary
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _inside(module: Any, folder: str) -> bool:
    origin = getattr(module, "__file__", None)
    return isinstance(origin, str) and os.path.realpath(origin).startswith(folder + os.sep)


@contextlib.contextmanager
def _code_on_path(code: Path) -> Iterator[None]:
    """code/ first on sys.path while the model runs (no bytecode written into it); the modules
    loaded from it are forgotten afterwards (those they displaced come back)."""
    folder = os.path.realpath(code)
    before = dict(sys.modules)
    sys.path.insert(0, str(code))
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__
    try:
        yield
    finally:
        sys.dont_write_bytecode = writes_bytecode
        if str(code) in sys.path:
            sys.path.remove(str(code))
        for name in [n for n, m in list(sys.modules.items()) if _inside(m, folder)]:
            if name in before and not _inside(before[name], folder):
                sys.modules[name] = before[name]
            else:
                del sys.modules[name]


def _import_entry(code: Path, entry: str) -> ModuleType:
    """code/<entry> imported as a module named after its file."""
    spec = importlib.util.spec_from_file_location(Path(entry).stem, code / entry)
    if spec is None or spec.loader is None:
        raise AttributionError(f"attribution: code/{entry}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickles look their module up
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:
        raise AttributionError(
            f"attribution: code/{entry}: import failed: {_failure(err)}"
        ) from err
    missing = [name for name in SERVING_FUNCTIONS if not callable(getattr(module, name, None))]
    if missing:
        raise AttributionError(f"attribution: code/{entry} has no {', '.join(missing)}")
    return module


def _csv_body(rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _response_text(output: Any) -> str | None:
    """output_fn's body as text: a text, UTF-8 bytes, or the first of a (body, type) pair."""
    if isinstance(output, tuple) and output:
        output = output[0]
    if isinstance(output, (bytes, bytearray)):
        try:
            return bytes(output).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return output if isinstance(output, str) else None


def _score_value(value: Any) -> float | None:
    return float(value) if isinstance(value, bool) else number_value(value)


@dataclass
class ServedModel:
    """A model loaded by its serving code, scoring raw rows as the endpoint would."""

    module: ModuleType
    entry: str
    score_field: str
    model: Any = None
    as_bytes: bool | None = None  # input_fn's body type, settled by the first call

    def call(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self.module, name)(*args)
        except (Exception, SystemExit) as err:
            raise AttributionError(
                f"attribution: code/{self.entry}: {name} raised {_failure(err)}"
            ) from err

    def parse(self, body: str) -> Any:
        """input_fn on a text body, or on bytes when it fails on the first text with a
        TypeError or AttributeError (the inference toolkit passes bytes)."""
        if self.as_bytes is None:
            try:
                data = self.module.input_fn(body, CSV_TYPE)
            except (TypeError, AttributeError):
                self.as_bytes = True
            except (Exception, SystemExit) as err:
                raise AttributionError(
                    f"attribution: code/{self.entry}: input_fn raised {_failure(err)}"
                ) from err
            else:
                self.as_bytes = False
                return data
        return self.call("input_fn", body.encode("utf-8") if self.as_bytes else body, CSV_TYPE)

    def scores(self, rows: Sequence[Sequence[str]]) -> npt.NDArray[np.float64]:
        """The score of each row, SCORE_BATCH_ROWS rows per request."""
        values: list[float] = []
        for start in range(0, len(rows), SCORE_BATCH_ROWS):
            batch = rows[start : start + SCORE_BATCH_ROWS]
            prediction = self.call("predict_fn", self.parse(_csv_body(batch)), self.model)
            values.extend(
                self.response_scores(self.call("output_fn", prediction, JSON_TYPE), len(batch))
            )
        return np.asarray(values, dtype=float)

    def response_scores(self, output: Any, count: int) -> list[float]:
        where = f"attribution: code/{self.entry}"
        text = _response_text(output)
        if text is None:
            raise AttributionError(
                f"{where}: output_fn returned {type(output).__name__}, not JSON text"
            )
        try:
            predictions = response_predictions(text)
        except _Skip:
            raise AttributionError(
                f'{where}: the response is not {{"predictions": [...]}}'
            ) from None
        if len(predictions) != count:
            raise AttributionError(f"{where}: {len(predictions)} predictions for {count} rows")
        scores = []
        for index, prediction in enumerate(predictions):
            raw = prediction.get(self.score_field) if isinstance(prediction, dict) else None
            score = _score_value(raw)
            if score is None:
                raise AttributionError(
                    f"{where}: prediction {index} has no numeric {self.score_field!r}: {raw!r}"
                )
            scores.append(score)
        return scores


@contextlib.contextmanager
def served_model(model: Path, entry: str, score_field: str) -> Iterator[ServedModel]:
    """The model of --model loaded by its serving code (model_fn called once)."""
    with _model_folder(model, entry) as folder:
        code = folder / "code"
        with _code_on_path(code):
            served = ServedModel(_import_entry(code, entry), entry, score_field)
            served.model = served.call("model_fn", str(folder))
            yield served


# ---------------------------------------------------------------------------------------------
# feature attributions: Shapley values by permutation sampling, NDCG


def _hybrids(x: Sequence[str], z: Sequence[str], order: Sequence[int]) -> list[list[str]]:
    """z, then z with x's values switched in one feature at a time in the order (F + 1 rows)."""
    row = list(z)
    rows = [list(row)]
    for j in order:
        row[j] = x[j]
        rows.append(list(row))
    return rows


def _group_values(
    explained: Sequence[Sequence[str]],
    background: Sequence[Sequence[str]],
    orders: npt.NDArray[np.intp],
    first: int,
    score: Callable[[list[list[str]]], npt.NDArray[np.float64]],
) -> npt.NDArray[np.float64]:
    """The Shapley values of explained rows first, first + 1, ... (one per orders[i])."""
    count, permutations, features = orders.shape
    rows: list[list[str]] = []
    for i in range(first, first + count):
        for k in range(permutations):
            z = background[(i * permutations + k) % len(background)]
            rows.extend(_hybrids(explained[i], z, orders[i - first, k]))
    scores = np.asarray(score(rows), dtype=float)
    if scores.shape != (len(rows),):
        raise AttributionError(f"attribution: {scores.size} scores for {len(rows)} rows")
    steps = np.diff(scores.reshape(count, permutations, features + 1), axis=2)
    contributions = np.zeros_like(steps)
    np.put_along_axis(contributions, orders, steps, axis=2)
    values: npt.NDArray[np.float64] = contributions.mean(axis=1)
    return values


def shapley_values(
    explained: Sequence[Sequence[str]],
    background: Sequence[Sequence[str]],
    score: Callable[[list[list[str]]], npt.NDArray[np.float64]],
    permutations: int,
    rng: np.random.Generator,
) -> npt.NDArray[np.float64]:
    """phi[i, j]: feature j's Shapley value for explained row i, by permutation sampling (the
    module docstring); the permutations are drawn from rng, for every row first."""
    features = len(background[0])
    orders = np.argsort(rng.random((len(explained), permutations, features)), axis=2, kind="stable")
    phi = np.zeros((len(explained), features))
    group = max(1, HYBRID_CHUNK_ROWS // (permutations * (features + 1)))
    for first in range(0, len(explained), group):
        chunk = orders[first : first + group]
        phi[first : first + len(chunk)] = _group_values(explained, background, chunk, first, score)
    return phi


def global_attributions(
    phi: npt.NDArray[np.float64], columns: Sequence[str]
) -> tuple[dict[str, float], dict[str, float]]:
    """(mean |phi_j| over the rows, the same as shares of their sum) per feature."""
    mean_abs = np.abs(phi).mean(axis=0) if phi.shape[0] else np.zeros(len(columns))
    total = float(mean_abs.sum())
    shares = mean_abs / total if total > 0 else np.zeros(len(columns))
    return (
        {c: float(v) for c, v in zip(columns, mean_abs)},
        {c: float(v) for c, v in zip(columns, shares)},
    )


def attribution_ranking(values: dict[str, float]) -> list[str]:
    """The features by attribution, largest first, ties by name."""
    return sorted(values, key=lambda name: (-values[name], name))


def ndcg(relevance: dict[str, float], current: dict[str, float]) -> float:
    """NDCG of the current ranking, the baseline's attributions as relevance (Clarify's)."""

    def gain(order: Sequence[str]) -> float:
        return sum(relevance[name] / math.log2(i + 2) for i, name in enumerate(order))

    ideal = gain(attribution_ranking(relevance))
    return gain(attribution_ranking(current)) / ideal if ideal > 0 else 1.0


def _sample(rng: np.random.Generator, population: int, size: int) -> list[int]:
    """Up to size distinct indices of range(population), drawn with rng, in increasing order."""
    chosen = rng.choice(population, size=min(size, population), replace=False)
    return sorted(int(i) for i in chosen)


def explain(
    explained: Sequence[Sequence[str]],
    background: Sequence[Sequence[str]],
    columns: Sequence[str],
    settings: AttributionSettings,
    rng: np.random.Generator,
) -> tuple[dict[str, float], dict[str, float]]:
    """(mean_abs, shares) of the explained rows through the model of the settings."""
    with served_model(settings.model, settings.entry, settings.score_field) as served:
        phi = shapley_values(explained, background, served.scores, settings.permutations, rng)
    return global_attributions(phi, columns)


def baseline_attributions(
    table: dict[str, list[str]], columns: Sequence[str], settings: AttributionSettings
) -> dict[str, Any]:
    """statistics.json's ``attributions``: background and explained rows drawn from the
    baseline's rows (raw texts, in column order), then their attributions."""
    count = len(table[columns[0]])
    rng = np.random.default_rng(ATTRIBUTION_SEED)
    background = [
        [table[c][i] for c in columns] for i in _sample(rng, count, settings.background_rows)
    ]
    explained = [[table[c][i] for c in columns] for i in _sample(rng, count, settings.rows)]
    mean_abs, shares = explain(explained, background, columns, settings, rng)
    return {
        "method": ATTRIBUTION_METHOD,
        "score": settings.score_field,
        "rows": len(explained),
        "permutations": settings.permutations,
        "seed": ATTRIBUTION_SEED,
        "mean_abs": mean_abs,
        "shares": shares,
        "background": background,
    }


@dataclass
class BaselineAttributions:
    """statistics.json's ``attributions``, checked."""

    score: str
    mean_abs: dict[str, float]
    shares: dict[str, float]
    background: list[list[str]]


def _feature_numbers(section: dict[str, Any], key: str, columns: Sequence[str]) -> dict[str, float]:
    values = section.get(key)
    if not (
        isinstance(values, dict)
        and sorted(values) == sorted(columns)
        and all(_is_number(v) and v >= 0 for v in values.values())
    ):
        raise InputError(f"attributions: {key} must give a number >= 0 per column")
    return {c: float(values[c]) for c in columns}


def load_attributions(
    document: dict[str, Any], columns: Sequence[str]
) -> BaselineAttributions | None:
    """The baseline's attributions (None when statistics.json has none)."""
    section = document.get("attributions")
    if section is None:
        return None
    if not isinstance(section, dict):
        raise InputError("attributions: not an object")
    if document.get("columns") != list(columns):
        raise InputError("attributions: --columns must be the baseline's columns, in order")
    score, background = section.get("score"), section.get("background")
    if not isinstance(score, str):
        raise InputError("attributions: score must be a field name")
    if not (
        isinstance(background, list)
        and background
        and all(
            isinstance(row, list)
            and len(row) == len(columns)
            and all(isinstance(v, str) for v in row)
            for row in background
        )
    ):
        raise InputError("attributions: background must be rows of texts, one per column")
    return BaselineAttributions(
        score,
        _feature_numbers(section, "mean_abs", columns),
        _feature_numbers(section, "shares", columns),
        background,
    )


def _usable_rows(rows: Sequence[Row], baselines: dict[str, FeatureBaseline]) -> list[list[str]]:
    """The rows analysed without a schema error: every value a text, a number where the
    baseline's column is numeric (or missing)."""
    numeric = [b.kind == NUMERIC for b in baselines.values()]
    usable = []
    for row in rows:
        cells = row.cells
        if cells is None or any(cell is None for cell in cells):
            continue
        texts = [cell for cell in cells if cell is not None]
        if all(
            not is_number or not text.strip() or parse_finite(text.strip()) is not None
            for is_number, text in zip(numeric, texts)
        ):
            usable.append(texts)
    return usable


def _attribution_changes(
    baseline: BaselineAttributions, mean_abs: dict[str, float], shares: dict[str, float]
) -> dict[str, Any]:
    ranks = {name: i + 1 for i, name in enumerate(attribution_ranking(mean_abs))}
    baseline_ranks = {name: i + 1 for i, name in enumerate(attribution_ranking(baseline.mean_abs))}
    return {
        name: {
            "share": shares[name],
            "baseline_share": baseline.shares[name],
            "change": shares[name] - baseline.shares[name],
            "rank": ranks[name],
            "baseline_rank": baseline_ranks[name],
        }
        for name in shares
    }


def attribution_report(
    rows: Sequence[Row],
    baselines: dict[str, FeatureBaseline],
    statistics: dict[str, Any],
    settings: AttributionSettings,
    min_rows: int,
) -> dict[str, Any]:
    """report.json's ``attribution``: the captured rows' attributions against the baseline's."""
    columns = list(baselines)
    report: dict[str, Any] = {
        "status": NO_BASELINE_ATTRIBUTIONS,
        "method": ATTRIBUTION_METHOD,
        "score": settings.score_field,
        "permutations": settings.permutations,
        "seed": ATTRIBUTION_SEED,
        **dict.fromkeys(("rows_available", "rows", "ndcg", "mean_abs", "shares")),
        **dict.fromkeys(("baseline_shares", "features")),
    }
    baseline = load_attributions(statistics, columns)
    if baseline is None:
        return report
    if baseline.score != settings.score_field:
        raise AttributionError(
            f"attribution: the baseline explains {baseline.score!r}, this run would explain "
            f"{settings.score_field!r} (--probability-field, else --prediction-field)"
        )
    usable = _usable_rows(rows, baselines)
    report.update(status=INSUFFICIENT, rows_available=len(usable), rows=0)
    report["baseline_shares"] = baseline.shares
    if len(usable) < min_rows:
        return report
    rng = np.random.default_rng(ATTRIBUTION_SEED)
    explained = [usable[i] for i in _sample(rng, len(usable), settings.rows)]
    mean_abs, shares = explain(explained, baseline.background, columns, settings, rng)
    report.update(status=OK, rows=len(explained), mean_abs=mean_abs, shares=shares)
    report["ndcg"] = ndcg(baseline.mean_abs, mean_abs)
    report["features"] = _attribution_changes(baseline, mean_abs, shares)
    return report


def attribution_metrics(section: dict[str, Any]) -> list[dict[str, Any]]:
    """AttributionNDCG, FeatureAttribution per feature, InsufficientData (Check=attribution);
    nothing when the baseline has no attributions."""
    if section["status"] == NO_BASELINE_ATTRIBUTIONS:
        return []
    entries = [_metric("InsufficientData", section["status"] == INSUFFICIENT, Check="attribution")]
    if section["ndcg"] is not None:
        entries.append(_metric("AttributionNDCG", section["ndcg"]))
    for name, share in (section["shares"] or {}).items():
        entries.append(_metric("FeatureAttribution", share, Feature=name))
    return entries


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
    if "attribution" in report:
        entries.extend(attribution_metrics(report["attribution"]))
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


def read_endpoint(
    root: Path, columns: Sequence[str]
) -> tuple[list[Capture], Counter[str], int, int]:
    """(captures, skipped by reason, records read, files) of the data capture under root."""
    captures: list[Capture] = []
    skipped: Counter[str] = Counter()
    files = jsonl_files(root)
    read = 0
    for path in files:
        for line in _lines(path):
            read += 1
            try:
                captures.append(parse_capture(line, columns))
            except _Skip as skip:
                skipped[skip.reason] += 1
    return captures, skipped, read, len(files)


def _data_report(
    rows: Sequence[Row],
    baselines: dict[str, FeatureBaseline],
    schema_errors: Counter[str],
    min_rows: int,
) -> dict[str, Any]:
    """report.json's ``data``: data quality and drift per feature (counts schema errors)."""
    analysed = sum(1 for row in rows if row.cells is not None)
    collected = _collect(rows, baselines, schema_errors)
    features = {
        name: _feature_report(baseline, collected[name], analysed, min_rows)
        for name, baseline in baselines.items()
    }
    drifts = [(f["psi"], name) for name, f in features.items() if f["psi"] is not None]
    top = max(drifts, key=lambda item: item[0]) if drifts else None  # first of equals
    return {
        "status": INSUFFICIENT if analysed < min_rows else OK,
        "rows_analysed": analysed,
        "max_feature_drift": {"feature": top[1], "psi": top[0]} if top else None,
        "features": features,
    }


def _settings_report(
    columns: Sequence[str], settings: QualitySettings, min_rows: int
) -> dict[str, Any]:
    """report.json's ``settings``: the columns and quality settings the run used."""
    return {
        "columns": list(columns),
        "problem_type": settings.problem_type,
        "prediction_field": settings.prediction_field,
        "probability_field": settings.probability_field,
        "classes": settings.classes,
        "label_threshold": settings.label_threshold,
        "min_rows": min_rows,
    }


def _records_report(read: int, used: int, skipped: Counter[str]) -> dict[str, Any]:
    """report.json's ``capture.records``: records read, used and skipped (by reason)."""
    return {
        "read": read,
        "used": used,
        "skipped": sum(skipped.values()),
        "skipped_by_reason": dict(skipped),
    }


def run_monitor(
    capture_dir: Path,
    statistics: Any,
    columns: Sequence[str],
    settings: QualitySettings,
    ground_truth_dir: Path | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
    capture_format: str = "endpoint",
    attribution: AttributionSettings | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(report, metrics) of the captured data against the baseline statistics document
    (``capture_format`` ``endpoint``: data capture ``*.jsonl``; ``batch``: batch scoring's
    inputs and ``.out`` responses, :func:`read_batch`), with the feature attributions when
    ``attribution`` settings are given."""
    baselines = load_statistics(statistics, columns)
    reader = read_batch if capture_format == "batch" else read_endpoint
    captures, skipped, read, file_count = reader(capture_dir, columns)
    rows = [row for capture in captures for row in capture.rows]
    schema_errors: Counter[str] = Counter(row.error for row in rows if row.error is not None)
    data = _data_report(rows, baselines, schema_errors, min_rows)
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "settings": _settings_report(columns, settings, min_rows),
        "baseline": {
            "row_count": statistics.get("row_count"),
            "statistics_version": statistics.get("statistics_version"),
        },
        "capture": {
            "format": capture_format,
            "files": file_count,
            "records": _records_report(read, len(captures), skipped),
            "rows": {"total": len(rows), "analysed": data["rows_analysed"]},
        },
        "schema_errors": {"total": sum(schema_errors.values()), "by_kind": dict(schema_errors)},
        "data": data,
        "quality": None
        if ground_truth_dir is None
        else _quality_report(captures, ground_truth_dir, settings, min_rows),
    }
    if attribution is not None:
        report["attribution"] = attribution_report(
            rows, baselines, statistics, attribution, min_rows
        )
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
    _attribution_options(base, baseline=True)
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
    _attribution_options(mon, baseline=False)
    return parser


def _attribution_options(parser: argparse.ArgumentParser, *, baseline: bool) -> None:
    parser.add_argument("--model", type=Path)
    parser.add_argument("--entry", default=DEFAULT_ENTRY)
    parser.add_argument("--attribution-rows", type=int, default=DEFAULT_ATTRIBUTION_ROWS)
    parser.add_argument("--permutations", type=int, default=DEFAULT_PERMUTATIONS)
    if baseline:
        parser.add_argument("--background-rows", type=int, default=DEFAULT_BACKGROUND_ROWS)
        parser.add_argument("--prediction-field")
        parser.add_argument("--probability-field")


def _attribution_settings(args: argparse.Namespace) -> AttributionSettings | None:
    """The attribution settings of --model and its options (None without --model)."""
    if args.model is None:
        return None
    if args.prediction_field is None:
        raise InputError("--model needs --prediction-field (the score explained)")
    entry = PurePosixPath(args.entry)
    if entry.is_absolute() or ".." in entry.parts or entry.suffix != ".py":
        raise InputError(f"--entry {args.entry!r}: a .py file under the model's code/")
    background_rows = getattr(args, "background_rows", DEFAULT_BACKGROUND_ROWS)
    for option, value in (
        ("--attribution-rows", args.attribution_rows),
        ("--background-rows", background_rows),
        ("--permutations", args.permutations),
    ):
        if value < 1:
            raise InputError(f"{option} must be at least 1")
    return AttributionSettings(
        args.model,
        args.probability_field or args.prediction_field,
        args.entry,
        args.attribution_rows,
        background_rows,
        args.permutations,
    )


def _baseline_command(args: argparse.Namespace) -> str:
    columns = _names(args.columns, "--columns")
    attribution = _attribution_settings(args)
    statistics = baseline_statistics(args.input, columns, attribution)
    _write_json(args.output / STATISTICS_FILE, statistics)
    summary = f"statistics of {statistics['row_count']} rows, {len(columns)} columns"
    if attribution is not None:
        explained = statistics["attributions"]
        summary += f", attributions of {explained['rows']} rows ({ATTRIBUTION_METHOD})"
    return summary


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
    attribution = _attribution_settings(args)
    try:
        report, metrics = run_monitor(
            args.capture,
            statistics,
            columns,
            settings,
            args.ground_truth,
            args.min_rows,
            args.capture_format,
            attribution,
        )
    except AttributionError:
        raise
    except InputError as err:
        raise InputError(f"--baseline {args.baseline}: {err}") from err
    _write_json(args.output / REPORT_FILE, report)
    _write_json(args.output / METRICS_FILE, metrics)
    return _monitor_summary(report, args.baseline)


def _monitor_summary(report: dict[str, Any], baseline: Path) -> str:
    """The run's stdout line (and a stderr warning when attributions were asked for but the
    baseline has none)."""
    data, quality = report["data"], report["quality"]
    top = data["max_feature_drift"]
    drift = "-" if top is None else "{:.4f} ({})".format(top["psi"], top["feature"])
    checked = "not checked" if quality is None else quality["status"]
    summary = (
        f"rows analysed {data['rows_analysed']} ({data['status']}), "
        f"records skipped {report['capture']['records']['skipped']}, "
        f"max PSI {drift}, quality {checked}"
    )
    if "attribution" not in report:
        return summary
    section = report["attribution"]
    if section["status"] == NO_BASELINE_ATTRIBUTIONS:
        print(
            f"monitoring.py: warning: attribution: --baseline {baseline} has no attributions "
            "(its baseline ran without --model): none computed",
            file=sys.stderr,
        )
    ndcg_text = "" if section["ndcg"] is None else " NDCG {:.4f}".format(section["ndcg"])
    return f"{summary}, attribution {section['status']}{ndcg_text}"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "baseline":
            print(_baseline_command(args))
        else:
            print(_monitor_command(args))
    except InputError as err:
        message = " ".join(str(err).split())
        print(f"monitoring.py: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
