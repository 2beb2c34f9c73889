"""Where the runbook of each alarm is: ``docs/runbooks.md``, one section per alarm kind.

Every alarm the platform creates (in its stacks and in the endpoint and monitor templates the
deploy and release pipelines deploy) ends its ``AlarmDescription`` with
``Runbook: docs/runbooks.md#<anchor>`` (:func:`alarm_description`), so whoever is paged reads,
in the notification itself, what the alarm means and where its runbook is. The anchors are the
GitHub anchors of the runbook's ``##`` headings; ``tests/test_runbooks.py`` checks that every
alarm's anchor is a heading there and that every section there is some alarm's.

No aws_cdk import: tools and tests read the anchors without synthesis.
"""

from __future__ import annotations

from enum import StrEnum

RUNBOOKS = "docs/runbooks.md"
# CloudWatch's limit on AlarmDescription.
DESCRIPTION_LIMIT = 1024
# The stages whose drift alarms start the project's retraining (the training trigger's
# retrain targets, ``<prefix>-prod`` and ``<prefix>-batch``; in a delivered platform through the
# production account's drift forwarder). Staging's drift alarms only notify.
RETRAINING_STAGES = ("prod", "batch")


class Runbook(StrEnum):
    """The sections of ``docs/runbooks.md``: one per kind of alarm (value: the anchor)."""

    ETL_FAILED = "etl-failed"
    TRAINING_FAILED = "training-failed"
    CICD_FAILED = "cicd-failed"
    DEPLOY_FAILED = "deploy-failed"
    TRAINING_DEAD_LETTERS = "start-training-dlq-not-empty"
    DEPLOY_DEAD_LETTERS = "deploy-dlq-not-empty"
    RELEASE_DEAD_LETTERS = "release-dlq-not-empty"
    DATA_DRIFT = "data-drift"
    MODEL_QUALITY_DRIFT = "model-quality-drift"
    ATTRIBUTION_DRIFT = "feature-attribution-drift"
    ENDPOINT_5XX = "endpoint-5xx-errors"
    ENDPOINT_LATENCY = "endpoint-p99-latency"
    ENDPOINT_NO_CAPACITY = "endpoint-scaled-to-zero"
    ENDPOINT_4XX = "endpoint-4xx-errors"
    ENDPOINT_CPU = "endpoint-cpu"
    ENDPOINT_MEMORY = "endpoint-memory"
    ENDPOINT_DISK = "endpoint-disk"


def runbook_link(runbook: Runbook) -> str:
    """``docs/runbooks.md#<anchor>``: the section of ``runbook``."""
    return f"{RUNBOOKS}#{runbook.value}"


def alarm_description(meaning: str, runbook: Runbook) -> str:
    """An alarm's description: ``meaning`` (one or two sentences: what the alarm means and what
    it does by itself), then ``Runbook: docs/runbooks.md#<anchor>``."""
    meaning = meaning.strip()
    if not meaning.endswith("."):
        meaning += "."
    text = f"{meaning} Runbook: {runbook_link(runbook)}"
    if len(text) > DESCRIPTION_LIMIT:
        raise ValueError(
            f"alarm description of {len(text)} characters; CloudWatch allows "
            f"{DESCRIPTION_LIMIT}: {text[:80]}..."
        )
    return text


def retrains_on_drift(target_name: str) -> bool:
    """Whether the drift alarms of ``target_name`` (``<prefix>-<stage>``) start retraining."""
    return target_name.rsplit("-", 1)[-1] in RETRAINING_STAGES


def drift_consequence(target_name: str) -> str:
    """What a drift alarm of ``target_name`` does by itself, as a sentence."""
    if retrains_on_drift(target_name):
        return "Entering ALARM starts the project's guarded retraining."
    return "Staging drift only notifies; nothing retrains."
