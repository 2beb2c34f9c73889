"""clarify_configs.py: the Clarify analysis configs of the trained model's bias and SHAP baselines.

Both configs are compared with what the sagemaker SDK generates for the same settings (the
generator behind ``SageMakerClarifyProcessor.run_post_training_bias`` / ``run_explainability``),
their constants with ml/clarify/monitor_*.json, churn_features and train.py, their dataset with
preprocess's labelled.csv and their JMESPath with real serving; then the CLI and its errors.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import clarify_configs
import inference
import train
from churn_features import CONTRACT_TYPES, INPUT_COLUMNS, LABEL_COLUMN
from ml_support import ML_DIR, SRC_DIR, PipelineRun, read_rows, run_script, sdk_module

MODEL = "churn-model-20250101-abc123"
INSTANCE_TYPE = "ml.m5.large"
PREFIX = "clarify"
ARGS = ("--model-name", MODEL, "--instance-type", INSTANCE_TYPE, "--endpoint-name-prefix", PREFIX)
BIAS = "bias/analysis_config.json"
EXPLAINABILITY = "explainability/analysis_config.json"


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The two configs as the CLI writes them, by path under --output-dir."""
    output = tmp_path_factory.mktemp("clarify-configs")
    result = run_script("clarify_configs.py", *ARGS, "--output-dir", output)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        f"clarify_configs: wrote {output / BIAS}",
        f"clarify_configs: wrote {output / EXPLAINABILITY}",
    ]
    files = sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file())
    assert files == [BIAS, EXPLAINABILITY]
    return {name: _load(output / name) for name in files}


# --- the SDK's configs ------------------------------------------------------------------------


def _sdk_parts(clarify: Any) -> tuple[Any, Any]:
    """The DataConfig and ModelConfig the two baselines share."""
    data = clarify.DataConfig(
        # Required by DataConfig, but the SDK keeps S3 paths out of the analysis config (it
        # passes them to the processing job as inputs and outputs), so nothing needs dropping.
        s3_data_input_path="s3://bucket/run/labelled",
        s3_output_path="s3://bucket/run/baselines",
        label=LABEL_COLUMN,
        headers=[*INPUT_COLUMNS, LABEL_COLUMN],
        dataset_type="text/csv",
    )
    model = clarify.ModelConfig(
        model_name=MODEL,
        instance_count=1,
        instance_type=INSTANCE_TYPE,
        accept_type="application/json",
        content_type="text/csv",
        endpoint_name_prefix=PREFIX,
    )
    return data, model


def test_the_bias_config_is_what_the_sdk_writes(written: dict[str, dict[str, Any]]) -> None:
    clarify = sdk_module("sagemaker.clarify")
    data, model = _sdk_parts(clarify)
    bias = clarify.BiasConfig(
        label_values_or_threshold=[1],
        facet_name="contract_type",
        facet_values_or_threshold=["month-to-month"],
    )
    predicted = clarify.ModelPredictedLabelConfig(
        probability="predictions[*].churn_probability", probability_threshold=0.5
    )
    expected = clarify._AnalysisConfigGenerator.bias_post_training(
        data, bias, predicted, "all", model
    )
    assert written[BIAS] == expected  # exactly: no key normalised away
    clarify.ANALYSIS_CONFIG_SCHEMA_V1_0.validate(written[BIAS])  # the SDK's pre-flight check


def test_the_explainability_config_is_what_the_sdk_writes(
    written: dict[str, dict[str, Any]],
) -> None:
    clarify = sdk_module("sagemaker.clarify")
    data, model = _sdk_parts(clarify)
    shap = clarify.SHAPConfig(
        baseline=[[13, 67.12, 593.38, 1, "month-to-month"]],
        num_samples=100,
        agg_method="mean_abs",
        use_logit=False,
        save_local_shap_values=True,
    )
    predicted = clarify.ModelPredictedLabelConfig(probability="predictions[*].churn_probability")
    expected = clarify._AnalysisConfigGenerator.explainability(data, model, predicted, shap)
    assert written[EXPLAINABILITY] == expected  # exactly: no key normalised away
    clarify.ANALYSIS_CONFIG_SCHEMA_V1_0.validate(written[EXPLAINABILITY])


