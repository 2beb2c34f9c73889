"""The build layer: SageMaker Pipeline definition, registry, CI/CD, guarded triggers, events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_constructs.training.definition import (
    PipelineImages,
    PipelineSpec,
    QualityGate,
    build_definition,
    resolve_images,
)
from tests.conftest import Synthesized
from tests.templates import as_list, pipeline_steps, policy_statements

ACCOUNT = "123456789012"
# The Fingerprint step's inputs (and outputs) for the Model Monitor baseline files.
MONITOR_FILES = (
    "data_statistics_uri",
    "data_constraints_uri",
    "model_constraints_uri",
    "bias_pre_uri",
    "bias_post_uri",
    "explainability_uri",
)


def _resources(synth: Synthesized, env: str = "dev") -> dict[str, Any]:
    stage = synth.stages[env]
    assert stage.projects["churn"].build is not None
    res: dict[str, Any] = synth.template_json(stage.projects["churn"].build)["Resources"]
    return res


def _typed(resources: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [v["Properties"] for v in resources.values() if v["Type"] == kind]


def _definition(synth: Synthesized, env: str = "dev") -> tuple[dict[str, Any], dict[str, Any]]:
    pipeline = _typed(_resources(synth, env), "AWS::SageMaker::Pipeline")[0]
    body, variables = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    definition: dict[str, Any] = json.loads(body)
    return definition, variables


@pytest.fixture(scope="module")
def build(monitor_synth: Synthesized) -> dict[str, Any]:
    """The build stack with every option on (Debugger, Clarify and Model Monitor baselines)."""
    return _resources(monitor_synth)


@pytest.fixture(scope="module")
def definition(monitor_synth: Synthesized) -> dict[str, Any]:
    return _definition(monitor_synth)[0]


def test_default_pipeline_needs_no_closed_service(default_synth: Synthesized) -> None:
    """Debugger, Clarify and Model Monitor are closed to new AWS customers: with the defaults
    no step uses them (no quality check, no Clarify job, no Debugger rule or hook)."""
    definition, _ = _definition(default_synth)
    steps = _steps(definition)
    assert list(steps) == [
        "Preprocess",
        "MonitoringBaseline",
        "Train",
        "Evaluate",
        "Champion",
        "Track",
        "QualityGate",
        "ChampionGate",
        "Fingerprint",
        "Fingerprinted",
        "Register-RegisterModel",
        "FingerprintFailed",
        "ChampionGateFailed",
        "QualityGateFailed",
    ]
    train = steps["Train"]["Arguments"]
    assert "DebugRuleConfigurations" not in train and "DebugHookConfig" not in train
    text = json.dumps(definition)
    assert "clarify" not in text.lower() and "model-monitor" not in text.lower()
    register = steps["Register-RegisterModel"]["Arguments"]
    assert "DriftCheckBaselines" not in register
    assert {k for k, v in register["ModelMetrics"].items() if v} == {"ModelQuality"}
    # No Model Monitor file to seal: each is passed as none.
    fingerprint = steps["Fingerprint"]["Arguments"]
    assert {name: fingerprint[name] for name in MONITOR_FILES} == dict.fromkeys(
        MONITOR_FILES, "none"
    )


def steps_of_gate(definition: dict[str, Any]) -> dict[str, Any]:
    """The arguments of the QualityGate (threshold) step."""
    arguments: dict[str, Any] = _steps(definition)["QualityGate"]["Arguments"]
    return arguments


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return pipeline_steps(definition)


# --- the pipeline definition --------------------------------------------------------------------


def test_steps_and_their_order(definition: dict[str, Any]) -> None:
    assert [(s["Name"], s["Type"]) for s in definition["Steps"]] == [
        ("Preprocess", "Processing"),
        ("MonitoringBaseline", "Processing"),
        ("DataQualityBaseline", "QualityCheck"),
        ("BiasBaseline", "Processing"),
        ("Train", "Training"),
        ("Evaluate", "Processing"),
        ("Champion", "Lambda"),
        ("Track", "Lambda"),
        ("QualityGate", "Condition"),
    ]
    gate = definition["Steps"][-1]["Arguments"]
    # Behind the threshold, the champion gate; behind it the model baselines (shadow model,
    # Clarify configs, post-training bias, SHAP), then registration.
    assert [(s["Name"], s["Type"]) for s in gate["IfSteps"]] == [("ChampionGate", "Condition")]
    champion_gate = gate["IfSteps"][0]["Arguments"]
    assert [(s["Name"], s["Type"]) for s in champion_gate["IfSteps"]] == [
        ("ShadowModel-CreateModel", "Model"),
        ("ClarifyConfigs", "Processing"),
        ("ModelBiasBaseline", "Processing"),
        ("ExplainabilityBaseline", "Processing"),
        ("Fingerprint", "Lambda"),
        ("Fingerprinted", "Condition"),
    ]
    fingerprinted = champion_gate["IfSteps"][-1]["Arguments"]
    assert [s["Name"] for s in fingerprinted["IfSteps"]] == ["Register-RegisterModel"]
    assert [s["Name"] for s in fingerprinted["ElseSteps"]] == ["FingerprintFailed"]
    assert [s["Name"] for s in gate["ElseSteps"]] == ["QualityGateFailed"]
    assert [s["Name"] for s in champion_gate["ElseSteps"]] == ["ChampionGateFailed"]
    fail = gate["ElseSteps"][0]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert "is below the threshold" in fail and "- the model was not registered." in fail
    train = _steps(definition)["Train"]
    assert train["DependsOn"] == ["DataQualityBaseline", "BiasBaseline"]


def test_quality_gate_reads_auc_from_the_evaluation_report(definition: dict[str, Any]) -> None:
    condition = definition["Steps"][-1]["Arguments"]["Conditions"][0]
    assert condition["Type"] == "GreaterThanOrEqualTo"
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == (
        "binary_classification_metrics.auc.value"
    )
    # The project's threshold, not a parameter whoever starts a run could lower (issue 13).
    assert condition["RightValue"] == 0.75
    evaluate = _steps(definition)["Evaluate"]
    assert evaluate["PropertyFiles"] == [
        {
            "PropertyFileName": "EvaluationReport",
            "OutputName": "evaluation",
            "FilePath": "evaluation.json",
        }
    ]


def test_champion_gate_compares_with_the_approved_version(definition: dict[str, Any]) -> None:
    """The Champion step sends the challenger's gate metric to the platform's function; the
    champion gate registers only on its ``passes``; the version records the figures and the
    verdict the next version's gate reads (lambda/champion/README.md)."""
    steps = _steps(definition)
    champion = steps["Champion"]
    assert champion["FunctionArn"] == "${ChampionFunctionArn}"
    assert champion["Arguments"] == {
        "challenger": {
            "Std:JsonGet": {
                "Path": "binary_classification_metrics.auc.value",
                "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
            }
        },
        "execution_id": {"Get": "Execution.PipelineExecutionId"},
    }
    outputs = [o["OutputName"] for o in champion["OutputParameters"]]
    assert {"passes", "verdict", "challenger_value", "champion_value", "reason"} <= set(outputs)
    assert steps["ChampionGate"]["Arguments"]["Conditions"] == [
        {
            "Type": "Equals",
            "LeftValue": {"Get": "Steps.Champion.OutputParameters['passes']"},
            "RightValue": "true",
        }
    ]
    message = steps["ChampionGateFailed"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert {"Get": "Steps.Champion.OutputParameters['reason']"} in message
    metadata = steps["Register-RegisterModel"]["Arguments"]["CustomerMetadataProperties"]
    assert metadata["GateMetric"] == "auc"
    for key, output in (
        ("GateMetricValue", "challenger_value"),
        ("ChampionVerdict", "verdict"),
        ("ChampionValue", "champion_value"),
        ("ChampionModelPackageArn", "champion_arn"),
        ("ChampionMargin", "margin"),
    ):
        assert metadata[key] == {"Get": f"Steps.Champion.OutputParameters['{output}']"}


def test_fingerprints_are_recorded_with_the_version(definition: dict[str, Any]) -> None:
    """The Fingerprint step hashes the model artifact, the monitoring baseline and the
    evaluation report; the version records each (what the release check verifies)."""
    steps = _steps(definition)
    fingerprint = steps["Fingerprint"]
    assert fingerprint["FunctionArn"] == "${FingerprintFunctionArn}"
    arguments = fingerprint["Arguments"]
    assert arguments["model_uri"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert arguments["baseline_uri"]["Std:Join"]["Values"][-1] == "statistics.json"
    assert arguments["evaluation_uri"]["Std:Join"]["Values"][-1] == "evaluation.json"
    assert steps["Fingerprinted"]["Arguments"]["Conditions"] == [
        {
            "Type": "Equals",
            "LeftValue": {"Get": "Steps.Fingerprint.OutputParameters['status']"},
            "RightValue": "ok",
        }
    ]
    register = steps["Register-RegisterModel"]["Arguments"]
    # Registered with the sealed copies (write-once under sealed/), not the run's outputs,
    # which a later run may overwrite.
    sealed = {
        name: {"Get": f"Steps.Fingerprint.OutputParameters['{name}']"}
        for name in ("model_uri", "baseline_uri", "evaluation_uri")
    }
    [container] = register["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == sealed["model_uri"]
    quality = register["ModelMetrics"]["ModelQuality"]
    assert quality["Statistics"]["S3Uri"] == sealed["evaluation_uri"]
    metadata = register["CustomerMetadataProperties"]
    assert metadata["MonitoringBaseline"] == sealed["baseline_uri"]
    for key, output in (
        ("ModelArtifactSha256", "model_sha256"),
        ("ModelArtifactVersion", "model_version"),
        ("MonitoringBaselineSha256", "baseline_sha256"),
        ("MonitoringBaselineVersion", "baseline_version"),
        ("EvaluationReportSha256", "evaluation_sha256"),
        ("EvaluationReportVersion", "evaluation_version"),
    ):
        assert metadata[key] == {"Get": f"Steps.Fingerprint.OutputParameters['{output}']"}


def _registered_files(register: dict[str, Any]) -> dict[str, Any]:
    """Every S3Uri of Register's ModelMetrics and DriftCheckBaselines but the Clarify analysis
    configs (the project's code), by "<property>.<section>.<source>"."""
    return {
        f"{prop}.{section}.{source}": metric["S3Uri"]
        for prop in ("ModelMetrics", "DriftCheckBaselines")
        for section, sources in (register.get(prop) or {}).items()
        for source, metric in (sources or {}).items()
        if source != "ConfigFile"
    }


def test_model_monitor_baselines_are_registered_sealed(definition: dict[str, Any]) -> None:
    """With the Model Monitor options on, the Fingerprint step seals every Model Monitor file
    (its inputs: the exact files the steps write) and Register uses only its sealed copies:
    files under pipelines/, which a later run (the team's code) may overwrite, would let it
    loosen a released version's baselines."""
    steps = _steps(definition)
    arguments = steps["Fingerprint"]["Arguments"]
    assert arguments["data_statistics_uri"] == {
        "Get": "Steps.DataQualityBaseline.CalculatedBaselineStatistics"
    }
    assert arguments["data_constraints_uri"] == {
        "Get": "Steps.DataQualityBaseline.CalculatedBaselineConstraints"
    }
    evaluation = arguments["evaluation_uri"]["Std:Join"]["Values"][0]
    assert arguments["model_constraints_uri"] == {
        "Std:Join": {"On": "/", "Values": [evaluation, "constraints.json"]}
    }
    bias = arguments["bias_pre_uri"]["Std:Join"]["Values"]
    assert bias[0]["Std:Join"]["Values"][-2:] == ["baselines", "bias"]
    assert bias[-1] == "analysis.json"
    for name, step in (
        ("bias_post_uri", "ModelBiasBaseline"),
        ("explainability_uri", "ExplainabilityBaseline"),
    ):
        assert arguments[name] == {
            "Std:Join": {
                "On": "/",
                "Values": [
                    {
                        "Get": f"Steps.{step}.ProcessingOutputConfig.Outputs['analysis_result']"
                        ".S3Output.S3Uri"
                    },
                    "analysis.json",
                ],
            }
        }
    # Declared outputs of the same names.
    declared = [o["OutputName"] for o in steps["Fingerprint"]["OutputParameters"]]
    assert set(MONITOR_FILES) <= set(declared)

    register = steps["Register-RegisterModel"]["Arguments"]

    def sealed(name: str) -> dict[str, str]:
        return {"Get": f"Steps.Fingerprint.OutputParameters['{name}']"}

    assert _registered_files(register) == {
        "ModelMetrics.ModelQuality.Statistics": sealed("evaluation_uri"),
        "ModelMetrics.ModelDataQuality.Statistics": sealed("data_statistics_uri"),
        "ModelMetrics.ModelDataQuality.Constraints": sealed("data_constraints_uri"),
        "ModelMetrics.Bias.PreTrainingReport": sealed("bias_pre_uri"),
        "ModelMetrics.Bias.PostTrainingReport": sealed("bias_post_uri"),
        "ModelMetrics.Explainability.Report": sealed("explainability_uri"),
        "DriftCheckBaselines.ModelDataQuality.Statistics": sealed("data_statistics_uri"),
        "DriftCheckBaselines.ModelDataQuality.Constraints": sealed("data_constraints_uri"),
        "DriftCheckBaselines.ModelQuality.Constraints": sealed("model_constraints_uri"),
        "DriftCheckBaselines.Bias.PreTrainingConstraints": sealed("bias_pre_uri"),
        "DriftCheckBaselines.Bias.PostTrainingConstraints": sealed("bias_post_uri"),
        "DriftCheckBaselines.Explainability.Constraints": sealed("explainability_uri"),
    }
    # Every one a Fingerprint output; none a run's own file.
    assert all(
        uri["Get"].removeprefix("Steps.Fingerprint.OutputParameters['").removesuffix("']")
        in declared
        for uri in _registered_files(register).values()
    )
    assert "pipelines" not in json.dumps(_registered_files(register))
    # The steps writing the files come before Fingerprint (the references order them too):
    # DataQualityBaseline and BiasBaseline before training, the model baselines before it in
    # the champion gate's branch, Evaluate before the gates.
    top = [s["Name"] for s in definition["Steps"]]
    assert top.index("DataQualityBaseline") < top.index("Train") < top.index("Evaluate")
    assert top.index("BiasBaseline") < top.index("Train")
    branch = [s["Name"] for s in steps["ChampionGate"]["Arguments"]["IfSteps"]]
    assert branch.index("ModelBiasBaseline") < branch.index("Fingerprint")
    assert branch.index("ExplainabilityBaseline") < branch.index("Fingerprint")


def test_champion_function_reads_the_registry_only(build: dict[str, Any]) -> None:
    [function] = [
        f
        for f in _typed(build, "AWS::Lambda::Function")
        if f["FunctionName"] == "mlops-dev-churn-champion"
    ]
    assert function["Environment"]["Variables"] == {
        "MODEL_PACKAGE_GROUP": "mlops-dev-churn-models",
        "GATE_METRIC": "auc",
        "GATE_DIRECTION": "maximize",
        "CHAMPION_MARGIN": "0.0",
    }
    actions = {
        a
        for s in policy_statements(build, "mlops-dev-churn-champion")
        for a in as_list(s["Action"])
    }
    assert actions <= {
        "sagemaker:ListModelPackages",
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }, actions


def test_parameters_and_defaults_from_config(definition: dict[str, Any]) -> None:
    params = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert params == {
        # The curated table: data that passed the data-quality ruleset.
        "InputDataUrl": f"s3://mlops-dev-churn-curated-{ACCOUNT}/customers/",
        "ProcessingInstanceType": "ml.m5.large",
        "TrainingInstanceType": "ml.m5.large",
        "TrainingInstanceCount": 1,
        "CodeVersion": "initial",
        "TriggerReason": "manual",
    }


def _jobs(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        n: s["Arguments"]
        for n, s in _steps(definition).items()
        if s["Type"] in ("Processing", "Training", "QualityCheck")
    }


def test_every_job_is_encrypted_and_network_isolated(definition: dict[str, Any]) -> None:
    jobs = _jobs(definition)
    # Clarify manages its shadow endpoint through SageMaker's API: no network isolation for the
    # two model baselines (encryption as everywhere).
    online = {"ModelBiasBaseline", "ExplainabilityBaseline"}
    assert set(jobs) == {
        "Preprocess",
        "MonitoringBaseline",
        "DataQualityBaseline",
        "BiasBaseline",
        "Train",
        "Evaluate",
        "ClarifyConfigs",
        *online,
    }
    for name, job in jobs.items():
        if "ResourceConfig" in job:  # training
            assert job["ResourceConfig"]["VolumeKmsKeyId"] == "${DataKeyArn}", name
            assert job["OutputDataConfig"]["KmsKeyId"] == "${DataKeyArn}", name
            assert job["EnableNetworkIsolation"] is True
            assert job["EnableInterContainerTrafficEncryption"] is True
            assert "VpcConfig" not in job
        else:
            assert (
                job["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == "${DataKeyArn}"
            ), name
            assert job["ProcessingOutputConfig"]["KmsKeyId"] == "${DataKeyArn}", name
            assert job["NetworkConfig"]["EnableNetworkIsolation"] is (name not in online), name
            assert job["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True, name
            assert "VpcConfig" not in job["NetworkConfig"]


def test_the_key_placeholder_is_substituted_with_the_data_key(default_synth: Synthesized) -> None:
    _, variables = _definition(default_synth)
    # The data key, the step functions, and where the platform's monitoring script (a CDK
    # asset) is.
    assert set(variables) == {
        "DataKeyArn",
        "ChampionFunctionArn",
        "FingerprintFunctionArn",
        "TrackingFunctionArn",
        "MonitoringCodeBucket",
        "MonitoringCodeKey",
    }
    assert "PublishOutputFnGetAttDataKey" in json.dumps(variables["DataKeyArn"])
    assert str(variables["MonitoringCodeKey"]).endswith(".py")


def test_code_version_selects_the_uploaded_code(definition: dict[str, Any]) -> None:
    text = json.dumps(definition)
    assert "@@CODE_VERSION@@" not in text
    code_channel = next(
        c for c in _steps(definition)["Train"]["Arguments"]["InputDataConfig"]
        if c["ChannelName"] == "code"
    )  # fmt: skip
    assert code_channel["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Std:Join": {
            "On": "",
            "Values": [
                f"s3://mlops-dev-churn-artifacts-{ACCOUNT}/ml/code/",
                {"Get": "Parameters.CodeVersion"},
                "/sourcedir.tar.gz",
            ],
        }
    }


def test_training_has_debugger_rules_and_metrics(definition: dict[str, Any]) -> None:
    train = _steps(definition)["Train"]
    rules = [r["RuleConfigurationName"] for r in train["Arguments"]["DebugRuleConfigurations"]]
    assert rules == ["LossNotDecreasing", "Overfit"]
    metrics = {m["Name"] for m in train["Arguments"]["AlgorithmSpecification"]["MetricDefinitions"]}
    assert metrics == {"validation:auc", "train:auc"}
    assert (
        "sagemaker-xgboost:1.7-1" in train["Arguments"]["AlgorithmSpecification"]["TrainingImage"]
    )
    # Script-mode hyperparameters are JSON-encoded; the container passes them as CLI arguments.
    assert train["Arguments"]["HyperParameters"]["num_round"] == '"200"'
    assert "EnableManagedSpotTraining" not in train["Arguments"]


def test_registration_carries_metrics_baselines_and_lineage(definition: dict[str, Any]) -> None:
    register = _steps(definition)["Register-RegisterModel"]["Arguments"]
    assert register["ModelPackageGroupName"] == "mlops-dev-churn-models"
    # Not a parameter (issue 13): every version waits for a person.
    assert register["ModelApprovalStatus"] == "PendingManualApproval"
    metrics = register["ModelMetrics"]
    assert {k for k, v in metrics.items() if v} == {
        "ModelQuality",
        "ModelDataQuality",
        "Bias",
        "Explainability",
    }
    # The files are the Fingerprint step's sealed copies
    # (test_model_monitor_baselines_are_registered_sealed); what it seals:
    prints = _steps(definition)["Fingerprint"]["Arguments"]
    assert prints["bias_pre_uri"]["Std:Join"]["Values"][-1] == "analysis.json"
    assert metrics["Bias"]["PreTrainingReport"]["S3Uri"] == {
        "Get": "Steps.Fingerprint.OutputParameters['bias_pre_uri']"
    }
    baselines = register["DriftCheckBaselines"]
    # What Model Monitor reads when the version is deployed (the router passes these URIs).
    assert set(baselines) == {"ModelDataQuality", "ModelQuality", "Bias", "Explainability"}
    assert prints["model_constraints_uri"]["Std:Join"]["Values"][-1] == "constraints.json"
    for kind, file in (
        ("Bias", "monitor_bias.json"),
        ("Explainability", "monitor_explainability.json"),
    ):
        uri = baselines[kind]["ConfigFile"]["S3Uri"]
        # The analysis config of the code version that trained the model.
        assert uri["Std:Join"]["Values"][1] == {"Get": "Parameters.CodeVersion"}
        assert uri["Std:Join"]["Values"][-1].endswith(f"/clarify/{file}")
    assert set(baselines["Bias"]) == {
        "ConfigFile",
        "PreTrainingConstraints",
        "PostTrainingConstraints",
    }
    # The analysis.json of the model-baseline steps, sealed; the property references (in the
    # Fingerprint step's inputs) order the steps.
    post = prints["bias_post_uri"]["Std:Join"]["Values"]
    assert post == [
        {
            "Get": "Steps.ModelBiasBaseline.ProcessingOutputConfig.Outputs['analysis_result'].S3Output.S3Uri"
        },
        "analysis.json",
    ]
    assert baselines["Bias"]["PostTrainingConstraints"]["S3Uri"] == {
        "Get": "Steps.Fingerprint.OutputParameters['bias_post_uri']"
    }
    xai = prints["explainability_uri"]["Std:Join"]["Values"]
    assert xai[0] == {
        "Get": "Steps.ExplainabilityBaseline.ProcessingOutputConfig.Outputs['analysis_result'].S3Output.S3Uri"
    }
    steps = _steps(definition)
    configs = steps["ClarifyConfigs"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert configs == [
        "--model-name",
        {"Get": "Steps.ShadowModel-CreateModel.ModelName"},
        "--instance-type",
        "ml.m5.large",
        "--endpoint-name-prefix",
        "mlops-dev-churn-clarify",
    ]
    bias_inputs = {
        i["InputName"]: i for i in steps["ModelBiasBaseline"]["Arguments"]["ProcessingInputs"]
    }
    assert "labelled" in json.dumps(bias_inputs["dataset"])
    assert bias_inputs["analysis_config"]["S3Input"]["S3Uri"] == {
        "Get": "Steps.ClarifyConfigs.ProcessingOutputConfig.Outputs['bias'].S3Output.S3Uri"
    }
    steps = _steps(definition)
    dq = steps["DataQualityBaseline"]["Arguments"]
    # Baselined on the raw serving inputs the endpoint captures, not the engineered split.
    dq_inputs = json.dumps(dq["ProcessingInputs"])
    assert "baseline" in dq_inputs and '"train"' not in dq_inputs
    lineage = register["CustomerMetadataProperties"]
    assert set(lineage) == {
        "CodeVersion",
        "DatasetManifest",
        "InputDataUrl",
        "MonitoringBaseline",
        "PipelineExecutionArn",
        "TriggerReason",
        # The champion gate's figures and verdict (test_champion_gate_...).
        "GateMetric",
        "GateMetricValue",
        "ChampionVerdict",
        "ChampionValue",
        "ChampionModelPackageArn",
        "ChampionMargin",
        # The fingerprints the release check verifies (test_fingerprints_...).
        "ModelArtifactSha256",
        "ModelArtifactVersion",
        "MonitoringBaselineSha256",
        "MonitoringBaselineVersion",
        "EvaluationReportSha256",
        "EvaluationReportVersion",
    }
    # The open monitoring baseline of this version: its sealed copy.
    assert lineage["MonitoringBaseline"] == {
        "Get": "Steps.Fingerprint.OutputParameters['baseline_uri']"
    }
    assert lineage["CodeVersion"] == {"Get": "Parameters.CodeVersion"}
    assert lineage["PipelineExecutionArn"] == {"Get": "Execution.PipelineExecutionArn"}
    container = register["InferenceSpecification"]["Containers"][0]
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"


def test_config_changes_the_definition(custom_synth: Synthesized) -> None:
    definition, _ = _definition(custom_synth, "prod")
    params = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert params["TrainingInstanceType"] == "ml.c5.xlarge"
    assert params["TrainingInstanceCount"] == 2
    assert steps_of_gate(definition)["Conditions"][0]["RightValue"] == 0.8
    assert params["InputDataUrl"] == "s3://acme-ml-prod-churn-curated-333333333333/customers/"
    train = _steps(definition)["Train"]
    assert train["Arguments"]["EnableManagedSpotTraining"] is True
    assert (
        train["Arguments"]["CheckpointConfig"]["S3Uri"]["Std:Join"]["Values"][-1] == "checkpoints"
    )
    assert train["Arguments"]["HyperParameters"]["num_round"] == '"50"'
    rules = train["Arguments"]["DebugRuleConfigurations"]
    assert [r["RuleConfigurationName"] for r in rules] == ["Overfit"]
    assert "sagemaker-xgboost" in train["Arguments"]["AlgorithmSpecification"]["TrainingImage"]
    assert "eu-central-1" in train["Arguments"]["AlgorithmSpecification"]["TrainingImage"]


def test_vpc_mode_puts_every_job_in_the_vpc(vpc_synth: Synthesized) -> None:
    definition, variables = _definition(vpc_synth)
    assert set(variables) == {
        "DataKeyArn",
        "ChampionFunctionArn",
        "FingerprintFunctionArn",
        "TrackingFunctionArn",
        "SubnetIds",
        "SecurityGroupId",
        "MonitoringCodeBucket",
        "MonitoringCodeKey",
    }
    for name, job in _jobs(definition).items():
        vpc = job.get("VpcConfig") or job["NetworkConfig"]["VpcConfig"]
        assert vpc == {"Subnets": ["${SubnetIds}"], "SecurityGroupIds": ["${SecurityGroupId}"]}, (
            name
        )


def test_definition_is_deterministic_and_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"the definition build tried to connect: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    spec = PipelineSpec(
        name="p",
        region="eu-west-1",
        role_arn="arn:aws:iam::111111111111:role/r",
        artifacts_bucket="a",
        input_data_uri="s3://r/incoming/",
        model_package_group="g",
        images=resolve_images(region="eu-west-1", framework="xgboost", version="1.7-1"),
        serving_columns=("a", "b"),
        data_quality_baseline=True,
        bias_baseline=True,
        model_baselines=True,
    )
    first = build_definition(spec)
    assert build_definition(spec) == first
    assert "eu-west-1" in first
    stricter = PipelineSpec(**{**spec.__dict__, "gate": QualityGate(metric="auc", threshold=0.9)})
    assert build_definition(stricter) != first
    # Accounts without Clarify turn the model baselines off: registration follows the gate.
    without = json.loads(
        build_definition(PipelineSpec(**{**spec.__dict__, "model_baselines": False}))
    )
    register = _steps(without)["Register-RegisterModel"]
    assert [s["Name"] for s in _steps(without)["ChampionGate"]["Arguments"]["IfSteps"]] == [
        "Fingerprint",
        "Fingerprinted",
    ]
    baselines = register["Arguments"]["DriftCheckBaselines"]
    assert "PostTrainingConstraints" not in baselines["Bias"]
    assert "Explainability" not in baselines or "Constraints" not in baselines["Explainability"]
    # What the spec does not produce is not sealed; what it does is.
    fingerprint = _steps(without)["Fingerprint"]["Arguments"]
    assert (fingerprint["bias_post_uri"], fingerprint["explainability_uri"]) == ("none", "none")
    assert fingerprint["model_constraints_uri"] == "none"  # model_quality_constraints is off
    assert fingerprint["data_statistics_uri"] == {
        "Get": "Steps.DataQualityBaseline.CalculatedBaselineStatistics"
    }
    assert baselines["Bias"]["PreTrainingConstraints"]["S3Uri"] == {
        "Get": "Steps.Fingerprint.OutputParameters['bias_pre_uri']"
    }


def _placeholder_spec(**fields: Any) -> PipelineSpec:
    """A spec with placeholder names (pipeline, role, bucket, data, group) and ``fields``."""
    return PipelineSpec(
        name="p",
        region="us-east-1",
        role_arn="arn:aws:iam::123456789012:role/r",
        artifacts_bucket="a",
        input_data_uri="s3://r/incoming/",
        model_package_group="g",
        **fields,
    )


def test_regression_gate_passes_at_or_below_the_threshold() -> None:
    """The gate reads the project's metric from its problem type's report section, in the
    metric's direction; own images replace the framework's."""
    spec = _placeholder_spec(
        images=PipelineImages(training="t:1", serving="s:1", processing="p:1", platform="k:1"),
        serving_columns=("day_of_week", "price"),
        problem_type="regression",
        gate=QualityGate(metric="rmse", threshold=12.5, higher_is_better=False),
    )
    definition = json.loads(build_definition(spec))
    steps = _steps(definition)
    condition = steps["QualityGate"]["Arguments"]["Conditions"][0]
    assert condition["Type"] == "LessThanOrEqualTo"
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == "regression_metrics.rmse.value"
    assert condition["RightValue"] == 12.5
    assert "GateThreshold" not in {p["Name"] for p in definition["Parameters"]}
    fail = steps["QualityGateFailed"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert "Model rmse" in fail and "is above the threshold" in fail
    train = steps["Train"]["Arguments"]
    assert train["AlgorithmSpecification"]["TrainingImage"] == "t:1"
    assert {m["Name"] for m in train["AlgorithmSpecification"]["MetricDefinitions"]} == {
        "validation:rmse",
        "train:rmse",
    }
    assert steps["Preprocess"]["Arguments"]["AppSpecification"]["ImageUri"] == "p:1"
    assert steps["Evaluate"]["Arguments"]["AppSpecification"]["ImageUri"] == "t:1"
    # The platform's monitoring baseline runs its own script in the platform's image, on the
    # serving-format rows, and registration records where the statistics are.
    baseline = steps["MonitoringBaseline"]["Arguments"]
    assert baseline["AppSpecification"]["ImageUri"] == "k:1"
    arguments = baseline["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--columns") + 1] == "day_of_week,price"
    code = [i for i in baseline["ProcessingInputs"] if i["InputName"] == "code"]
    assert code[0]["S3Input"]["S3Uri"] == "s3://${MonitoringCodeBucket}/${MonitoringCodeKey}"
    metadata = steps["Register-RegisterModel"]["Arguments"]["CustomerMetadataProperties"]
    assert "MonitoringBaseline" in metadata
    model = steps["Register-RegisterModel"]["Arguments"]["InferenceSpecification"]
    assert model["Containers"][0]["Image"] == "s:1"


# --- registry, pipeline role ---------------------------------------------------------------------


def test_registry_is_retained_and_private_by_default(default_synth: Synthesized) -> None:
    data = default_synth.template_json(default_synth.stages["dev"].projects["churn"].data)[
        "Resources"
    ]
    group = next(v for v in data.values() if v["Type"] == "AWS::SageMaker::ModelPackageGroup")
    assert group["DeletionPolicy"] == "Retain"
    assert group["Properties"]["ModelPackageGroupName"] == "mlops-dev-churn-models"
    assert "ModelPackageGroupPolicy" not in group["Properties"]


def test_registry_is_shared_with_no_other_account_without_delivery(
    custom_synth: Synthesized,
) -> None:
    """Independent environments (no delivery: section) promote nothing, so no account may read
    another's registry; a delivered platform shares it with exact promotion roles only
    (tests/test_delivery.py)."""
    data = custom_synth.template_json(custom_synth.stages["dev"].projects["churn"].data)[
        "Resources"
    ]
    group = next(v for v in data.values() if v["Type"] == "AWS::SageMaker::ModelPackageGroup")
    assert "ModelPackageGroupPolicy" not in group["Properties"]


@pytest.mark.parametrize(
    "role",
    [
        "mlops-dev-churn-sagemaker-pipeline",
        "mlops-dev-churn-ml-build",
        "mlops-dev-churn-ml-cicd",
        "mlops-dev-churn-start-training",
        "mlops-dev-churn-build-events-publisher",
    ],
)
def test_build_roles_are_scoped(build: dict[str, Any], role: str) -> None:
    for statement in policy_statements(build, role):
        for action in as_list(statement["Action"]):
            assert action not in ("*", "sagemaker:*", "s3:*", "kms:*", "iam:*"), (role, action)
        if "*" in as_list(statement["Resource"]):
            # Only an action without resource-level permissions (listing model versions).
            assert statement["Action"] == "sagemaker:ListModelPackages", (role, statement)


def test_pipeline_role_manages_only_clarifys_shadow_endpoints(build: dict[str, Any]) -> None:
    statements = {
        s.get("Sid"): s for s in policy_statements(build, "mlops-dev-churn-sagemaker-pipeline")
    }
    shadow = statements["ClarifyShadowEndpoints"]
    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}"
    assert sorted(shadow["Resource"]) == [
        f"{arn}:endpoint-config/mlops-dev-churn-clarify*",
        f"{arn}:endpoint/mlops-dev-churn-clarify*",
    ]
    assert "sagemaker:InvokeEndpoint" in shadow["Action"]
    assert statements["ShadowModel"]["Action"] == ["sagemaker:AddTags", "sagemaker:DescribeModel"]
    # Created only network-isolated (tests/test_governance.py simulates it).
    guarded = statements["GuardedShadowModel"]
    assert guarded["Action"] == "sagemaker:CreateModel"
    assert guarded["Condition"]["Bool"] == {"sagemaker:NetworkIsolation": "true"}


def test_pipeline_role_reads_only_its_own_monitoring_script(build: dict[str, Any]) -> None:
    assets = [
        r for s in policy_statements(build, "mlops-dev-churn-sagemaker-pipeline")
        for r in as_list(s["Resource"]) if "cdk-hnb659fds-assets" in json.dumps(r)
    ]  # fmt: skip
    # The bucket itself (list) and the one object: no other asset.
    objects = [r for r in assets if "/" in json.dumps(r).split(":::")[-1]]
    assert len(objects) == 1 and json.dumps(objects[0]).endswith('.py"'), assets


def test_pipeline_reads_curated_data_never_raw(build: dict[str, Any]) -> None:
    resources = [
        r for s in policy_statements(build, "mlops-dev-churn-sagemaker-pipeline")
        for r in as_list(s["Resource"])
    ]  # fmt: skip
    text = json.dumps(resources)
    assert f"mlops-dev-churn-curated-{ACCOUNT}" in text
    assert f"mlops-dev-churn-raw-{ACCOUNT}" not in text


def test_pipeline_role_passes_only_itself_to_sagemaker(build: dict[str, Any]) -> None:
    passes = [
        s
        for s in policy_statements(build, "mlops-dev-churn-sagemaker-pipeline")
        if s["Action"] == "iam:PassRole"
    ]
    assert len(passes) == 1
    assert passes[0]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    role_id = next(
        k for k, v in build.items()
        if v["Type"] == "AWS::IAM::Role" and v["Properties"]["RoleName"] == "mlops-dev-churn-sagemaker-pipeline"
    )  # fmt: skip
    assert passes[0]["Resource"] == {"Fn::GetAtt": [role_id, "Arn"]}


# --- CI/CD ---------------------------------------------------------------------------------------


def test_cicd_is_a_v2_pipeline_with_an_s3_source_by_default(build: dict[str, Any]) -> None:
    pipeline = _typed(build, "AWS::CodePipeline::Pipeline")[0]
    assert pipeline["PipelineType"] == "V2"
    assert pipeline["Name"] == "mlops-dev-churn-ml-cicd"
    source = pipeline["Stages"][0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "S3"
    assert source["Configuration"] == {
        "S3Bucket": f"mlops-dev-churn-artifacts-{ACCOUNT}",
        "S3ObjectKey": "ci/source/ml-project.zip",
        "PollForSourceChanges": False,
    }
    assert "CodeCommit" not in json.dumps(build)
    rule = next(
        r for r in _typed(build, "AWS::Events::Rule")
        if r.get("EventPattern", {}).get("detail", {}).get("object") == {"key": ["ci/source/ml-project.zip"]}
    )  # fmt: skip
    pipeline_id = next(k for k, v in build.items() if v["Type"] == "AWS::CodePipeline::Pipeline")
    assert {"Ref": pipeline_id} in rule["Targets"][0]["Arn"]["Fn::Join"][1]


def test_codeconnections_source_when_configured(custom_synth: Synthesized) -> None:
    pipeline = _typed(_resources(custom_synth), "AWS::CodePipeline::Pipeline")[0]
    source = pipeline["Stages"][0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["FullRepositoryId"] == "acme/churn-model"
    assert source["Configuration"]["BranchName"] == "release"


def test_the_pipeline_role_may_use_its_connection(custom_synth: Synthesized) -> None:
    """Simulated over the synthesized policies: the ML CI/CD pipeline's role may use the
    configured connection with the action of the ARN's service prefix (codeconnections), which
    IAM requires since the CodeConnections rename and CDK's source action does not grant
    (mlops_constructs.connections); no other connection."""
    from tests.iam_sim import Inventory, session_request, simulate, stacks_of_assembly

    connection = "arn:aws:codeconnections:eu-west-1:111111111111:connection/abc-123"
    stacks = stacks_of_assembly(custom_synth.outdir)
    inventory = Inventory(
        [s for s in stacks if (s.account, s.region) == (stacks[0].account, stacks[0].region)]
    )
    roles = inventory.roles()
    [role] = [r for r in roles.values() if r.name.endswith("-churn-ml-cicd")]
    other = connection.replace("abc-123", "other-1")
    requests = [
        session_request(role, inventory.account, "connection-test", action=action, resource=arn)
        for action, arn in (
            ("codeconnections:UseConnection", connection),
            ("codeconnections:UseConnection", other),
        )
    ]
    identity = {arn: list(r.policies) for arn, r in roles.items()}
    decisions = simulate(requests, identity, {}, inventory.account)
    assert [d.result for d in decisions] == ["Allowed", "ImplicitlyDenied"], decisions


def test_codebuild_tests_packages_and_starts_training(build: dict[str, Any]) -> None:
    project = _typed(build, "AWS::CodeBuild::Project")[0]
    assert project["Name"] == "mlops-dev-churn-ml-build"
    assert "EncryptionKey" in project
    assert project["Environment"]["PrivilegedMode"] is False
    spec = project["Source"]["BuildSpec"]
    assert "python -m pytest -q" in spec and "ruff check ." in spec
    assert "aws sagemaker start-pipeline-execution --pipeline-name mlops-dev-churn-training" in spec
    assert "Name=CodeVersion" in spec
    assert "aws ssm put-parameter --overwrite --name /mlops-dev-churn/ml/code-version" in spec
    logs = project["LogsConfig"]["CloudWatchLogs"]
    assert logs["Status"] == "ENABLED"
    group = next(
        g for g in _typed(build, "AWS::Logs::LogGroup") if g["LogGroupName"] == "/mlops-dev-churn/codebuild/ml"
    )  # fmt: skip
    assert group["RetentionInDays"] == 365 and "KmsKeyId" in group


# --- triggers --------------------------------------------------------------------------------------


def test_trigger_function_and_its_guard_table(build: dict[str, Any]) -> None:
    [function] = [
        f
        for f in _typed(build, "AWS::Lambda::Function")
        if f["FunctionName"] == "mlops-dev-churn-start-training"
    ]
    assert function["ReservedConcurrentExecutions"] == 1
    assert "DeadLetterConfig" in function and "KmsKeyArn" in function
    assert function["Environment"]["Variables"] == {
        "PIPELINE_NAME": "mlops-dev-churn-training",
        "LOCK_TABLE": "mlops-dev-churn-training-guard",
        "DEBOUNCE_SECONDS": "900",
        "MAX_EXECUTIONS_PER_DAY": "4",
        # Training starts from curated data that passed data quality, never from raw uploads.
        "INPUT_DATA_URI": f"s3://mlops-dev-churn-curated-{ACCOUNT}/customers/",
        "CODE_VERSION_PARAMETER": "/mlops-dev-churn/ml/code-version",
        "ETL_JOB_NAME": "mlops-dev-churn-raw-to-curated",
    }
    table = _typed(build, "AWS::DynamoDB::GlobalTable")[0]
    assert table["TableName"] == "mlops-dev-churn-training-guard"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["SSESpecification"]["SSEType"] == "KMS"
    replica = table["Replicas"][0]
    assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    statements = policy_statements(build, "mlops-dev-churn-start-training")
    starts = next(s for s in statements if "sagemaker:StartPipelineExecution" in s["Action"])
    assert (
        as_list(starts["Resource"])[0]
        == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:pipeline/mlops-dev-churn-training"
    )


def test_new_data_drift_and_manual_requests_invoke_the_trigger(build: dict[str, Any]) -> None:
    function_id = next(
        k
        for k, v in build.items()
        if v["Type"] == "AWS::Lambda::Function"
        and v["Properties"]["FunctionName"] == "mlops-dev-churn-start-training"
    )
    invoking = [
        r["EventPattern"]
        for r in _typed(build, "AWS::Events::Rule")
        if any(t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} for t in r.get("Targets", []))
    ]
    # New data: a successful ETL run (curated data that passed data quality), never raw uploads.
    assert {"source": ["aws.glue"], "detail-type": ["Glue Job State Change"], "detail": {
        "jobName": ["mlops-dev-churn-raw-to-curated"], "state": ["SUCCEEDED"],
    }} in invoking  # fmt: skip
    assert not [p for p in invoking if p["source"] == ["aws.s3"]]
    # Drift on production (endpoint or batch scoring) retrains; staging's drift only alarms.
    assert {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {
            "alarmName": [
                {"prefix": "mlops-dev-churn-prod-drift-"},
                {"prefix": "mlops-dev-churn-batch-drift-"},
            ],
            "state": {"value": ["ALARM"]},
        },
    } in invoking
    [violations] = [p for p in invoking if p["source"] == ["aws.sagemaker"]]
    assert violations["detail-type"] == ["SageMaker Processing Job State Change"]
    assert violations["detail"]["ProcessingJobStatus"] == ["Completed"]
    assert violations["detail"]["ExitMessage"] == [{"prefix": "CompletedWithViolations"}]
    schedules = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:monitoring-schedule"
    assert violations["detail"]["MonitoringScheduleArn"] == [
        {"prefix": f"{schedules}/mlops-dev-churn-prod-"},
        {"prefix": f"{schedules}/mlops-dev-churn-batch-"},
    ]
    # A manual request names the pipeline: another project's request starts nothing here.
    assert {
        "source": ["mlops.manual"],
        "detail-type": ["Retrain Requested"],
        "detail": {"pipeline": ["mlops-dev-churn-training"]},
    } in invoking
    assert len(invoking) == 4


def test_failures_and_registrations_notify_the_encrypted_topic(build: dict[str, Any]) -> None:
    topic_id = next(k for k, v in build.items() if v["Type"] == "AWS::SNS::Topic")
    assert "KmsMasterKeyId" in build[topic_id]["Properties"]
    notifying = [
        r["EventPattern"]
        for r in _typed(build, "AWS::Events::Rule")
        if any(t["Arn"] == {"Ref": topic_id} for t in r.get("Targets", []))
    ]
    detail_types = sorted(p["detail-type"][0] for p in notifying)
    assert detail_types == [
        "CodePipeline Pipeline Execution State Change",
        "SageMaker Model Building Pipeline Execution Status Change",
        "SageMaker Model Package State Change",
    ]
    failed = next(p for p in notifying if "Pipeline Execution Status" in p["detail-type"][0])
    assert failed["detail"]["currentPipelineExecutionStatus"] == ["Failed", "Stopped"]


def _other_hash_seed() -> str:
    """A PYTHONHASHSEED this process does not hash strings with: one more than its own when
    the environment sets one, else 1 (this process's seed is then random, 1 in 2**32 to be 1)."""
    import os

    own = os.environ.get("PYTHONHASHSEED", "random")
    return str((int(own) + 1) % 2**32) if own.isdigit() else "1"


def test_definition_does_not_depend_on_the_hash_seed() -> None:
    """Set iteration in the SDK must not reorder the JSON between processes (cdk diff noise):
    a definition built in a process of another hash seed is this process's, byte for byte
    (this process has the SDK imported for the session's syntheses already)."""
    import os
    import pickle
    import subprocess
    import sys

    from mlops_constructs.training.definition import _build_definition

    spec = _placeholder_spec(
        images=PipelineImages(training="t", serving="s", processing="p"),
        monitoring_baseline=False,
        debugger_rules=("loss_not_decreasing", "overfit"),
    )
    code = (
        "import pickle, sys\n"
        "from mlops_constructs.training.definition import build_definition\n"
        "sys.stdout.write(build_definition(pickle.loads(sys.stdin.buffer.read())))\n"
        # Building a definition needs the SDK, not aws-cdk-lib: no jsii start (issue 18).
        "assert 'jsii' not in sys.modules, 'the definition imported jsii'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=pickle.dumps(spec),
        # Built, not read from the synth memo (mlops_constructs/memo.py).
        env={**os.environ, "PYTHONHASHSEED": _other_hash_seed(), "MLOPS_SYNTH_CACHE": "off"},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode() == _build_definition(spec) != ""


def test_the_build_package_exports_what_it_names() -> None:
    """Its names are imported on first use: each one the package lists resolves."""
    import mlops_constructs.training as build

    assert sorted(build.__all__) == sorted(build._MODULES)
    assert all(getattr(build, name) is not None for name in build.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        build.Nothing  # noqa: B018


def test_lambda_steps_declare_exactly_their_functions_answers() -> None:
    """The Champion and Fingerprint steps' outputs are the keys their functions always answer
    (the functions cannot import the constructs, so this pins the two copies together)."""
    from mlops_constructs.training.definition import CHAMPION_OUTPUTS, FINGERPRINT_OUTPUTS
    from tests.templates import load_handler

    assert tuple(load_handler("champion").ANSWER_KEYS) == CHAMPION_OUTPUTS
    assert tuple(load_handler("fingerprint").ANSWER_KEYS) == FINGERPRINT_OUTPUTS


def test_the_fingerprint_step_sends_what_its_function_accepts() -> None:
    """The Model Monitor inputs are the function's optional fields, answered under the same
    names (the step passes "none" for a file its spec does not produce)."""
    from mlops_constructs.training.definition import FINGERPRINT_MONITOR_FILES, FINGERPRINT_OUTPUTS
    from tests.templates import load_handler

    function = load_handler("fingerprint")
    assert FINGERPRINT_MONITOR_FILES == MONITOR_FILES
    assert tuple(field for field, _ in function.MONITOR_FILES) == FINGERPRINT_MONITOR_FILES
    assert set(FINGERPRINT_MONITOR_FILES) <= set(FINGERPRINT_OUTPUTS)
    assert {"model_uri", "baseline_uri", "evaluation_uri", "execution_id"} | set(
        FINGERPRINT_MONITOR_FILES
    ) == set(function.EVENT_KEYS)


def test_the_ci_build_runs_for_a_project_without_clarify_and_keeps_the_exact_version(
    tmp_path: Path,
) -> None:
    """The buildspec's build commands in bash, ``aws`` replaced by a recorder: the code
    version is the source revision made safe (no trailing "-" from echo's newline), and a
    project without a clarify/ folder (demand) uploads none instead of failing."""
    import subprocess

    from mlops_constructs.training.cicd import buildspec

    spec = buildspec(
        ml_dir=".", pipeline_name="p", code_root="s3://b/code", code_version_parameter="/v"
    )
    commands = spec["phases"]["build"]["commands"]  # type: ignore[index]
    shipping = [c for c in commands if "pytest" not in c and "ruff" not in c]
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "train.py").write_text("print('train')\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(f'#!/bin/bash\necho "$@" >> {tmp_path}/aws.log\n')
    (bin_dir / "aws").chmod(0o755)
    script = "set -e\n" + "\n".join(shipping) + '\necho "VERSION=$CODE_VERSION"\n'
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=project,
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "CODEBUILD_RESOLVED_SOURCE_VERSION": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
            "CODEBUILD_BUILD_NUMBER": "7",
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "VERSION=3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY\n" in result.stdout
    calls = (tmp_path / "aws.log").read_text()
    assert "clarify" not in calls and "/3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY/src/" in calls
