"""Keep the model card of every version of the project's model package group up to date.

EventBridge delivers the group's "SageMaker Model Package State Change" events. The card is the
model package's own (``ModelCard`` of UpdateModelPackage, the "model package model card": a model
card tied to the version, without ``model_package_details`` and with ``model_overview`` limited
to ``model_creator`` and ``model_artifact``). What the card says is decided from the version's
CURRENT state (DescribeModelPackage), never from the event alone, so late, reordered and replayed
events all converge on the same card:

1. validation: a malformed event, another source or detail-type is logged and answered with
   ``{"status": "rejected"}``; another group's version is ``ignored`` (never raised: no retry);
2. DescribeModelPackage of the version (of MODEL_PACKAGE_GROUP, checked again; a version whose
   ModelPackageStatus is not ``Completed`` is ``ignored``: a later event writes its card);
3. the card it should have:

   - ``PendingManualApproval``: status ``PendingReview``, with the intended use, risk rating and
     creator from the configuration (INTENDED_USE, RISK_RATING, MODEL_CREATOR), the model
     artifact, and the lineage the version carries in its customer metadata (code version,
     dataset manifest, input data, pipeline execution, trigger, fingerprints), the evaluation
     report (ModelMetrics) and the gates' figures (gate metric, champion verdict and value);
   - ``Approved`` and the group's newest approved version (ListModelPackages by CreationTime):
     status ``Approved``, adding who approved it (``LastModifiedBy.IamIdentity.Arn``, else a
     Studio user profile), when (``LastModifiedTime``) and the approval description; then every
     older approved version's card is archived (``superseded_by`` this version);
   - ``Approved`` but not the newest approved version: status ``Archived``, superseded;
   - ``Rejected``: status ``Archived``, adding who rejected it, when and why (an approval the
     card recorded before stays on it);

   who approved or rejected and when are read from the registry once, then kept from the card
   (after this function's own write the registry's LastModifiedBy names the function; a version
   set back to pending loses them with its pending card). An
   ``Archived`` card is final (SageMaker refuses any later change of its content): nothing is
   written, whatever the version's state (``unchanged``);
4. a write only when the content (compared as JSON) or the status differs from the card's: a
   replayed event, and the state change this function's own write causes, write nothing. As the
   SageMaker SDK does, a new card is written in one call, an existing card's content and status
   in two (content first: an archived card's content cannot change afterwards), so a retry
   after a partial write completes it.

The content has no clock time of its own (only the registry's), so the same state gives the same
card. It never raises for a bad event (so neither Lambda nor EventBridge retries it); an AWS error
is logged and re-raised so that Lambda retries the event, then puts it in the dead-letter queue.
Standard library and boto3 only: packaged with a plain ``Code.from_asset``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from platform_logging import InvocationLog, structured_logger
from platform_release import ModelPackageChange as StateChange
from platform_release import accepted_change
from platform_release import approved_versions as _approved_versions
from platform_runtime import (
    Clients,
    ConfigError,
    group_setting,
    optional_setting,
    refuse_bad_config,
    report_bad_config_at_cold_start,
)

PENDING: Final = "PendingManualApproval"
APPROVED: Final = "Approved"
REJECTED: Final = "Rejected"
COMPLETED: Final = "Completed"

# ModelCardStatus values (ModelPackageModelCard)
CARD_PENDING_REVIEW: Final = "PendingReview"
CARD_APPROVED: Final = "Approved"
CARD_ARCHIVED: Final = "Archived"

# RISK_RATING settings and the card's values (intended_uses.risk_rating)
RISK_RATINGS: Final = {"low": "Low", "medium": "Medium", "high": "High", "unknown": "Unknown"}
DEFAULT_RISK_RATING: Final = "unknown"

# The card schema's limits (the model card JSON schema; AWS::SageMaker::ModelCard has the same)
INTENDED_USE_MAX: Final = 2048  # intended_uses.intended_uses
CREATOR_MAX: Final = 1024  # model_overview.model_creator
TEXT_MAX: Final = 1024  # training_observations, custom_details and metadata values
OBSERVATION_MAX: Final = 2096  # evaluation_details[].evaluation_observation
URIS_MAX: Final = 15  # model_artifact and training_datasets items
METRIC_STRING_MAX: Final = 63  # a string metric value
QUALITY_GATE_MAX: Final = 256
ROLE_NAME_MAX: Final = 64
EVALUATION_NAME: Final = "Quality gate and champion gate"  # at most 63 characters
PAGE_SIZE: Final = 100

# The version's customer metadata (the training pipeline's Register step) shown on the card, as
# custom details: property -> detail key. The gate's figures are the evaluation's.
LINEAGE: Final = (
    ("CodeVersion", "code_version"),
    ("DatasetManifest", "dataset_manifest"),
    ("InputDataUrl", "input_data_url"),
    ("PipelineExecutionArn", "pipeline_execution_arn"),
    ("TriggerReason", "trigger_reason"),
    ("MonitoringBaseline", "monitoring_baseline"),
    ("ModelArtifactSha256", "model_artifact_sha256"),
    ("ModelArtifactVersion", "model_artifact_version"),
    ("MonitoringBaselineSha256", "monitoring_baseline_sha256"),
    ("MonitoringBaselineVersion", "monitoring_baseline_version"),
    ("EvaluationReportSha256", "evaluation_report_sha256"),
    ("EvaluationReportVersion", "evaluation_report_version"),
)
# What a verdict of the champion gate (lambda/champion) means, for the card.
VERDICTS: Final = {
    "first": "the group's first version (no approved champion to compare with)",
    "better": "better than the approved champion",
    "equal": "equal to the approved champion",
    "within_margin": "worse than the approved champion by no more than the margin",
    "no_champion_metric": "the approved champion has no gate metric to compare with",
}
# How the card records the decisions on the version (custom details), each written once.
APPROVAL_FACTS: Final = (
    "approved_by",
    "approved_by_source_identity",
    "approved_at",
    "approval_description",
)
REJECTION_FACTS: Final = (
    "rejected_by",
    "rejected_by_source_identity",
    "rejected_at",
    "rejection_reason",
)
UNKNOWN: Final = "unknown"

_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("model_card")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (group, arn, ...)."""

    logger = LOGGER


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class Config:
    model_package_group: str
    intended_use: str
    model_creator: str
    risk_rating: str  # the card's value: Low, Medium, High or Unknown
    # the quality gate as configured, e.g. "auc >= 0.75" (informational; "" when not set)
    quality_gate: str = ""
    # this function's own role name: LastModifiedBy naming it is not an approver
    writer_role_name: str = ""


