"""Model cards: the SageMaker model card of every version of a project's registry (ADR 0020)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs.compute import platform_function
from mlops_constructs.functions import function_code
from mlops_constructs.names import MODEL_CARD, function_name
from mlops_constructs.network.placement import Placement
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import acknowledge_wildcard_resource
from mlops_constructs.training.registry import ModelRegistry

# The card's risk ratings, as configured and as the card spells them.
RISK_RATINGS = ("low", "medium", "high", "unknown")


class ModelCards(Construct):
    """The Lambda ``<prefix>-model-card`` (``lambda/model_card``) and the rule that invokes it
    on every "SageMaker Model Package State Change" of ``registry``.

    Each version's own model card (the model package's ``ModelCard``) is written when it is
    registered (status PendingReview: ``intended_use``, ``risk_rating`` and ``owner``, and the
    lineage, evaluation report and gate figures the version carries), completed with the
    approver, date and approval description when it is approved (status Approved), and
    archived when a newer version is approved or it is rejected. The function may read the
    group's versions and update them only without an approval status, without setting or
    removing metadata (``recorded_metadata`` by name, any removal) and without a life-cycle
    stage (:meth:`ModelRegistry.grant_write_cards`): IAM refuses it any approval. Defaults:
    reserved concurrency 1 (one card write at a time), two retries, then ``dead_letters``; logs
    encrypted with ``ops_key`` and kept ``log_retention``; in the VPC with ``placement``; the
    library's own function unless ``code`` names another folder.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        registry: ModelRegistry,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        dead_letters: sqs.IQueue,
        intended_use: str,
        owner: str,
        risk_rating: str = "unknown",
        quality_gate: str = "",
        recorded_metadata: Sequence[str] = (),
        placement: Placement | None = None,
        code: Path | None = None,
    ) -> None:
        super().__init__(scope, id)
        if risk_rating not in RISK_RATINGS:
            raise ValueError(f"risk_rating {risk_rating!r} is not one of {RISK_RATINGS}")
        self.function_name = function_name(prefix, MODEL_CARD)
        self.function: lambda_.Function = platform_function(
            self,
            "Function",
            name=self.function_name,
            code=code or function_code("model_card"),
            description="Writes the model card of each model version: registered, approved, "
            "superseded or rejected",
            ops_key=ops_key,
            log_retention=log_retention,
            dead_letter_queue=dead_letters,
            environment=self._environment(registry, intended_use, owner, risk_rating, quality_gate),
            placement=placement,
        )
        self._grant_write_cards(registry, recorded_metadata)
        self.rule = self._rule(registry, dead_letters)

    def _environment(
        self,
        registry: ModelRegistry,
        intended_use: str,
        owner: str,
        risk_rating: str,
        quality_gate: str,
    ) -> dict[str, str]:
        """The function's environment: the group, the card's configured fields, and the name
        of its own role."""
        return {
            "MODEL_PACKAGE_GROUP": registry.name,
            "INTENDED_USE": intended_use,
            "MODEL_CREATOR": owner,
            "RISK_RATING": risk_rating,
            "QUALITY_GATE": quality_gate,
            # platform_function names the role after the function: its own writes are
            # never taken for an approver's
            "WRITER_ROLE_NAME": self.function_name,
        }

    def _grant_write_cards(self, registry: ModelRegistry, recorded_metadata: Sequence[str]) -> None:
        """The function may write the model cards of ``registry``'s versions (and nothing
        else of them), with the cdk-nag finding this leaves acknowledged."""
        registry.grant_write_cards(self.function, recorded_metadata=recorded_metadata)
        role = self.function.role
        assert role is not None
        acknowledge_wildcard_resource(
            role,
            registry.packages_arn,
            "Model versions are numbered by SageMaker; the function reads the versions of this "
            "project's group and may change only their model cards (IAM conditions).",
        )

    def _rule(self, registry: ModelRegistry, dead_letters: sqs.IQueue) -> events.Rule:
        """Every state change of a version of ``registry`` invokes the function (two retries,
        then ``dead_letters``)."""
        return events.Rule(
            self,
            "StateChange",
            description=f"A version of {registry.name} was registered, approved or rejected: "
            "its model card follows",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [registry.name]},
            ),
            targets=[
                targets.LambdaFunction(
                    self.function, dead_letter_queue=dead_letters, retry_attempts=2
                )
            ],
        )
