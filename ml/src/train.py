"""SageMaker training script (XGBoost 1.7-1 framework image, script mode): fit the churn model.

    python train.py [--num_round 200] [--max_depth 4] [--eta 0.1] ...

SageMaker conventions: the train and validation channels are read from $SM_CHANNEL_TRAIN and
$SM_CHANNEL_VALIDATION (or --train / --validation), the model is written to $SM_MODEL_DIR (or
--model-dir, default /opt/ml/model), metrics.json to $SM_OUTPUT_DATA_DIR (or --output-data-dir).
Hyperparameters arrive as command-line arguments (``--name value``), with XGBoost's names.

The model is an XGBoost booster (native API, objective binary:logistic, tree_method hist): it
handles the missing charges (NaN) natively. $SM_MODEL_DIR receives xgboost-model.json,
features.json and code/ (the serving code, see churn_model.py). Metrics are printed one per
line as ``<channel>:<metric>=<value>;`` (e.g. ``validation:auc=0.871234;``) for SageMaker metric
definitions such as ``{"Name": "validation:auc", "Regex": "validation:auc=([0-9.]+);"}``.

In the SageMaker XGBoost image, smdebug is installed: when the job has a Debugger
configuration, its hook receives the per-round train/validation auc and logloss (built-in rules
such as loss_not_decreasing and overfit read them). Elsewhere training runs without it.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xgboost
from xgboost.callback import EarlyStopping, TrainingCallback

from churn_features import FEATURE_NAMES, DataValidationError
from churn_io import read_split_dir
from churn_metrics import classification_metrics
from churn_model import CODE_DIR, SERVING_CODE, save_model

SOURCE_DIR = Path(__file__).resolve().parent
# The argument of a callback of XGBoost's pre-1.6 protocol, which smdebug's hook implements.
LegacyCallbackEnv = collections.namedtuple(
    "LegacyCallbackEnv",
    [
        "model",
        "cvfolds",
        "iteration",
        "begin_iteration",
        "end_iteration",
        "rank",
        "evaluation_result_list",
    ],
)


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
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
    # XGBoost's own names (underscores, as SageMaker's XGBoost documents them); the hyphenated
    # spellings are accepted too.
    hyper = parser.add_argument_group("hyperparameters")
    hyper.add_argument("--num_round", "--num-round", type=int, default=200)
    hyper.add_argument("--max_depth", "--max-depth", type=int, default=4)
    hyper.add_argument("--eta", "--learning_rate", "--learning-rate", type=float, default=0.1)
    hyper.add_argument("--min_child_weight", "--min-child-weight", type=float, default=1.0)
    hyper.add_argument("--subsample", type=float, default=1.0)
    hyper.add_argument("--colsample_bytree", "--colsample-bytree", type=float, default=1.0)
    hyper.add_argument("--gamma", type=float, default=0.0)
    hyper.add_argument("--lambda", "--reg_lambda", dest="reg_lambda", type=float, default=1.0)
    hyper.add_argument("--alpha", "--reg_alpha", dest="reg_alpha", type=float, default=0.0)
    hyper.add_argument("--scale_pos_weight", "--scale-pos-weight", type=float, default=1.0)
    hyper.add_argument(
        "--early_stopping_rounds",
        "--early-stopping-rounds",
        type=int,
        default=0,
        help="stop when validation logloss has not improved for this many rounds (0 = off)",
    )
    hyper.add_argument(
        "--threshold", type=float, default=0.5, help="churn probability that predicts churned=1"
    )
    hyper.add_argument("--seed", type=int, default=42)
    return parser


def _check_hyperparameters(args: argparse.Namespace) -> None:
    checks = [
        (args.num_round >= 1, "--num_round must be at least 1"),
        (args.max_depth >= 1, "--max_depth must be at least 1"),
        (0.0 < args.eta <= 1.0, "--eta must be in (0, 1]"),
        (args.min_child_weight >= 0.0, "--min_child_weight must not be negative"),
        (0.0 < args.subsample <= 1.0, "--subsample must be in (0, 1]"),
        (0.0 < args.colsample_bytree <= 1.0, "--colsample_bytree must be in (0, 1]"),
        (args.gamma >= 0.0, "--gamma must not be negative"),
        (args.reg_lambda >= 0.0, "--lambda must not be negative"),
        (args.reg_alpha >= 0.0, "--alpha must not be negative"),
        (args.scale_pos_weight > 0.0, "--scale_pos_weight must be positive"),
        (args.early_stopping_rounds >= 0, "--early_stopping_rounds must not be negative"),
        (0.0 < args.threshold < 1.0, "--threshold must be in (0, 1)"),
    ]
    for ok, message in checks:
        if not ok:
            raise DataValidationError(message)


def tree_params(args: argparse.Namespace) -> dict[str, Any]:
    """The tree's hyperparameters as XGBoost names them (``lambda``, ``alpha``: the options'
    ``reg_`` names); the booster trains with them and the model records them."""
    return {
        "max_depth": args.max_depth,
        "eta": args.eta,
        "min_child_weight": args.min_child_weight,
        "subsample": args.subsample,
        "colsample_bytree": args.colsample_bytree,
        "gamma": args.gamma,
        "lambda": args.reg_lambda,
        "alpha": args.reg_alpha,
        "scale_pos_weight": args.scale_pos_weight,
    }


def booster_params(args: argparse.Namespace) -> dict[str, Any]:
    """The xgboost.train parameters; only options XGBoost 1.7 and 2.x both know."""
    return {
        "objective": "binary:logistic",
        # The last metric is the one early stopping watches.
        "eval_metric": ["auc", "logloss"],
        # Explicit: the default differs between 1.7 and 2.x; hist handles NaN natively.
        "tree_method": "hist",
        **tree_params(args),
        "seed": args.seed,
    }


class LegacyCallback(TrainingCallback):
    """Runs a callable of XGBoost's pre-1.6 callback protocol as a TrainingCallback.

    smdebug's XGBoost hook is such a callable (``hook(env)``); XGBoost >= 1.6 accepts only
    TrainingCallback objects, so the hook is driven from here with the same information: the
    booster, the round and ``[("train-auc", 0.91), ("validation-logloss", 0.43), ...]``.
    """

    def __init__(self, legacy: Callable[[Any], object], num_round: int) -> None:
        super().__init__()
        self.legacy = legacy
        self.num_round = num_round

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
        results: list[tuple[str, float]] = []
        for data_name, metrics in evals_log.items():
            for metric_name, history in metrics.items():
                last = history[-1]
                value = last[0] if isinstance(last, tuple) else last  # (mean, std) in cv
                results.append((f"{data_name}-{metric_name}", float(value)))
        self.legacy(
            LegacyCallbackEnv(
                model=model,
                cvfolds=None,
                iteration=epoch,
                begin_iteration=0,
                end_iteration=self.num_round,
                rank=0,
                evaluation_result_list=results,
            )
        )
        return False  # never stops training


def debugger_callbacks(
    params: dict[str, Any], train: xgboost.DMatrix, validation: xgboost.DMatrix, num_round: int
) -> list[TrainingCallback]:
    """SageMaker Debugger's hook, when smdebug is installed and the job configures Debugger."""
    try:
        from smdebug.xgboost import Hook  # only in the SageMaker XGBoost image
    except ImportError:
        return []
    try:
        hook = Hook.create_from_json_file()  # None when the job has no Debugger configuration
        if hook is None:
            return []
        hook.hyperparameters = {k: v for k, v in params.items() if isinstance(v, (int, float))}
        hook.train_data = train
        hook.validation_data = validation
    except Exception as err:  # Debugger is an observer: it must never fail the training
        print(f"train: SageMaker Debugger hook not created: {err}", file=sys.stderr)
        return []
    print("train: SageMaker Debugger hook created")
    if isinstance(hook, TrainingCallback):
        return [hook]
    return [LegacyCallback(hook, num_round)]