def _text_setting(
    env: Mapping[str, str], name: str, meaning: str, limit: int, problems: list[str]
) -> str:
    value = env.get(name, "")
    if not value.strip():
        problems.append(f"{name} is not set ({meaning})")
    elif len(value) > limit:
        problems.append(f"{name} is longer than {limit} characters (the model card's limit)")
    elif _CONTROL.search(value):
        problems.append(f"{name} holds control characters")
    return value


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    problems: list[str] = []
    group = group_setting(
        env, "MODEL_PACKAGE_GROUP", "the model package group of the cards", problems
    )
    intended_use = _text_setting(
        env,
        "INTENDED_USE",
        "what the model is for, shown on every card",
        INTENDED_USE_MAX,
        problems,
    )
    creator = _text_setting(
        env, "MODEL_CREATOR", "who builds the model, shown on every card", CREATOR_MAX, problems
    )
    rating = env.get("RISK_RATING") or DEFAULT_RISK_RATING  # empty means unset
    if rating not in RISK_RATINGS:
        problems.append(f"RISK_RATING={rating!r} is not one of {', '.join(RISK_RATINGS)}")
    gate = env.get("QUALITY_GATE", "")
    if len(gate) > QUALITY_GATE_MAX:
        problems.append(f"QUALITY_GATE is longer than {QUALITY_GATE_MAX} characters")
    role = optional_setting(env, "WRITER_ROLE_NAME", _ROLE_NAME, "an IAM role name", problems)
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(group, intended_use, creator, RISK_RATINGS[rating], gate, role or "")


# --------------------------------------------------------------------------------------------
# Events: the registry's state changes, read and filtered by the shared layer (platform_release's
# accepted_change, as the deploy router reads them).


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests set the environment first)

_client: Final = Clients()


# --------------------------------------------------------------------------------------------
# The card


@dataclass(frozen=True)
class Card:
    """A model package's card: its content (parsed JSON, None without a card) and status."""

    content: dict[str, Any] | None
    status: str | None

    @classmethod
    def of(cls, described: Mapping[str, Any]) -> Card:
        card = described.get("ModelCard")
        if not isinstance(card, dict):
            return cls(None, None)
        status = card.get("ModelCardStatus")
        raw = card.get("ModelCardContent")
        try:
            content = json.loads(raw) if isinstance(raw, str) and raw.strip() else None
        except ValueError:
            content = None  # not JSON: replaced by the platform's card
        return cls(
            content if isinstance(content, dict) else None,
            status if isinstance(status, str) else None,
        )

    def details(self) -> dict[str, Any]:
        """The card's custom details ({} when it has none)."""
        info = (self.content or {}).get("additional_information")
        details = info.get("custom_details") if isinstance(info, dict) else None
        return details if isinstance(details, dict) else {}


