"""Helpers of the ml/ tests: run the scripts as SageMaker would, and write small raw files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tarfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import evaluate
from churn_features import RAW_COLUMNS

ML_DIR = Path(__file__).resolve().parents[1]
SRC_DIR = ML_DIR / "src"
ROWS = 2000
SEED = 7
# PipelineSpec.hyperparameters in constructs/mlops_constructs/training/definition.py: SageMaker
# passes each as `--<key> <value>`.
HYPERPARAMETERS = {"num_round": "200", "max_depth": "4", "eta": "0.1"}
# The interpreter of every script run: no bytecode caches in ml/src (CI tars that folder).
SCRIPT_ENV = {"PYTHONDONTWRITEBYTECODE": "1"}


@dataclass(frozen=True)
class PipelineRun:
    raw_csv: Path
    raw_dir: Path  # what the processing step sees as /opt/ml/processing/input
    processed_dir: Path  # /opt/ml/processing/output
    model_dir: Path  # SM_MODEL_DIR
    model_archive: Path  # model.tar.gz of model_dir, packed as SageMaker packs it
    output_data_dir: Path  # SM_OUTPUT_DATA_DIR
    evaluation_dir: Path
    train_stdout: str
    manifest: dict[str, Any]
    evaluation: dict[str, Any]
    constraints: dict[str, Any]  # evaluate's model-quality constraints.json


def run_script(
    script: str, *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python ml/src/<script> args`` in a fresh interpreter, as the containers run it."""
    return subprocess.run(
        [sys.executable, str(SRC_DIR / script), *map(str, args)],
        env={**os.environ, **SCRIPT_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def checked(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def run_pipeline(root: Path) -> PipelineRun:
    """generate -> preprocess -> train (subprocesses) -> evaluate (main, on model.tar.gz)."""
    raw_dir = root / "input"
    raw_csv = raw_dir / "ingest_date=2025-01-01" / "customers.csv"
    processed = root / "processing-output"
    model_dir = root / "model"
    output_data = root / "output-data"
    evaluation_dir = root / "evaluation"

    checked(
        run_script("generate_data.py", "--rows", str(ROWS), "--seed", str(SEED), "--out", raw_csv)
    )
    checked(run_script("preprocess.py", "--input-dir", raw_dir, "--output-dir", processed))
    # SageMaker training: channels and model dir come from the environment, hyperparameters
    # as arguments.
    train = checked(
        run_script(
            "train.py",
            *(arg for key, value in HYPERPARAMETERS.items() for arg in (f"--{key}", value)),
            env={
                "SM_CHANNEL_TRAIN": str(processed / "train"),
                "SM_CHANNEL_VALIDATION": str(processed / "validation"),
                "SM_MODEL_DIR": str(model_dir),
                "SM_OUTPUT_DATA_DIR": str(output_data),
            },
        )
    )
    archive = pack_model(model_dir, root / "model-artifact")
    code = evaluate.main(
        [
            "--model-dir",
            str(archive.parent),
            "--test-dir",
            str(processed / "test"),
            "--output-dir",
            str(evaluation_dir),
        ]
    )
    assert code == 0
    return PipelineRun(
        raw_csv=raw_csv,
        raw_dir=raw_dir,
        processed_dir=processed,
        model_dir=model_dir,
        model_archive=archive,
        output_data_dir=output_data,
        evaluation_dir=evaluation_dir,
        train_stdout=train.stdout,
        manifest=json.loads((processed / "manifest" / "manifest.json").read_text()),
        evaluation=json.loads((evaluation_dir / "evaluation.json").read_text()),
        constraints=json.loads((evaluation_dir / "constraints.json").read_text()),
    )


def pack_model(model_dir: Path, target_dir: Path) -> Path:
    """target_dir/model.tar.gz holding model_dir's content at its top level, as SageMaker packs
    /opt/ml/model at the end of a training job."""
    target_dir.mkdir(parents=True, exist_ok=True)
    archive = target_dir / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


GOOD_ROWS: list[list[str]] = [
    # Enough of both labels for every split of the default 70/15/15 split.
    [f"C{i:04d}", str(i % 60), "70.50", f"{70.5 * (i % 60):.2f}", str(i % 5), contract, label]
    for i in range(40)
    for contract, label in [(("month-to-month", "one-year", "two-year")[i % 3], str(i % 2))]
]


def write_raw(
    path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = RAW_COLUMNS
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def sdk_module(module: str) -> Any:
    """A module of the sagemaker SDK (or of its dependencies); CI, which tests ml/ with ml/'s
    requirements alone, skips the tests that need it (the repository's test run has it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the SDK's "v2 is deprecated" notice
        return pytest.importorskip(module)
