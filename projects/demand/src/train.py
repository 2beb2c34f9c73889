"""SageMaker training script (scikit-learn 1.2-1 framework image, script mode): fit the model.

    python train.py [--alpha 1.0]

SageMaker conventions: the train and validation channels are read from $SM_CHANNEL_TRAIN and
$SM_CHANNEL_VALIDATION (or --train / --validation), the model is written to $SM_MODEL_DIR (or
--model-dir, default /opt/ml/model), metrics.json to $SM_OUTPUT_DATA_DIR (or --output-data-dir).
Hyperparameters arrive as command-line arguments (``--alpha 1.0``).

The model is a scikit-learn pipeline: the continuous features (SCALED_FEATURES) get their
missing values filled with the train mean and are standardised, the 0/1 indicators pass as they
are, and Ridge (L2-penalised least squares, strength --alpha) fits units sold. It is saved as
plain numbers (demand-model.json, see demand_model.py), not as a pickle, and train.py checks
that the saved model predicts what the pipeline predicts. $SM_MODEL_DIR receives
demand-model.json and code/ (the serving code). Metrics (of the saved model, predictions raised
to 0 as serving does) are printed one per line as ``<channel>:<metric>=<value>;`` for SageMaker
metric definitions such as ``{"Name": "validation:rmse", "Regex": "validation:rmse=([0-9.]+);"}``.

Bad input (a malformed channel, an out-of-range hyperparameter): one line on stderr, the same
line in $SM_OUTPUT_DIR/failure (the job's FailureReason), exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from demand_features import FEATURE_NAMES, SCALED_FEATURES, DataValidationError
from demand_io import read_split_dir
from demand_metrics import METRIC_NAMES, regression_metrics
from demand_model import CODE_DIR, SERVING_CODE, DemandModel, save_model

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from sklearn.pipeline import Pipeline

PROG = "train.py"
SOURCE_DIR = Path(__file__).resolve().parent
SCALED = [FEATURE_NAMES.index(n) for n in SCALED_FEATURES]
INDICATORS = [i for i in range(len(FEATURE_NAMES)) if i not in SCALED]
# The exported model must reproduce the pipeline's predictions to this relative precision.
EXPORT_TOLERANCE = 1e-9


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.splitlines()[0], allow_abbrev=False
    )
    channels = parser.add_argument_group("data and model locations (SageMaker environment)")
    channels.add_argument(
        "--train", type=Path, default=Path(env("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    )
    channels.add_argument(
        "--validation",
        type=Path,
        default=Path(env("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")),
    )
    channels.add_argument(
        "--model-dir", type=Path, default=Path(env("SM_MODEL_DIR", "/opt/ml/model"))
    )
    channels.add_argument(
        "--output-data-dir",
        type=Path,
        default=Path(env("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data")),
    )
    hyper = parser.add_argument_group("hyperparameters")
    hyper.add_argument("--alpha", type=float, default=1.0, help="Ridge's L2 penalty strength (> 0)")
    return parser


def build_pipeline(alpha: float) -> Pipeline:
    """Fill in and standardise the continuous features, pass the indicators, fit Ridge.

    Only API that scikit-learn 1.2 (the image) and 1.9 (local) share. scikit-learn is imported
    here, once the input has been checked: importing it takes seconds, bad input fails at once.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    continuous = Pipeline(
        [("fill", SimpleImputer(strategy="mean")), ("standardise", StandardScaler())]
    )
    features = ColumnTransformer(
        [("continuous", continuous, SCALED), ("indicators", "passthrough", INDICATORS)]
    )
    return Pipeline([("features", features), ("ridge", Ridge(alpha=alpha))])


