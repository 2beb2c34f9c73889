"""SageMaker Processing step: raw store-demand CSV -> validated, engineered splits + baselines.

    python3 preprocess.py [--input-dir /opt/ml/processing/input]
                          [--output-dir /opt/ml/processing/output] [--seed 42]
                          [--train-fraction 0.7] [--validation-fraction 0.15]

Runs in the processing image (scikit-learn 1.2-1, a ScriptProcessor, src/ on PYTHONPATH) but
needs only numpy and the standard library (Python 3.8+). Reads every ``*.csv`` under --input-dir
(recursively; other files are listed in the manifest as ignored, and this script's own folder,
which the ScriptProcessor mounts at /opt/ml/processing/input/code, is skipped). Each file has a
header naming at least the columns of ``demand_features.RAW_COLUMNS`` (any order; extra columns
are ignored). Any bad value stops the step with one line on stderr naming the file, line, column
and value (``preprocess.py: error: sales.csv line 7: column 'price' must be positive, got '0'``)
and exit code 2.

Writes under --output-dir:
  train/train.csv, validation/validation.csv, test/test.csv
      headerless CSV, label (units_sold) first, then the features in FEATURE_NAMES order
      (demand_io); a missing temperature is an empty field
  baseline/baseline.csv
      the Model Monitor data-quality baseline: a header line naming INPUT_COLUMNS, then the train
      split's rows (same order as train.csv) as RAW serving inputs, exactly what a client sends
      the endpoint as text/csv (no store_id, no label)
  labelled/labelled.csv
      the test split's rows (same order as test.csv) as the same request fields, each line
      followed by its label; headerless
  manifest/manifest.json
      input files with size, sha256 and rows, the S3 object versions from $DATASET_VERSION_IDS,
      row counts and label summary per split, columns and features, seed and fractions, and the
      size and sha256 of each output file; no timestamps

The split is a seeded shuffle of the rows in a canonical order (sorted by their values), so the
same data and seed give byte-identical files whatever the files and their order. Rows are not
deduplicated: without a date, two equal rows can be two real store-days.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from demand_features import (
    FEATURE_NAMES,
    ID_COLUMN,
    INPUT_COLUMNS,
    LABEL_COLUMN,
    NULLABLE_COLUMNS,
    RAW_COLUMNS,
    DataValidationError,
    DemandRecord,
    engineer,
    parse_label,
    parse_record,
)
from demand_io import (
    csv_files,
    sha256_file,
    write_labelled_serving_csv,
    write_serving_csv,
    write_split,
)

PROG = "preprocess.py"
SPLITS = ("train", "validation", "test")
# The Model Monitor data-quality baseline: the train split in the endpoint's request format.
BASELINE = "baseline/baseline.csv"
# The test split as requests (serving format), plus the label.
LABELLED = "labelled/labelled.csv"
MANIFEST = "manifest/manifest.json"
MANIFEST_VERSION = 1
VERSION_IDS_ENV = "DATASET_VERSION_IDS"
# The folder this script runs from. A ScriptProcessor mounts its code at
# /opt/ml/processing/input/code, inside the default --input-dir: that folder is not input data.
CODE_DIR = Path(__file__).resolve().parent


def _is_own_code(path: Path) -> bool:
    return CODE_DIR in path.resolve().parents


@dataclass(frozen=True)
class Example:
    store_id: str
    label: float
    record: DemandRecord  # the raw input values, validated (serving format: baseline.csv)
    features: list[float]

    def sort_key(self) -> tuple[Any, ...]:
        """A total order on the row's values (a missing temperature sorts first)."""
        temperature = self.record.temperature_c
        return (
            self.store_id,
            self.record.day_of_week,
            not math.isnan(temperature),
            0.0 if math.isnan(temperature) else temperature,
            self.record.price,
            self.record.promotion,
            self.record.holiday,
            self.label,
        )


def read_raw_file(path: Path, name: str) -> list[Example]:
    """Validated, engineered examples of one raw CSV file (name is used in messages)."""
    examples: list[Example] = []
    # utf-8-sig: files saved by spreadsheet tools start with a byte-order mark.
    try:
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
                store_id = values[ID_COLUMN].strip()
                if not store_id:
                    raise DataValidationError(
                        f"{where}: column {ID_COLUMN!r} is required but empty"
                    )
                record = parse_record(values, where)
                label = parse_label(values[LABEL_COLUMN], where)
                examples.append(Example(store_id, label, record, engineer(record)))
    except UnicodeDecodeError:
        raise DataValidationError(f"{name}: the file is not UTF-8 text") from None
    return examples


