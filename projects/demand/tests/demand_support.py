"""Helpers of the demand tests: run the scripts as SageMaker would, load them under unique names,
write small raw files. (A module name of its own: ml/tests' helpers may share the process.)"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from demand_features import RAW_COLUMNS

PROJECT_DIR = Path(__file__).resolve().parents[1]
SRC_DIR = PROJECT_DIR / "src"
ROWS = 2000
SEED = 7
# What the platform configuration gives this project (report / README): SageMaker passes each
# hyperparameter as `--<key> <value>`, the quality gate reads regression_metrics.<metric>.value.
HYPERPARAMETERS = {"alpha": "1.0"}
GATE_THRESHOLD = 55.0
GATE: dict[str, object] = {"metric": "rmse", "direction": "lower", "threshold": GATE_THRESHOLD}
GATE_JSON_PATH = "regression_metrics.rmse.value"
# The training job's metric definitions (SageMaker scrapes them from train.py's stdout).
METRIC_DEFINITIONS = {
    f"{channel}:{metric}": rf"{channel}:{metric}=([0-9.]+);"
    for channel in ("train", "validation")
    for metric in ("rmse", "mae", "mse", "r2")
}
# deploy.test_payloads: what the staging test sends the endpoint (one store-day each): a warm,
# promoted Saturday, and a mild Tuesday at a low list price.
STAGING_PAYLOADS: list[dict[str, str]] = [
    {"content_type": "text/csv", "body": "5,21.5,3.49,1,0"},
    {
        "content_type": "application/json",
        "body": (
            '{"instances": [{"day_of_week": 1, "temperature_c": 12.0, "price": 2.99, '
            '"promotion": 0, "holiday": 0}]}'
        ),
    },
]
# The interpreter of every script run: no bytecode caches in src/ (CI tars that folder).
SCRIPT_ENV = {"PYTHONDONTWRITEBYTECODE": "1"}
CHAIN_BUDGET_SECONDS = 15.0


@dataclass(frozen=True)
class DemandRun:
    raw_csv: Path
    raw_dir: Path  # what the processing step sees as /opt/ml/processing/input
    processed_dir: Path  # /opt/ml/processing/output
    model_dir: Path  # SM_MODEL_DIR
    model_archive: Path  # model.tar.gz of model_dir, packed as SageMaker packs it
    output_data_dir: Path  # SM_OUTPUT_DATA_DIR
    evaluation_dir: Path
    train_stdout: str
    evaluate_stdout: str
    manifest: dict[str, Any]
    evaluation: dict[str, Any]
    seconds: float  # wall time of the whole chain


def load_script(stem: str) -> ModuleType:
    """src/<stem>.py as the module ``demand_<stem>``: never by its bare name, which the churn
    example's entry points own in a shared test process."""
    name = f"demand_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SRC_DIR / f"{stem}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def run_script(
    script: str,
    *args: str | Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python src/<script> args`` in a fresh interpreter, as the containers run it."""
    environment = {**os.environ, **SCRIPT_ENV, **(env or {})}
    if "PYTHONPATH" not in (env or {}):
        environment.pop("PYTHONPATH", None)  # the script's own folder is all it needs
    return subprocess.run(
        [sys.executable, str(SRC_DIR / script), *map(str, args)],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def checked(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def hyperparameter_args(hyperparameters: dict[str, str]) -> list[str]:
    return [arg for key, value in hyperparameters.items() for arg in (f"--{key}", value)]


def run_chain(root: Path) -> DemandRun:
    """generate -> preprocess -> train -> evaluate (on model.tar.gz), each a subprocess."""
    start = time.monotonic()
    raw_dir = root / "input"
    raw_csv = raw_dir / "ingest_date=2025-01-01" / "sales.csv"
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
            *hyperparameter_args(HYPERPARAMETERS),
            env={
                "SM_CHANNEL_TRAIN": str(processed / "train"),
                "SM_CHANNEL_VALIDATION": str(processed / "validation"),
                "SM_MODEL_DIR": str(model_dir),
                "SM_OUTPUT_DATA_DIR": str(output_data),
                "SM_OUTPUT_DIR": str(root),
            },
        )
    )
    archive = pack_model(model_dir, root / "model-artifact")
    evaluate = checked(
        run_script(
            "evaluate.py",
            "--model-dir",
            archive.parent,
            "--test-dir",
            processed / "test",
            "--output-dir",
            evaluation_dir,
            env={"PYTHONPATH": str(SRC_DIR)},  # as the ScriptProcessor runs it
        )
    )
    seconds = time.monotonic() - start
    return DemandRun(
        raw_csv=raw_csv,
        raw_dir=raw_dir,
        processed_dir=processed,
        model_dir=model_dir,
        model_archive=archive,
        output_data_dir=output_data,
        evaluation_dir=evaluation_dir,
        train_stdout=train.stdout,
        evaluate_stdout=evaluate.stdout,
        manifest=json.loads((processed / "manifest" / "manifest.json").read_text()),
        evaluation=json.loads((evaluation_dir / "evaluation.json").read_text()),
        seconds=seconds,
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


# Small valid raw rows: store, day_of_week, temperature_c, price, promotion, holiday, units_sold.
# Row i: day i % 7, temperature (i - 5) / 2, price 2.5 + (i % 8) / 4, promotion every 4th,
# holiday every 10th, units 40 + 3 i (so a test can tell the rows apart by their label).
GOOD_ROWS: list[list[str]] = [
    [
        f"S{i % 3 + 1:02d}",
        str(i % 7),
        f"{(i - 5) / 2:.1f}",
        f"{2.5 + (i % 8) / 4:.2f}",
        str(int(i % 4 == 0)),
        str(int(i % 10 == 0)),
        str(40 + 3 * i),
    ]
    for i in range(40)
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