def export(pipeline: Pipeline, metadata: dict[str, Any]) -> DemandModel:
    """The fitted pipeline as plain numbers, in FEATURE_NAMES order."""
    features = pipeline.named_steps["features"]
    continuous = features.named_transformers_["continuous"]
    fill = continuous.named_steps["fill"]
    standardise = continuous.named_steps["standardise"]
    ridge = pipeline.named_steps["ridge"]
    n = len(FEATURE_NAMES)
    missing: list[float | None] = [None] * n
    centers, scales, coefficients = [0.0] * n, [1.0] * n, [0.0] * n
    # The ColumnTransformer's output: the continuous columns, then the indicators.
    for position, column in enumerate(SCALED + INDICATORS):
        coefficients[column] = float(ridge.coef_[position])
    for position, column in enumerate(SCALED):
        missing[column] = float(fill.statistics_[position])
        centers[column] = float(standardise.mean_[position])
        scales[column] = float(standardise.scale_[position])
    return DemandModel(
        feature_names=FEATURE_NAMES,
        missing_values=missing,
        centers=centers,
        scales=scales,
        coefficients=coefficients,
        intercept=float(ridge.intercept_),
        lower_bound=0.0,
        metadata=metadata,
    )


def check_export(
    model: DemandModel, pipeline: Pipeline, matrices: Sequence[NDArray[np.float64]]
) -> None:
    """The saved numbers must predict what scikit-learn predicts (before the lower bound)."""
    for features in matrices:
        expected = np.asarray(pipeline.predict(features), dtype=np.float64)
        got = model.linear_predictor(features)
        worst = float(np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(expected))))
        if not worst <= EXPORT_TOLERANCE:
            raise RuntimeError(f"the exported model differs from scikit-learn's by {worst:g}")


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Train, save the model, the serving code and metrics.json; returns the metrics."""
    if str(args.model_dir).startswith("s3:"):
        raise DataValidationError("--model-dir must be a local path (SageMaker uploads it)")
    if not (math.isfinite(args.alpha) and args.alpha > 0):
        raise DataValidationError(f"--alpha must be a positive number, got {args.alpha!r}")
    y_train, x_train = read_split_dir(args.train)
    y_val, x_val = read_split_dir(args.validation)
    if len(y_train) < 2:
        raise DataValidationError("the train channel must hold at least 2 rows")
    for name in SCALED_FEATURES:
        if np.isnan(x_train[:, FEATURE_NAMES.index(name)]).all():
            raise DataValidationError(
                f"the train channel has no value of feature {name!r} (missing in every row)"
            )

    pipeline = build_pipeline(args.alpha).fit(x_train, y_train)
    import sklearn  # loaded by build_pipeline

    print(
        f"{PROG}: {len(y_train)} train rows, {len(y_val)} validation rows, Ridge alpha "
        f"{args.alpha}, scikit-learn {sklearn.__version__}"
    )
    hyperparameters = {"alpha": args.alpha}
    model = export(
        pipeline,
        {
            "estimator": "sklearn.linear_model.Ridge",
            "scikit_learn_version": sklearn.__version__,
            "hyperparameters": hyperparameters,
            "train_rows": len(y_train),
            "train_label_mean": float(np.mean(y_train)),
        },
    )
    check_export(model, pipeline, [x_train, x_val])

    metrics = {
        "train": regression_metrics(y_train, model.predict(x_train)),
        "validation": regression_metrics(y_val, model.predict(x_val)),
    }
    for channel, values in metrics.items():
        for name in METRIC_NAMES:
            print(f"{channel}:{name}={values[name]:.6f};")

    save_model(model, args.model_dir)
    target = args.model_dir / CODE_DIR  # what the endpoint imports (SAGEMAKER_SUBMIT_DIRECTORY)
    target.mkdir(parents=True, exist_ok=True)
    for name in SERVING_CODE:
        shutil.copyfile(SOURCE_DIR / name, target / name)
    args.output_data_dir.mkdir(parents=True, exist_ok=True)
    (args.output_data_dir / "metrics.json").write_text(
        json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except DataValidationError as err:
        message = f"{PROG}: error: {err}"
        print(message, file=sys.stderr)
        # SageMaker shows the content of /opt/ml/output/failure as the job's FailureReason.
        output_dir = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output"))
        if output_dir.is_dir():
            (output_dir / "failure").write_text(message + "\n", encoding="utf-8")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