def _clip(value: str, limit: int = TEXT_MAX) -> str:
    """``value`` within ``limit`` characters (cut with an ellipsis)."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _iso(value: object) -> str:
    """A registry timestamp as ISO 8601 UTC (``unknown`` when absent)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return UNKNOWN


def _number(value: object) -> float | None:
    """A finite number from a metadata string (the champion gate records them as text)."""
    if not isinstance(value, str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _metric(name: str, value: object) -> dict[str, Any] | None:
    number = _number(value)
    if number is not None:
        return {"name": name, "type": "number", "value": number}
    if isinstance(value, str) and value and value != "none":
        return {"name": name, "type": "string", "value": _clip(value, METRIC_STRING_MAX)}
    return None


def _uris(values: Iterator[object]) -> list[str]:
    """Distinct non-empty strings, in order, each within the schema's limits."""
    seen: list[str] = []
    for value in values:
        if isinstance(value, str) and value and value not in seen:
            seen.append(_clip(value))
    return seen[:URIS_MAX]


def _model_artifacts(described: Mapping[str, Any]) -> list[str]:
    spec = described.get("InferenceSpecification")
    containers = spec.get("Containers") if isinstance(spec, dict) else None
    if not isinstance(containers, list):
        return []
    return _uris(c.get("ModelDataUrl") for c in containers if isinstance(c, dict))


def _evaluation_report(described: Mapping[str, Any]) -> str | None:
    """ModelMetrics.ModelQuality.Statistics.S3Uri: the sealed evaluation report."""
    node: Any = described.get("ModelMetrics")
    for key in ("ModelQuality", "Statistics", "S3Uri"):
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, str) and node else None


def _identity(described: Mapping[str, Any], config: Config) -> tuple[str, str | None]:
    """Who last changed the version (LastModifiedBy): an IAM identity's ARN (and the source
    identity it carried), else a Studio user profile; ``unknown`` when it is absent or is this
    function itself (its own write came first)."""
    who = described.get("LastModifiedBy")
    if not isinstance(who, dict):
        return UNKNOWN, None
    iam = who.get("IamIdentity")
    if isinstance(iam, dict) and isinstance(iam.get("Arn"), str) and iam["Arn"]:
        arn: str = iam["Arn"]
        if config.writer_role_name and (
            f":assumed-role/{config.writer_role_name}/" in arn
            or arn.endswith(f":role/{config.writer_role_name}")
        ):
            return UNKNOWN, None
        source = iam.get("SourceIdentity")
        return _clip(arn), _clip(source) if isinstance(source, str) and source else None
    profile = who.get("UserProfileName")
    if isinstance(profile, str) and profile:
        domain = who.get("DomainId")
        shown = f"{domain}/{profile}" if isinstance(domain, str) and domain else profile
        return _clip(f"SageMaker Studio user profile {shown}"), None
    return UNKNOWN, None


def _decision(
    described: Mapping[str, Any], config: Config, keys: tuple[str, ...]
) -> dict[str, str]:
    """Who made the version's current approval decision, when and why (``keys``: the detail
    names of APPROVAL_FACTS or REJECTION_FACTS)."""
    by, source = _identity(described, config)
    why = described.get("ApprovalDescription")
    facts = {
        keys[0]: by,
        keys[1]: source,
        keys[2]: _iso(described.get("LastModifiedTime")),
        keys[3]: _clip(why) if isinstance(why, str) and why else None,
    }
    return {k: v for k, v in facts.items() if v is not None}


def _recorded(card: Card, keys: tuple[str, ...]) -> dict[str, str]:
    details = card.details()
    return {k: details[k] for k in keys if isinstance(details.get(k), str)}