def test_the_functions_give_what_the_cli_writes(written: dict[str, dict[str, Any]]) -> None:
    args = (MODEL, INSTANCE_TYPE, PREFIX)
    assert clarify_configs.bias_config(*args) == written[BIAS]
    assert clarify_configs.explainability_config(*args) == written[EXPLAINABILITY]


# --- the constants against the rest of the project ---------------------------------------------


def test_the_settings_are_those_of_the_monitors_and_the_model() -> None:
    # The step gets only this script, so it carries copies; these keep them in line.
    assert clarify_configs.INPUT_COLUMNS == INPUT_COLUMNS
    assert clarify_configs.LABEL_COLUMN == LABEL_COLUMN
    monitor_bias = _load(ML_DIR / "clarify" / "monitor_bias.json")
    bias = clarify_configs.bias_config(MODEL, INSTANCE_TYPE, PREFIX)
    for key in ("headers", "label", "label_values_or_threshold", "facet"):
        assert bias[key] == monitor_bias[key], key
    # train.py's default --threshold, which the pipeline trains with.
    assert bias["probability_threshold"] == train.build_parser().parse_args([]).threshold

    monitor_explainability = _load(ML_DIR / "clarify" / "monitor_explainability.json")
    explainability = clarify_configs.explainability_config(MODEL, INSTANCE_TYPE, PREFIX)
    assert explainability["methods"]["shap"] == monitor_explainability["methods"]["shap"]
    for config in (bias, explainability):
        for key in ("content_type", "accept_type"):
            assert config["predictor"][key] == monitor_explainability["predictor"][key], key


def test_the_configs_describe_the_labelled_file(pipeline: PipelineRun) -> None:
    rows = read_rows(pipeline.processed_dir / "labelled" / "labelled.csv")
    bias = clarify_configs.bias_config(MODEL, INSTANCE_TYPE, PREFIX)
    headers = bias["headers"]
    assert {len(row) for row in rows} == {len(headers)}
    assert {row[headers.index(bias["label"])] for row in rows} == {"0", "1"}
    (facet,) = bias["facet"]
    # The facet splits the test customers in two, spelled as the file (and requests) spell it.
    contracts = {row[headers.index(facet["name_or_index"])] for row in rows}
    assert contracts == set(CONTRACT_TYPES)
    assert set(facet["value_or_threshold"]) < contracts
    # The pipeline's model predicts churn from that probability on.
    assert inference.model_fn(str(pipeline.model_dir)).threshold == bias["probability_threshold"]


def test_the_probability_path_reads_a_batched_response(pipeline: PipelineRun) -> None:
    jmespath = sdk_module("jmespath")  # comes with the SDK (boto3)
    model = inference.model_fn(str(pipeline.model_dir))
    rows = read_rows(pipeline.processed_dir / "labelled" / "labelled.csv")[:25]
    # Clarify sends several records per request: text/csv lines without the label.
    request = "".join(",".join(row[:-1]) + "\n" for row in rows)
    prediction = inference.predict_fn(inference.input_fn(request, "text/csv"), model)
    body, content_type = inference.output_fn(prediction, "application/json")
    assert content_type == clarify_configs.ACCEPT_TYPE
    probabilities = jmespath.search(clarify_configs.PROBABILITY, json.loads(body))
    assert probabilities == [p["churn_probability"] for p in prediction["predictions"]]
    assert len(probabilities) == len(rows)
    assert all(isinstance(p, float) and 0.0 <= p <= 1.0 for p in probabilities)
    # The SHAP baseline record is a valid request too (Clarify mixes it into its samples).
    (record,) = clarify_configs.SHAP_BASELINE
    line = ",".join(str(v) for v in record)
    assert inference.input_fn(line, clarify_configs.CONTENT_TYPE).shape[0] == 1


