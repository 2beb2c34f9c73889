"""The preprocess step's inputs and the outputs the platform reads (docs/project-contract.md,
"Preprocess").

Under the step's output folder (``/opt/ml/processing/output``):

- ``baseline/baseline.csv``: a header naming the serving input columns, then the train rows as
  the endpoint receives them (raw values); monitoring measures drift against it;
- ``labelled/labelled.csv``: the test rows as requests followed by the label, headerless;
- ``manifest/manifest.json``: what the step read and wrote (input files with sha256 and rows,
  split sizes, ...), keys sorted, no timestamps: the same data give the same bytes.

The split files (``train/``, ``validation/``, ``test/``) are the project's own format: only its
train.py and evaluate.py read them.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import DataValidationError

BASELINE = "baseline/baseline.csv"
LABELLED = "labelled/labelled.csv"
MANIFEST = "manifest/manifest.json"


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
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


def write_csv(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = ()) -> None:
    """A CSV file (``\\n`` line ends, the csv module's quoting), with the header if one is given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if header:
            writer.writerow(header)
        writer.writerows(rows)


def write_baseline(
    output_dir: Path, columns: Sequence[str], requests: Sequence[Sequence[str]]
) -> str:
    """``baseline/baseline.csv`` of the train rows' request fields; returns its sha256."""
    write_csv(output_dir / BASELINE, requests, columns)
    return sha256_file(output_dir / BASELINE)


def write_labelled(
    output_dir: Path, requests: Sequence[Sequence[str]], labels: Sequence[str]
) -> str:
    """``labelled/labelled.csv``: each test row's request fields, then its label (as the raw
    data writes it); returns its sha256."""
    write_csv(
        output_dir / LABELLED, [[*request, label] for request, label in zip(requests, labels)]
    )
    return sha256_file(output_dir / LABELLED)


def write_manifest(output_dir: Path, manifest: Mapping[str, Any]) -> Path:
    """``manifest/manifest.json`` (indented, keys sorted); returns its path."""
    target = output_dir / MANIFEST
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target
