"""SageMaker Processing step: raw churn CSV -> validated, engineered train/validation/test splits.

    python3 preprocess.py [--input-dir /opt/ml/processing/input]
                          [--output-dir /opt/ml/processing/output] [--seed 42]
                          [--train-fraction 0.7] [--validation-fraction 0.15]

Runs in the scikit-learn 1.2-1 image (a ScriptProcessor, ml/src on PYTHONPATH) but needs only
numpy and the standard library (Python 3.8+). Reads every ``*.csv`` under --input-dir
(recursively; other files are listed in the manifest as ignored, except this script's own folder,
which the ScriptProcessor mounts at /opt/ml/processing/input/code). Each file has a header naming at least the columns of ``churn_features.RAW_COLUMNS``
(any order; extra columns are ignored). Any bad value stops the step with one message naming the
file, line, column and value, and exit code 2.

Writes under --output-dir:
  train/train.csv, validation/validation.csv, test/test.csv
      headerless CSV, label first, then the features in FEATURE_NAMES order (see churn_io)
  baseline/baseline.csv
      the Model Monitor data-quality baseline: a header line naming INPUT_COLUMNS, then the train
      split's customers (same rows, same order as train.csv) as RAW serving inputs, exactly what
      a client sends the endpoint as text/csv (no customer id, no label, a missing charge is an
      empty field). An endpoint's captured requests have this layout, the split files do not.
  labelled/labelled.csv
      the dataset of the Clarify post-training bias and SHAP baselines (clarify_configs.py): the
      test split's customers (same rows, same order as test.csv) as the same raw serving fields,
      each line followed by its label (0/1); headerless, the analysis config names the columns.
  manifest/manifest.json   the dataset manifest: input files with size and sha256, the S3
                           object versions from $DATASET_VERSION_IDS, row counts, feature names,
                           seed and fractions, and the sha256 of each output file
  manifest/features.json   the feature contract for serving: input columns, feature names

The split is stratified by label and reproducible: rows are ordered by customer_id before a
seeded shuffle, so the same data and seed give byte-identical files whatever the input file
order. A customer_id seen more than once keeps its last row (files in path order, so a later
ingest_date=... partition wins) and the manifest counts the dropped duplicates.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from churn_features import (
    CONTRACT_TYPES,
    FEATURE_NAMES,
    ID_COLUMN,
    INPUT_COLUMNS,
    LABEL_COLUMN,
    NULLABLE_COLUMNS,
    RAW_COLUMNS,
    CustomerRecord,
    DataValidationError,
    engineer,
    parse_label,
    parse_record,
)
from churn_io import (
    csv_files,
    sha256_file,
    write_labelled_serving_csv,
    write_serving_csv,
    write_split,
)

SPLITS = ("train", "validation", "test")
# The Model Monitor data-quality baseline: the train split in the endpoint's request format.
BASELINE = "baseline/baseline.csv"
# The Clarify baselines' dataset: the test split as requests (serving format), plus the label.
LABELLED = "labelled/labelled.csv"
MANIFEST_VERSION = 1
VERSION_IDS_ENV = "DATASET_VERSION_IDS"
# The folder this script runs from. A ScriptProcessor mounts its code at
# /opt/ml/processing/input/code, inside the default --input-dir: that folder is not input data.
CODE_DIR = Path(__file__).resolve().parent


def _is_own_code(path: Path) -> bool:
    return CODE_DIR in path.resolve().parents


@dataclass(frozen=True)
class Example:
    customer_id: str
    label: int
    record: CustomerRecord  # the raw input values, validated (serving format: baseline.csv)
    features: list[float]


def read_raw_file(path: Path, name: str) -> list[Example]:
    """Validated, engineered examples of one raw CSV file (name is used in messages)."""
    examples: list[Example] = []
    # utf-8-sig: files saved by spreadsheet tools start with a byte-order mark.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise DataValidationError(f"{name}: the file is empty (expected a header line)")
        header = [h.strip() for h in header]
        duplicated = sorted({h for h in header if header.count(h) > 1})
        if duplicated:
            raise DataValidationError(f"{name}: duplicate column(s) {', '.join(duplicated)}")
        missing = [c for c in RAW_COLUMNS if c not in header]
        if missing:
            raise DataValidationError(
                f"{name}: missing column(s) {', '.join(missing)}; the header must name "
                f"{', '.join(RAW_COLUMNS)}"
            )
        for line_no, fields in enumerate(reader, start=2):
            if not fields:
                continue  # blank line
            where = f"{name} line {line_no}"
            if len(fields) != len(header):
                raise DataValidationError(
                    f"{where}: expected {len(header)} fields like the header, got {len(fields)}"
                )
            values = dict(zip(header, fields))  # same length: checked above
            customer_id = values[ID_COLUMN].strip()
            if not customer_id:
                raise DataValidationError(f"{where}: column {ID_COLUMN!r} is required but empty")
            record = parse_record(values, where)
            label = parse_label(values[LABEL_COLUMN], where)
            examples.append(Example(customer_id, label, record, engineer(record)))
    return examples


def stratified_split(
    labels: Sequence[int], fractions: Sequence[float], seed: int
) -> list[list[int]]:
    """Row indices per split: each label is shuffled with the seed and cut by the fractions."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in fractions]
    labels_array = np.asarray(labels)
    for label in sorted(set(labels)):
        members = np.flatnonzero(labels_array == label)
        members = members[rng.permutation(len(members))]
        # Cumulative rounding: the parts always add up to the class size.
        cuts = np.round(np.cumsum(fractions) * len(members)).astype(int)
        start = 0
        for part, end in zip(parts, cuts):
            part.extend(int(i) for i in members[start:end])
            start = end
    return [sorted(part) for part in parts]


