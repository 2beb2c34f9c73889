"""File formats shared by the demand scripts: split files, serving-format files, hashes.

Split files (written by preprocess.py, read by train.py and evaluate.py) are headerless CSV with
the label (units_sold) in the first column and the features in ``FEATURE_NAMES`` order after it;
a missing value (only temperature_c can be missing) is an empty field.

The serving-format file (preprocess.py's Model Monitor data-quality baseline) is CSV with a
header line naming ``INPUT_COLUMNS``, then one store-day per line exactly as a client sends it
to the endpoint as text/csv: raw values, no store id, no label, a missing temperature as an empty
field. The labelled serving-format file is headerless: each line the same request fields, then
the label.

Only numpy and the standard library are imported: preprocess.py runs in the scikit-learn image
without needing scikit-learn, and evaluate.py scores the model with numpy alone.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from demand_features import (
    FEATURE_NAMES,
    INPUT_COLUMNS,
    NULLABLE_FEATURES,
    DataValidationError,
    DemandRecord,
)

if TYPE_CHECKING:  # numpy.typing is not needed at run time (old numpy in the containers)
    from numpy.typing import NDArray


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def csv_files(directory: Path) -> list[Path]:
    """Every ``*.csv`` under directory (recursively), in a stable order."""
    if not directory.is_dir():
        raise DataValidationError(f"{directory} is not a directory")
    return sorted(
        (p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() == ".csv"),
        key=lambda p: p.relative_to(directory).as_posix(),
    )


def format_value(value: float) -> str:
    """Shortest text that reads back as the same float; integral values without ``.0``."""
    if math.isnan(value):
        return ""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def write_split(path: Path, labels: Sequence[float], rows: Sequence[Sequence[float]]) -> None:
    """Write one headerless split file: label first, then the features."""
    if len(labels) != len(rows):
        raise ValueError(f"{len(labels)} labels for {len(rows)} rows")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for label, row in zip(labels, rows):
            writer.writerow([format_value(label), *(format_value(v) for v in row)])


def serving_fields(record: DemandRecord) -> list[str]:
    """One record as the text/csv fields of a request, in INPUT_COLUMNS order.

    Values are normalised (integers without ``.0``, amounts as the shortest text that reads back
    as the same float, a missing temperature as an empty field), so serving parses them into
    exactly the features preprocess computed.
    """
    fields: list[str] = []
    for column in INPUT_COLUMNS:  # DemandRecord's fields are named after the input columns
        value = getattr(record, column)
        fields.append(format_value(value) if isinstance(value, float) else str(value))
    return fields


def write_serving_csv(path: Path, records: Iterable[DemandRecord]) -> None:
    """Write a header line naming INPUT_COLUMNS, then one request line per record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(INPUT_COLUMNS)
        for record in records:
            writer.writerow(serving_fields(record))


def write_labelled_serving_csv(
    path: Path, records: Sequence[DemandRecord], labels: Sequence[float]
) -> None:
    """Write a headerless file of request lines, each followed by its label."""
    if len(records) != len(labels):
        raise ValueError(f"{len(labels)} labels for {len(records)} records")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for record, label in zip(records, labels):
            writer.writerow([*serving_fields(record), format_value(label)])


def _parse_split_row(fields: list[str], where: str) -> tuple[float, list[float]]:
    n_features = len(FEATURE_NAMES)
    if len(fields) != n_features + 1:
        raise DataValidationError(
            f"{where}: expected {n_features + 1} fields (label + {n_features} features), "
            f"got {len(fields)}"
        )
    try:
        label = float(fields[0])
    except ValueError:
        label = math.nan
    if not (math.isfinite(label) and label >= 0):
        raise DataValidationError(
            f"{where}: the first field is the label and must be a non-negative number, "
            f"got {fields[0]!r}"
        )
    row: list[float] = []
    for name, text in zip(FEATURE_NAMES, fields[1:]):
        if not text.strip():
            if name not in NULLABLE_FEATURES:
                raise DataValidationError(f"{where}: feature {name!r} is empty")
            row.append(math.nan)
            continue
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise DataValidationError(
                f"{where}: feature {name!r} must be a finite number, got {text!r}"
            )
        row.append(value)
    return label, row


def read_split_dir(directory: Path) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Labels and feature matrix from every CSV file of a split directory (a channel)."""
    files = csv_files(directory)
    if not files:
        raise DataValidationError(f"no .csv files in {directory}")
    labels: list[float] = []
    rows: list[list[float]] = []
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            for line_no, fields in enumerate(csv.reader(handle), start=1):
                if not fields:
                    continue
                label, row = _parse_split_row(fields, f"{path.name} line {line_no}")
                labels.append(label)
                rows.append(row)
    if not rows:
        raise DataValidationError(f"the .csv files in {directory} hold no rows")
    return (
        np.asarray(labels, dtype=np.float64),
        np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURE_NAMES)),
    )
