"""What Model Monitor checks on an endpoint, how often, and the names everything gets."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

MONITOR_TYPES = ("data_quality", "model_quality", "bias", "explainability")

# CloudFormation's MonitoringType value of each monitor.
MONITORING_TYPE = {
    "data_quality": "DataQuality",
    "model_quality": "ModelQuality",
    "bias": "ModelBias",
    "explainability": "ModelExplainability",
}
# Short names keep job definition names (63 characters at most) readable.
# Model Monitor's model-quality problem types.
PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")
SHORT = {"data_quality": "dq", "model_quality": "mq", "bias": "bias", "explainability": "xai"}

# Model Monitor accepts only hourly and daily schedules for these monitors.
SCHEDULES = {"hourly": "cron(0 * ? * * *)", "daily": "cron(0 0 ? * * *)"}
WINDOW_HOURS = {"hourly": 1, "daily": 24}

# The baselines a model version carries (DriftCheckBaselines), as template parameters and
# deploy-pipeline variables. "none" stands for a baseline the version does not carry.
BASELINE_PARAMETERS = (
    "DataQualityStatistics",
    "DataQualityConstraints",
    "ModelQualityConstraints",
    "BiasConfig",
    "BiasConstraints",
    "ExplainabilityConfig",
    "ExplainabilityConstraints",
)
NONE = "none"
# What each monitor reads from the version, and whether it needs ground truth.
BASELINES_OF = {
    "data_quality": ("DataQualityStatistics", "DataQualityConstraints"),
    "model_quality": ("ModelQualityConstraints",),
    "bias": ("BiasConfig", "BiasConstraints"),
    "explainability": ("ExplainabilityConfig", "ExplainabilityConstraints"),
}
LABELLED = ("model_quality", "bias")
# Without it a monitor is not created. Model quality runs on ground truth alone (its
# constraints are used when the version carries them).
REQUIRED_BASELINE: dict[str, str | None] = {
    "data_quality": "DataQualityConstraints",
    "model_quality": None,
    "bias": "BiasConfig",
    "explainability": "ExplainabilityConfig",
}


@dataclass(frozen=True, kw_only=True)
class MonitorSettings:
    """Model Monitor on a real-time endpoint.

    Defaults: all four monitors, once a day on one ``ml.m5.large`` (a run that finds nothing to
    analyse costs a few minutes of it), ground truth labels expected within 24 hours, a
    data-drift alarm when any watched feature's baseline distance exceeds 0.1 and a
    model-quality alarm when the AUC on labelled traffic falls below 0.75 (``quality_*``). The attributes are
    JMESPath expressions into the model's JSON response, one record per request.
    """

    types: tuple[str, ...] = MONITOR_TYPES
    frequency: str = "daily"
    instance_type: str = "ml.m5.large"
    volume_gb: int = 20
    max_runtime_minutes: int = 60
    ground_truth_delay_hours: int = 24
    drift_threshold: float = 0.1
    # Model quality: Model Monitor's problem type, and the metric the alarm reads (a metric of
    # that problem type), its threshold and direction.
    problem_type: str = "BinaryClassification"
    quality_metric: str = "auc"
    quality_threshold: float = 0.75
    quality_higher_is_better: bool = True
    features: tuple[str, ...] = (
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "support_calls",
        "contract_type",
    )
    inference_attribute: str = "predictions[0].churned"
    probability_attribute: str | None = "predictions[0].churn_probability"
    probability_threshold: float = 0.5

    def __post_init__(self) -> None:
        unknown = sorted(set(self.types) - set(MONITOR_TYPES))
        if unknown:
            raise ValueError(f"unknown monitor types {unknown}; use some of {MONITOR_TYPES}")
        if self.frequency not in SCHEDULES:
            raise ValueError(f"frequency {self.frequency!r}: use one of {sorted(SCHEDULES)}")
        if self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type {self.problem_type!r}: use one of {PROBLEM_TYPES}")
        if not 0 < len(self.features) <= 9:
            # A metric-math alarm reads at most 10 metrics; one is the expression.
            raise ValueError("features: watch between 1 and 9 features")

    def monitors(self, *, batch: bool) -> tuple[str, ...]:
        """The monitor types a target gets: batch targets have no explainability monitor
        (Clarify would need a model to explain batch data with, and batch scoring picks its
        model per run)."""
        return tuple(t for t in self.types if not (batch and t == "explainability"))

    def parameters(self, *, batch: bool) -> list[str]:
        """The template parameters the monitors of a target read, in a stable order."""
        monitors = self.monitors(batch=batch)
        names = ["MonitorRoleArn", "MonitorOutputUri"]
        if any(m in LABELLED for m in monitors):
            names.append("GroundTruthUri")
        return names + [b for m in monitors for b in BASELINES_OF[m]]

    @property
    def schedule_expression(self) -> str:
        return SCHEDULES[self.frequency]

    def offsets(self) -> tuple[str, str]:
        """Start and end offsets of the captured data a labelled monitor analyses.

        Each run looks at the last window (an hour or a day) that ended
        ``ground_truth_delay_hours`` ago, so the labels for it have arrived.
        """
        end = self.ground_truth_delay_hours
        start = end + WINDOW_HOURS[self.frequency]
        return f"-PT{start}H", (f"-PT{end}H" if end else "-PT0H")

    def digest(self) -> str:
        """Six hex digits of the settings: part of job definition names (see names())."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:6]


def schedule_name(endpoint_name: str, monitor: str) -> str:
    """``<endpoint>-<short type>``: stable, so alarms and dashboards can name it."""
    return f"{endpoint_name}-{SHORT[monitor]}"