def dataset_version_ids() -> dict[str, str] | None:
    """$DATASET_VERSION_IDS (JSON object: S3 key -> object version id), if set."""
    raw = os.environ.get(VERSION_IDS_ENV)
    if raw is None or not raw.strip():
        return None
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as err:
        raise DataValidationError(f"${VERSION_IDS_ENV} is not valid JSON: {err}") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise DataValidationError(
            f"${VERSION_IDS_ENV} must be a JSON object of S3 key -> version id (strings), "
            f'e.g. {{"raw/customers.csv": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"}}'
        )
    return dict(sorted(parsed.items()))


def run(
    input_dir: Path,
    output_dir: Path,
    seed: int = 42,
    train_fraction: float = 0.7,
    validation_fraction: float = 0.15,
) -> dict[str, Any]:
    """Do the whole step; returns the manifest it wrote."""
    if not (0 < train_fraction < 1 and 0 < validation_fraction < 1):
        raise DataValidationError("--train-fraction and --validation-fraction must be in (0, 1)")
    if train_fraction + validation_fraction >= 1:
        raise DataValidationError(
            "--train-fraction + --validation-fraction must leave a share for the test split"
        )
    fractions = (train_fraction, validation_fraction, 1.0 - train_fraction - validation_fraction)
    version_ids = dataset_version_ids()  # fail before the slow part on a malformed variable

    files = [p for p in csv_files(input_dir) if not _is_own_code(p)]
    if not files:
        raise DataValidationError(f"no .csv files under {input_dir}")
    ignored = sorted(
        p.relative_to(input_dir).as_posix()
        for p in input_dir.rglob("*")
        if p.is_file() and p not in files and not _is_own_code(p)
    )
    by_customer: dict[str, Example] = {}
    inputs: list[dict[str, Any]] = []
    rows_read = 0
    for path in files:
        name = path.relative_to(input_dir).as_posix()
        examples = read_raw_file(path, name)
        rows_read += len(examples)
        for example in examples:
            by_customer[example.customer_id] = example
        inputs.append(
            {
                "name": name,
                "size_bytes": path.stat().st_size,
                "sha256": sha256_file(path),
                "rows": len(examples),
            }
        )
    if not by_customer:
        raise DataValidationError(f"the .csv files under {input_dir} hold no data rows")

    # Order by customer_id so that the split depends on the data, not on file order.
    examples = [by_customer[k] for k in sorted(by_customer)]
    labels = [e.label for e in examples]
    parts = stratified_split(labels, fractions, seed)
    for split, part in zip(SPLITS, parts):
        if {labels[i] for i in part} != {0, 1}:
            raise DataValidationError(
                f"the {split} split would not hold both labels ({len(examples)} customers, "
                f"{sum(labels)} churned); more data of each label is needed"
            )

    outputs: dict[str, dict[str, Any]] = {}
    split_rows: dict[str, int] = {}
    label_counts: dict[str, dict[str, int]] = {}
    for split, part in zip(SPLITS, parts):
        relative = f"{split}/{split}.csv"
        target = output_dir / relative
        write_split(target, [labels[i] for i in part], [examples[i].features for i in part])
        outputs[relative] = {"size_bytes": target.stat().st_size, "sha256": sha256_file(target)}
        split_rows[split] = len(part)
        churned = sum(labels[i] for i in part)
        label_counts[split] = {"0": len(part) - churned, "1": churned}
    # The train split again, as the endpoint receives it: what data capture records.
    target = output_dir / BASELINE
    train_part = parts[SPLITS.index("train")]
    write_serving_csv(target, [examples[i].record for i in train_part])
    outputs[BASELINE] = {"size_bytes": target.stat().st_size, "sha256": sha256_file(target)}
    # The test split again, as requests with their label: what Clarify sends the model (minus
    # the label) for the post-training bias and SHAP baselines of the trained model.
    target = output_dir / LABELLED
    test_part = parts[SPLITS.index("test")]
    write_labelled_serving_csv(
        target, [examples[i].record for i in test_part], [labels[i] for i in test_part]
    )
    outputs[LABELLED] = {"size_bytes": target.stat().st_size, "sha256": sha256_file(target)}

    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "seed": seed,
        "split_fractions": dict(zip(SPLITS, fractions)),
        "input_files": inputs,
        "ignored_files": ignored,
        "dataset_version_ids": version_ids,
        "rows": {
            "read": rows_read,
            "duplicates_dropped": rows_read - len(examples),
            "total": len(examples),
            **split_rows,
        },
        "label_counts": label_counts,
        "label_column": LABEL_COLUMN,
        "feature_names": list(FEATURE_NAMES),
        "outputs": outputs,
    }
    manifest_dir = output_dir / "manifest"
    manifest_dir.mkdir(parents=True, exist_ok=True)
    _write_json(manifest_dir / "manifest.json", manifest)
    _write_json(
        manifest_dir / "features.json",
        {
            "input_columns": list(INPUT_COLUMNS),
            "nullable_input_columns": sorted(NULLABLE_COLUMNS),
            "contract_types": list(CONTRACT_TYPES),
            "feature_names": list(FEATURE_NAMES),
            "label_column": LABEL_COLUMN,
        },
    )
    return manifest


def _write_json(path: Path, document: dict[str, Any]) -> None:
    # No timestamps and sorted keys: the same inputs give byte-identical manifests.
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--train-fraction", type=float, default=0.7)
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    args = parser.parse_args(argv)
    try:
        manifest = run(
            args.input_dir,
            args.output_dir,
            seed=args.seed,
            train_fraction=args.train_fraction,
            validation_fraction=args.validation_fraction,
        )
    except DataValidationError as err:
        # One line naming the problem, no traceback: it is what CloudWatch shows the data owner.
        print(f"preprocess: error: {err}", file=sys.stderr)
        return 2
    rows = manifest["rows"]
    print(
        f"preprocess: {rows['total']} customers from {len(manifest['input_files'])} file(s) -> "
        f"train {rows['train']}, validation {rows['validation']}, test {rows['test']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