def split_indices(rows: int, fractions: Sequence[float], seed: int) -> list[list[int]]:
    """Row indices per split: a seeded permutation cut by the (cumulative, rounded) fractions."""
    order = np.random.default_rng(seed).permutation(rows)
    cuts = np.round(np.cumsum(fractions) * rows).astype(int)
    parts: list[list[int]] = []
    start = 0
    for end in cuts:
        parts.append(sorted(int(i) for i in order[start:end]))
        start = end
    return parts


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
            f"${VERSION_IDS_ENV} must be a JSON object of S3 key -> version id (strings)"
        )
    return dict(sorted(parsed.items()))


def _summary(labels: Sequence[float]) -> dict[str, float]:
    return {
        "mean": round(float(np.mean(labels)), 6),
        "min": float(min(labels)),
        "max": float(max(labels)),
    }


def _output(output_dir: Path, relative: str) -> dict[str, Any]:
    path = output_dir / relative
    return {"size_bytes": path.stat().st_size, "sha256": sha256_file(path)}


def run(
    input_dir: Path,
    output_dir: Path,
    seed: int = 42,
    train_fraction: float = 0.7,
    validation_fraction: float = 0.15,
) -> dict[str, Any]:
    """Do the whole step; returns the manifest it wrote. Nothing is written on bad input."""
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
    examples: list[Example] = []
    inputs: list[dict[str, Any]] = []
    for path in files:
        name = path.relative_to(input_dir).as_posix()
        read = read_raw_file(path, name)
        examples.extend(read)
        inputs.append(
            {
                "name": name,
                "size_bytes": path.stat().st_size,
                "sha256": sha256_file(path),
                "rows": len(read),
            }
        )
    if not examples:
        raise DataValidationError(f"the .csv files under {input_dir} hold no data rows")

    # A canonical order first, so that the split depends on the data, not on the files.
    examples.sort(key=Example.sort_key)
    parts = split_indices(len(examples), fractions, seed)
    for split, part in zip(SPLITS, parts):
        if not part:
            raise DataValidationError(
                f"the {split} split would be empty ({len(examples)} rows); more data is needed"
            )

    outputs: dict[str, dict[str, Any]] = {}
    split_rows: dict[str, int] = {}
    summaries: dict[str, dict[str, float]] = {}
    for split, part in zip(SPLITS, parts):
        relative = f"{split}/{split}.csv"
        labels = [examples[i].label for i in part]
        write_split(output_dir / relative, labels, [examples[i].features for i in part])
        outputs[relative] = _output(output_dir, relative)
        split_rows[split] = len(part)
        summaries[split] = _summary(labels)
    # The train split again, as the endpoint receives it: what data capture records.
    train_part, test_part = parts[0], parts[2]
    write_serving_csv(output_dir / BASELINE, [examples[i].record for i in train_part])
    outputs[BASELINE] = _output(output_dir, BASELINE)
    # The test split again, as requests with their label.
    write_labelled_serving_csv(
        output_dir / LABELLED,
        [examples[i].record for i in test_part],
        [examples[i].label for i in test_part],
    )
    outputs[LABELLED] = _output(output_dir, LABELLED)

    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "seed": seed,
        "split_fractions": dict(zip(SPLITS, fractions)),
        "input_files": inputs,
        "ignored_files": ignored,
        "dataset_version_ids": version_ids,
        "rows": {"total": len(examples), **split_rows},
        "label_column": LABEL_COLUMN,
        "label_summary": summaries,
        "input_columns": list(INPUT_COLUMNS),
        "nullable_input_columns": sorted(NULLABLE_COLUMNS),
        "feature_names": list(FEATURE_NAMES),
        "outputs": outputs,
    }
    target = output_dir / MANIFEST
    target.parent.mkdir(parents=True, exist_ok=True)
    # No timestamps and sorted keys: the same inputs give byte-identical manifests.
    target.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.splitlines()[0], allow_abbrev=False
    )
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
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    rows = manifest["rows"]
    print(
        f"{PROG}: {rows['total']} rows from {len(manifest['input_files'])} file(s) -> "
        f"train {rows['train']}, validation {rows['validation']}, test {rows['test']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