def _evaluation(metadata: Mapping[str, Any], report: str | None, config: Config) -> dict[str, Any]:
    metric = metadata.get("GateMetric")
    metric = metric if isinstance(metric, str) and metric else "gate metric"
    verdict = metadata.get("ChampionVerdict")
    champion_value = metadata.get("ChampionValue")
    margin = metadata.get("ChampionMargin")
    gate = f" ({config.quality_gate})" if config.quality_gate else ""
    observation = f"Registered by the training pipeline: it passed the quality gate{gate}"
    if isinstance(verdict, str) and verdict in VERDICTS:
        observation += f" and the champion gate, {VERDICTS[verdict]}"
        if verdict not in ("first", "no_champion_metric") and isinstance(champion_value, str):
            observation += f" ({metric} {champion_value}"
            observation += f", margin {margin})" if isinstance(margin, str) else ")"
    observation += "."
    evaluation: dict[str, Any] = {"name": EVALUATION_NAME, "evaluation_observation": observation}
    facts = {
        "gate_metric": metric,
        "quality_gate": config.quality_gate or None,
        "champion_verdict": verdict,
        "champion_value": champion_value,
        "champion_margin": margin,
        "champion_model_package_arn": metadata.get("ChampionModelPackageArn"),
        "evaluation_report": report,
        "evaluation_report_sha256": metadata.get("EvaluationReportSha256"),
    }
    evaluation["metadata"] = {
        k: _clip(v) for k, v in facts.items() if isinstance(v, str) and v and v != "none"
    }
    metrics = [
        m
        for m in (
            _metric(metric, metadata.get("GateMetricValue")),
            _metric(f"champion {metric}", champion_value),
        )
        if m is not None
    ]
    if metrics:
        evaluation["metric_groups"] = [{"name": "gates", "metric_data": metrics}]
    if report:
        evaluation["datasets"] = [_clip(report)]
    return evaluation


def card_content(
    described: Mapping[str, Any], config: Config, decisions: Mapping[str, str]
) -> dict[str, Any]:
    """The card's content for the described version: the configuration's intended use, its
    lineage and gates, and ``decisions`` (approval, rejection, supersession) as custom
    details. Only fields of the model package model card schema."""
    raw = described.get("CustomerMetadataProperties")
    metadata: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    overview: dict[str, Any] = {"model_creator": _clip(config.model_creator, CREATOR_MAX)}
    artifacts = _model_artifacts(described)
    if artifacts:
        overview["model_artifact"] = artifacts
    content: dict[str, Any] = {
        "model_overview": overview,
        "intended_uses": {
            "intended_uses": config.intended_use,
            "risk_rating": config.risk_rating,
        },
    }
    execution = metadata.get("PipelineExecutionArn")
    trigger = metadata.get("TriggerReason")
    code = metadata.get("CodeVersion")
    observation = "Trained by the project's training pipeline"
    if isinstance(execution, str) and execution:
        observation += f", execution {execution}"
    if isinstance(trigger, str) and trigger:
        observation += f" (trigger: {trigger})"
    if isinstance(code, str) and code:
        observation += f", code version {code}"
    training: dict[str, Any] = {"training_observations": _clip(observation + ".")}
    datasets = _uris(metadata.get(k) for k in ("InputDataUrl", "DatasetManifest"))
    if datasets:
        training["training_job_details"] = {"training_datasets": datasets}
    content["training_details"] = training
    report = _evaluation_report(described)
    content["evaluation_details"] = [_evaluation(metadata, report, config)]
    details: dict[str, str] = {"model_package_arn": _clip(str(described["ModelPackageArn"]))}
    version = described.get("ModelPackageVersion")
    if isinstance(version, int) and not isinstance(version, bool):
        details["model_package_version"] = str(version)
    details["registered_at"] = _iso(described.get("CreationTime"))
    for key, detail in LINEAGE:
        value = metadata.get(key)
        if isinstance(value, str) and value and value != "none":
            details[detail] = _clip(value)
    details.update(decisions)
    content["additional_information"] = {"custom_details": details}
    return content


@dataclass(frozen=True)
class Target:
    """The card a version should have."""

    content: dict[str, Any]
    status: str
    reason: str


def target_card(
    described: Mapping[str, Any], card: Card, config: Config, newest_approved: str | None
) -> Target:
    """The card of the described version in its current state (``newest_approved``: the ARN of
    the group's newest approved version, read when the version is approved)."""
    status = described.get("ModelApprovalStatus")
    arn = described["ModelPackageArn"]
    decisions: dict[str, str] = {}
    if status in (APPROVED, REJECTED):
        # A decision is read from the registry once, then kept from the card: after this
        # function's own write, LastModifiedBy names the function, not the person.
        decisions.update(
            _recorded(card, APPROVAL_FACTS)
            or (_decision(described, config, APPROVAL_FACTS) if status == APPROVED else {})
        )
    if status == REJECTED:
        decisions.update(
            _recorded(card, REJECTION_FACTS) or _decision(described, config, REJECTION_FACTS)
        )
        content = card_content(described, config, decisions)
        return Target(content, CARD_ARCHIVED, "rejected")
    if status == APPROVED:
        if newest_approved is None or newest_approved == arn:
            return Target(card_content(described, config, decisions), CARD_APPROVED, "approved")
        decisions["superseded_by"] = _clip(newest_approved)
        return Target(card_content(described, config, decisions), CARD_ARCHIVED, "superseded")
    return Target(card_content(described, config, {}), CARD_PENDING_REVIEW, "pending approval")


