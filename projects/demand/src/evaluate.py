"""SageMaker Processing step: score the model on the test split -> evaluation.json.

    python3 evaluate.py [--model-dir /opt/ml/processing/model] [--test-dir /opt/ml/processing/test]
                        [--output-dir /opt/ml/processing/evaluation]

Runs in the training image (scikit-learn 1.2-1, a ScriptProcessor, src/ on PYTHONPATH) but needs
only numpy; every argument has the pipeline's path as its default. --model-dir holds either the
training job's model.tar.gz (what a ProcessingInput of ``ModelArtifacts.S3ModelArtifacts``
delivers) or the plain demand-model.json. --test-dir holds the headerless test split written by
preprocess.py. The result, --output-dir/evaluation.json, is in SageMaker's model-quality metrics
format:

    {"regression_metrics": {"rmse": {"value": 37.09, "standard_deviation": "NaN"},
                            "mae": {...}, "mse": {...}, "r2": {...}}}

so it can be attached to a model package as ``ModelMetrics`` and read by the pipeline's quality
gate with ``JsonGet(..., json_path="regression_metrics.rmse.value")`` (lower is better). The
predictions are the endpoint's (raised to 0); the metrics are computed with numpy
(demand_metrics). Bad input: one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from demand_features import DataValidationError
from demand_io import read_split_dir
from demand_metrics import METRIC_NAMES, regression_metrics
from demand_model import check_features, load_model

PROG = "evaluate.py"
SECTION = "regression_metrics"
# SageMaker's format has a standard deviation per metric; a single test set gives none.
NO_STD = "NaN"


def evaluate(model_dir: Path, test_dir: Path, output_dir: Path) -> dict[str, Any]:
    """Write evaluation.json; return its content."""
    model = load_model(model_dir)
    check_features(model)
    labels, features = read_split_dir(test_dir)
    metrics = regression_metrics(labels, model.predict(features))
    report = {
        SECTION: {
            name: {"value": metrics[name], "standard_deviation": NO_STD} for name in METRIC_NAMES
        }
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "evaluation.json").write_text(
        json.dumps(report, indent=2) + "\n", encoding="utf-8"
    )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.splitlines()[0], allow_abbrev=False
    )
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    args = parser.parse_args(argv)
    try:
        report = evaluate(args.model_dir, args.test_dir, args.output_dir)
    except DataValidationError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    for name in METRIC_NAMES:
        print(f"test:{name}={report[SECTION][name]['value']:.6f};")
    return 0


if __name__ == "__main__":
    sys.exit(main())