# --- the CLI ------------------------------------------------------------------------------------


def test_same_arguments_give_the_same_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert clarify_configs.main([*ARGS, "--output-dir", str(tmp_path / name)]) == 0
    for relative in (BIAS, EXPLAINABILITY):
        text = (tmp_path / "a" / relative).read_bytes()
        assert text == (tmp_path / "b" / relative).read_bytes()
        assert text.endswith(b"}\n")


def test_the_script_needs_nothing_but_itself(tmp_path: Path) -> None:
    # The step mounts this one file: a copy alone, in an isolated interpreter (no PYTHONPATH,
    # no current directory on sys.path) with numpy blocked, writes both configs.
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(SRC_DIR / "clarify_configs.py", code / "clarify_configs.py")
    probe = (
        "import runpy, sys\n"
        "sys.modules['numpy'] = None\n"
        "script, *argv = sys.argv[1:]\n"
        "sys.argv = [script, *argv]\n"
        "runpy.run_path(script, run_name='__main__')\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-B",
            "-c",
            probe,
            str(code / "clarify_configs.py"),
            *ARGS,
            "--output-dir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for relative in (BIAS, EXPLAINABILITY):
        assert _load(tmp_path / "out" / relative)["predictor"]["model_name"] == MODEL


NAME_RULE = "letters, digits and hyphens, starting and ending with a letter or digit"
BAD_ARGUMENTS = {
    "model name with an underscore": (
        {"--model-name": "churn_model"},
        f"--model-name must be 1 to 63 {NAME_RULE}, got 'churn_model'",
    ),
    "model name starting with a hyphen": (
        {"--model-name": "-churn"},
        f"--model-name must be 1 to 63 {NAME_RULE}, got '-churn'",
    ),
    "model name too long": (
        {"--model-name": "m" * 64},
        f"--model-name must be 1 to 63 {NAME_RULE}, got '{'m' * 64}'",
    ),
    "empty model name": (
        {"--model-name": ""},
        f"--model-name must be 1 to 63 {NAME_RULE}, got ''",
    ),
    "model name with a newline": (
        {"--model-name": "churn\n"},
        f"--model-name must be 1 to 63 {NAME_RULE}, got 'churn\\n'",
    ),
    "instance type without ml.": (
        {"--instance-type": "m5.large"},
        "--instance-type must be a SageMaker instance type such as ml.m5.large, got 'm5.large'",
    ),
    "prefix ending with a hyphen": (
        {"--endpoint-name-prefix": "clarify-"},
        f"--endpoint-name-prefix must be 1 to 40 {NAME_RULE}, got 'clarify-'",
    ),
    "prefix too long": (
        {"--endpoint-name-prefix": "p" * 41},
        f"--endpoint-name-prefix must be 1 to 40 {NAME_RULE}, got '{'p' * 41}'",
    ),
}


@pytest.mark.parametrize(("changes", "message"), BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
def test_bad_arguments_are_refused_with_one_line_and_exit_code_2(
    changes: dict[str, str], message: str, tmp_path: Path
) -> None:
    values = dict(zip(ARGS[::2], ARGS[1::2], strict=True))
    values.update(changes)
    # --option=value: a value starting with a hyphen is not taken for an option.
    argv = [f"{option}={value}" for option, value in values.items()]
    result = run_script("clarify_configs.py", *argv, "--output-dir", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr == f"clarify_configs: error: {message}\n"
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()  # nothing written: the step fails as a whole


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (ARGS[2:], "the following arguments are required: --model-name"),
        ((*ARGS, "--seed", "1"), "unrecognized arguments: --seed 1"),
        ((*ARGS, "--output", "out"), "unrecognized arguments: --output out"),
    ],
    ids=["missing argument", "unknown argument", "abbreviation"],
)
def test_argument_errors_are_one_line_too(argv: tuple[str, ...], message: str) -> None:
    result = run_script("clarify_configs.py", *argv)
    assert result.returncode == 2
    assert result.stderr == f"clarify_configs: error: {message}\n"
