"""SageMaker Processing step: the Clarify analysis configs of the trained model's baselines.

    python3 clarify_configs.py --model-name NAME --instance-type ml.m5.large
                               --endpoint-name-prefix PREFIX
                               [--output-dir /opt/ml/processing/output]

Runs in the scikit-learn 1.2-1 image (Python 3.8/3.9) and needs nothing but this file and the
standard library: no other module of ml/src, no numpy, no input. The pipeline runs it after the
model is created, because a Clarify processing job's analysis config must name the model
(``predictor.model_name``): Clarify deploys it to a temporary shadow endpoint (named after
``endpoint_name_prefix``), sends it the records of preprocess.py's ``labelled/labelled.csv``
(the test split as requests, label last) in batches of text/csv lines, reads each response's
probabilities with the JMESPath ``predictions[*].churn_probability`` and deletes the endpoint.

Writes under --output-dir:
  bias/analysis_config.json
      post-training bias (all metrics) of the facet contract_type = month-to-month, as
      clarify/monitor_bias.json (the endpoint's bias monitor) defines it; churned = 1 is the
      positive outcome and a probability of at least 0.5 (train.py's default --threshold)
      predicts it.
  explainability/analysis_config.json
      SHAP feature attribution of the five request columns, with the baseline record and SHAP
      settings of clarify/monitor_explainability.json (the endpoint's explainability monitor).

Each is what the sagemaker SDK's ``SageMakerClarifyProcessor`` would write for the same settings
(``run_post_training_bias``, ``run_explainability``; tests/test_ml_clarify_configs.py compares
them), so each can be a Clarify processing job's ``analysis_config`` input as it is. The jobs'
``analysis.json`` outputs are the model version's Model Monitor baselines: bias post-training
and explainability constraints.

Bad arguments: one line on stderr (``clarify_configs: error: ...``) and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

# The dataset's columns: labelled.csv is headerless, the request fields (churn_features.
# INPUT_COLUMNS, in serving order) then the label. Copied here so that the step needs this file
# alone; a test keeps them equal to churn_features'.
INPUT_COLUMNS = (
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "contract_type",
)
LABEL_COLUMN = "churned"
DATASET_TYPE = "text/csv"

# How Clarify talks to the shadow endpoint: serving's text/csv requests (several records per
# request) and its JSON response {"predictions": [{"churn_probability": p, "churned": 0|1}, ...]}.
CONTENT_TYPE = "text/csv"
ACCEPT_TYPE = "application/json"
PROBABILITY = "predictions[*].churn_probability"
INSTANCE_COUNT = 1

# Bias: as clarify/monitor_bias.json (the facet as requests spell it), churned = 1 positive.
LABEL_VALUES = [1]
FACET_NAME = "contract_type"
FACET_VALUES = ["month-to-month"]
PROBABILITY_THRESHOLD = 0.5  # train.py's default --threshold
POST_TRAINING_METHODS = "all"

# SHAP: the settings of clarify/monitor_explainability.json (the step does not get that file; a
# test keeps the two equal). One typical raw record: the medians of the generated train split
# and its most common contract type.
SHAP_BASELINE: list[list[Any]] = [[13, 67.12, 593.38, 1, "month-to-month"]]
SHAP_NUM_SAMPLES = 100
SHAP_AGG_METHOD = "mean_abs"
SHAP_USE_LOGIT = False
SHAP_SAVE_LOCAL_SHAP_VALUES = True

# What the SDK adds to every processing-job config: Clarify also writes report.{pdf,html,ipynb}.
REPORT = {"name": "report", "title": "Analysis Report"}

BIAS_CONFIG = "bias/analysis_config.json"
EXPLAINABILITY_CONFIG = "explainability/analysis_config.json"

# CreateModel's ModelName: up to 63 letters, digits and hyphens, no leading/trailing hyphen.
NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
MODEL_NAME_MAX = 63
# Clarify names the shadow endpoint after this prefix plus a unique suffix of its own; 40
# characters leave room for it within an endpoint name's 63.
ENDPOINT_NAME_PREFIX_MAX = 40
INSTANCE_TYPE_PATTERN = re.compile(r"ml\.[a-z0-9]+\.[a-z0-9]+")


class ArgumentError(ValueError):
    """An argument the step cannot use; the message names it."""


def _name(value: str, option: str, max_length: int) -> str:
    if len(value) > max_length or not NAME_PATTERN.fullmatch(value):
        raise ArgumentError(
            f"{option} must be 1 to {max_length} letters, digits and hyphens, starting and "
            f"ending with a letter or digit, got {value!r}"
        )
    return value


def validate(model_name: str, instance_type: str, endpoint_name_prefix: str) -> None:
    _name(model_name, "--model-name", MODEL_NAME_MAX)
    if not INSTANCE_TYPE_PATTERN.fullmatch(instance_type):
        raise ArgumentError(
            f"--instance-type must be a SageMaker instance type such as ml.m5.large, "
            f"got {instance_type!r}"
        )
    _name(endpoint_name_prefix, "--endpoint-name-prefix", ENDPOINT_NAME_PREFIX_MAX)


def _dataset() -> dict[str, Any]:
    return {
        "dataset_type": DATASET_TYPE,
        "headers": [*INPUT_COLUMNS, LABEL_COLUMN],
        "label": LABEL_COLUMN,
    }


def _predictor(model_name: str, instance_type: str, endpoint_name_prefix: str) -> dict[str, Any]:
    return {
        "model_name": model_name,
        "instance_type": instance_type,
        "initial_instance_count": INSTANCE_COUNT,
        "endpoint_name_prefix": endpoint_name_prefix,
        "content_type": CONTENT_TYPE,
        "accept_type": ACCEPT_TYPE,
        "probability": PROBABILITY,
    }


def bias_config(model_name: str, instance_type: str, endpoint_name_prefix: str) -> dict[str, Any]:
    """The post-training bias analysis config of the model."""
    validate(model_name, instance_type, endpoint_name_prefix)
    return {
        **_dataset(),
        "label_values_or_threshold": list(LABEL_VALUES),
        "facet": [{"name_or_index": FACET_NAME, "value_or_threshold": list(FACET_VALUES)}],
        "probability_threshold": PROBABILITY_THRESHOLD,
        "methods": {
            "report": dict(REPORT),
            "post_training_bias": {"methods": POST_TRAINING_METHODS},
        },
        "predictor": _predictor(model_name, instance_type, endpoint_name_prefix),
    }


def explainability_config(
    model_name: str, instance_type: str, endpoint_name_prefix: str
) -> dict[str, Any]:
    """The SHAP analysis config of the model (the label column is not a feature)."""
    validate(model_name, instance_type, endpoint_name_prefix)
    return {
        **_dataset(),
        "methods": {
            "report": dict(REPORT),
            "shap": {
                "baseline": [list(record) for record in SHAP_BASELINE],
                "num_samples": SHAP_NUM_SAMPLES,
                "agg_method": SHAP_AGG_METHOD,
                "use_logit": SHAP_USE_LOGIT,
                "save_local_shap_values": SHAP_SAVE_LOCAL_SHAP_VALUES,
            },
        },
        "predictor": _predictor(model_name, instance_type, endpoint_name_prefix),
    }


def write_configs(
    output_dir: Path, model_name: str, instance_type: str, endpoint_name_prefix: str
) -> list[Path]:
    """Write both configs (after validating every argument); returns their paths."""
    documents = {
        BIAS_CONFIG: bias_config(model_name, instance_type, endpoint_name_prefix),
        EXPLAINABILITY_CONFIG: explainability_config(
            model_name, instance_type, endpoint_name_prefix
        ),
    }
    written: list[Path] = []
    for relative, document in documents.items():
        path = output_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        # Sorted keys, no timestamp: the same arguments give the same bytes.
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, as for a bad value: no usage block in the job's log.
        print(f"clarify_configs: error: {message}", file=sys.stderr)
        sys.exit(2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--model-name", required=True, help="the SageMaker model to analyse")
    parser.add_argument(
        "--instance-type", required=True, help="instance type of Clarify's shadow endpoint"
    )
    parser.add_argument(
        "--endpoint-name-prefix", required=True, help="name prefix of the shadow endpoint"
    )
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output"))
    args = parser.parse_args(argv)
    try:
        written = write_configs(
            args.output_dir, args.model_name, args.instance_type, args.endpoint_name_prefix
        )
    except ArgumentError as err:
        print(f"clarify_configs: error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"clarify_configs: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