def _write(arn: str, card: Card, target: Target, log: _Log) -> bool:
    """Writes ``target`` where it differs from ``card``; whether anything was written."""
    if card.status == CARD_ARCHIVED:
        log.log(
            logging.INFO,
            "the card is archived (final): nothing to write",
            status="unchanged",
            card_status=CARD_ARCHIVED,
            reason="archived",
            target_arn=arn,
        )
        return False
    content = json.dumps(target.content, sort_keys=True, separators=(",", ":"))
    requests: list[dict[str, str]] = []
    if card.status is None:
        requests.append({"ModelCardContent": content, "ModelCardStatus": target.status})
    else:
        if card.content != target.content:
            requests.append({"ModelCardContent": content})
        if card.status != target.status:
            requests.append({"ModelCardStatus": target.status})
    for model_card in requests:
        # ModelCard only: never the approval status, the customer metadata or the life cycle
        # (IAM refuses this function any of them)
        _client("sagemaker").update_model_package(ModelPackageArn=arn, ModelCard=model_card)
    log.log(
        logging.INFO,
        "model card written" if requests else "model card already up to date",
        status="written" if requests else "unchanged",
        target_arn=arn,
        card_status=target.status,
        previous_card_status=card.status,
        reason=target.reason,
        updates=len(requests),
    )
    return bool(requests)


def approved_versions(group: str) -> list[str]:
    """The ARNs of the group's approved versions, newest (by creation time) first."""
    return list(_approved_versions(_client("sagemaker"), group, PAGE_SIZE))


def _describe(arn: str) -> dict[str, Any]:
    described: dict[str, Any] = _client("sagemaker").describe_model_package(ModelPackageName=arn)
    return described


def _update(config: Config, change: StateChange, log: _Log) -> dict[str, Any]:
    described = _describe(change.arn)
    group = described.get("ModelPackageGroupName")
    if group != config.model_package_group:
        reason = f"the registry names the version's group {group!r}, not the configured one"
        log.log(logging.ERROR, "ignored", status="ignored", reason=reason)
        return {"status": "ignored", "reason": reason, "model_package_arn": change.arn}
    package_status = described.get("ModelPackageStatus")
    if package_status != COMPLETED:
        reason = f"model package status is {package_status!r}: a card is written once Completed"
        log.log(logging.INFO, "ignored", status="ignored", reason=reason)
        return {"status": "ignored", "reason": reason, "model_package_arn": change.arn}
    status = described.get("ModelApprovalStatus")
    log.bind(current_approval_status=status)
    approved = approved_versions(config.model_package_group) if status == APPROVED else []
    newest = approved[0] if approved else None
    card = Card.of(described)
    target = target_card(described, card, config, newest)
    written = [change.arn] if _write(change.arn, card, target, log) else []
    archived: list[str] = []
    if status == APPROVED and newest == change.arn:
        # every older approved version is superseded by this one
        for older in approved[1:]:
            old = _describe(older)
            old_card = Card.of(old)
            if old_card.status == CARD_ARCHIVED:
                continue
            old_target = target_card(old, old_card, config, change.arn)
            if _write(older, old_card, old_target, log):
                archived.append(older)
    outcome = "written" if written or archived else "unchanged"
    answer: dict[str, Any] = {
        "status": outcome,
        "model_package_arn": change.arn,
        "card_status": CARD_ARCHIVED if card.status == CARD_ARCHIVED else target.status,
    }
    if archived:
        answer["archived"] = archived
    log.log(
        logging.INFO,
        "done",
        status=outcome,
        archived=archived or None,
        card_status=answer["card_status"],
    )
    return answer


# --------------------------------------------------------------------------------------------
# Entry point


def handler(event: object, context: object = None) -> dict[str, Any]:
    """Lambda entry point: returns the outcome; raises only on an AWS error worth retrying."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        return refuse_bad_config(exc, log, "no card written")
    log.bind(model_package_group=config.model_package_group)
    event_id = event.get("id") if isinstance(event, dict) else None
    log.bind(event_id=event_id if isinstance(event_id, str) else None)

    change = accepted_change(event, config.model_package_group, log)
    if isinstance(change, dict):
        return change

    try:
        return _update(config, change, log)
    except Exception as exc:
        log.aws_failure(exc, "re-raising for a retry")
        raise


# In Lambda: report a bad deployment once, at init.
report_bad_config_at_cold_start(load_config, _Log())
