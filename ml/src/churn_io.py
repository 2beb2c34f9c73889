"""File formats shared by the churn scripts: split files, the serving-format baseline, hashes.

Split files (written by preprocess.py, read by train.py and evaluate.py) are headerless CSV with
the label (0/1) in the first column and the features in ``FEATURE_NAMES`` order after it; a
missing value is an empty field. This is the layout SageMaker's XGBoost and Clarify expect of a
headerless CSV (label first).

The serving-format file (preprocess.py's Model Monitor data-quality baseline) is CSV with a header
line naming ``INPUT_COLUMNS``, then one customer per line exactly as a client sends it to the
endpoint as text/csv: raw values, no customer id, no label, a missing charge as an empty field.

The labelled serving-format file (preprocess.py's dataset of the Clarify post-training bias and
SHAP baselines) is headerless CSV: each line the same request fields, then the label (0/1). The
Clarify analysis config names its columns (``headers``: INPUT_COLUMNS, then the label column).

Only numpy and the standard library are imported: preprocess.py runs in the scikit-learn image,
which has no xgboost. The model files are churn_model.py's business.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from churn_features import INPUT_COLUMNS, CustomerRecord, DataValidationError

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


def write_split(path: Path, labels: Sequence[int], rows: Sequence[Sequence[float]]) -> None:
    """Write one headerless split file: label first, then the features."""
    if len(labels) != len(rows):
        raise ValueError(f"{len(labels)} labels for {len(rows)} rows")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for label, row in zip(labels, rows):
            writer.writerow([str(label), *(format_value(v) for v in row)])


def serving_fields(record: CustomerRecord) -> list[str]:
    """One record as the text/csv fields of a request, in INPUT_COLUMNS order.

    Values are normalised (integers without ``.0``, amounts as the shortest text that reads back
    as the same float, a missing amount as an empty field, the contract type in its canonical
    spelling), so serving parses them into exactly the features preprocess computed.
    """
    fields: list[str] = []
    for column in INPUT_COLUMNS:  # CustomerRecord's fields are named after the input columns
        value = getattr(record, column)
        fields.append(format_value(value) if isinstance(value, float) else str(value))
    return fields


def write_serving_csv(path: Path, records: Iterable[CustomerRecord]) -> None:
    """Write a header line naming INPUT_COLUMNS, then one request line per record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(INPUT_COLUMNS)
        for record in records:
            writer.writerow(serving_fields(record))


def write_labelled_serving_csv(
    path: Path, records: Sequence[CustomerRecord], labels: Sequence[int]
) -> None:
    """Write a headerless file of request lines, each followed by its label (0/1)."""
    if len(records) != len(labels):
        raise ValueError(f"{len(labels)} labels for {len(records)} records")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for record, label in zip(records, labels):
            writer.writerow([*serving_fields(record), str(label)])


def _rows(files: Iterable[Path], n_features: int) -> Iterable[tuple[int, list[float]]]:
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            for line_no, fields in enumerate(csv.reader(handle), start=1):
                if not fields:
                    continue
                where = f"{path.name} line {line_no}"
                if len(fields) != n_features + 1:
                    raise DataValidationError(
                        f"{where}: expected {n_features + 1} fields (label + {n_features} "
                        f"features), got {len(fields)}"
                    )
                if fields[0] not in ("0", "1"):
                    raise DataValidationError(
                        f"{where}: the first field is the label and must be 0 or 1, "
                        f"got {fields[0]!r}"
                    )
                try:
                    row = [float(v) if v else math.nan for v in fields[1:]]
                except ValueError:
                    raise DataValidationError(f"{where}: non-numeric feature value") from None
                yield int(fields[0]), row


def read_split_dir(
    directory: Path, n_features: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Labels and feature matrix from every CSV file of a split directory (a channel)."""
    files = csv_files(directory)
    if not files:
        raise DataValidationError(f"no .csv files in {directory}")
    labels: list[int] = []
    rows: list[list[float]] = []
    for label, row in _rows(files, n_features):
        labels.append(label)
        rows.append(row)
    if not rows:
        raise DataValidationError(f"the .csv files in {directory} hold no rows")
    return np.asarray(labels, dtype=np.int64), np.asarray(rows, dtype=np.float64)