def copy_serving_code(model_dir: Path) -> None:
    """model_dir/code/: what the endpoint imports (SAGEMAKER_SUBMIT_DIRECTORY)."""
    target = model_dir / CODE_DIR
    target.mkdir(parents=True, exist_ok=True)
    for name in SERVING_CODE:
        shutil.copyfile(SOURCE_DIR / name, target / name)


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Train, save the model, the serving code and metrics.json; returns the metrics."""
    if str(args.model_dir).startswith("s3:"):
        raise DataValidationError("--model-dir must be a local path (SageMaker uploads it)")
    _check_hyperparameters(args)
    n_features = len(FEATURE_NAMES)
    y_train, x_train = read_split_dir(args.train, n_features)
    y_val, x_val = read_split_dir(args.validation, n_features)
    for channel, labels in (("train", y_train), ("validation", y_val)):
        if set(labels.tolist()) != {0, 1}:
            raise DataValidationError(f"the {channel} channel must hold both labels")

    names = list(FEATURE_NAMES)
    dtrain = xgboost.DMatrix(x_train, label=y_train, feature_names=names, missing=np.nan)
    dval = xgboost.DMatrix(x_val, label=y_val, feature_names=names, missing=np.nan)
    params = booster_params(args)
    callbacks = debugger_callbacks(params, dtrain, dval, args.num_round)
    if args.early_stopping_rounds:
        callbacks.append(
            EarlyStopping(
                rounds=args.early_stopping_rounds,
                metric_name="logloss",
                data_name="validation",
                save_best=True,  # the returned booster ends at the best round
            )
        )
    print(
        f"train: {len(y_train)} train rows, {len(y_val)} validation rows, up to "
        f"{args.num_round} rounds, xgboost {xgboost.__version__}"
    )
    booster = xgboost.train(
        params,
        dtrain,
        num_boost_round=args.num_round,
        evals=[(dtrain, "train"), (dval, "validation")],
        verbose_eval=max(1, args.num_round // 10),
        callbacks=callbacks,
    )

    metrics = {
        "train": classification_metrics(y_train, booster.predict(dtrain), args.threshold),
        "validation": classification_metrics(y_val, booster.predict(dval), args.threshold),
    }
    for channel, values in metrics.items():
        for name, value in sorted(values.items()):
            print(f"{channel}:{name}={value:.6f};")

    hyperparameters = {
        "num_round": args.num_round,
        **tree_params(args),
        "early_stopping_rounds": args.early_stopping_rounds,
        "seed": args.seed,
    }
    save_model(booster, args.model_dir, threshold=args.threshold, hyperparameters=hyperparameters)
    copy_serving_code(args.model_dir)
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
        message = f"train: error: {err}"
        print(message, file=sys.stderr)
        # SageMaker shows the content of /opt/ml/output/failure as the job's FailureReason.
        output_dir = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output"))
        if output_dir.is_dir():
            (output_dir / "failure").write_text(message + "\n", encoding="utf-8")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
