"""Builds the CDK app from a validated configuration (used by app.py and the tests)."""

from __future__ import annotations

import aws_cdk as cdk

from mlops_constructs.security.nag import apply_acknowledgements
from stacks.config import PlatformConfig
from stacks.context import landing_zone_context, project_context
from stacks.delivery_stack import DeliveryStack
from stacks.guardrails import add_rule_packs
from stacks.stage import PlatformStage, ToolingStage

__all__ = ["build_app", "project_context"]


def build_app(
    config: PlatformConfig, app: cdk.App | None = None, *, rule_packs: bool = True
) -> tuple[cdk.App, dict[str, PlatformStage]]:
    """One PlatformStage per configured environment, under ``app``.

    Without ``app``, a new App with cdk.json's feature flags is created (the CDK CLI passes
    them itself). The rule packs are registered once, on the app: cdk-nag 3 packs check every
    stage of the app they run in.
    """
    app = app or cdk.App(context=project_context())
    # Before any stage exists: the context reaches every stack and stage of the app.
    for key, value in landing_zone_context(config.iam.permissions_boundary).items():
        app.node.set_context(key, value)
    # With a delivery topology, the tooling account's pipeline deploys the stages (issue 15).
    delivery = (
        DeliveryStack(app, "Delivery", stack_name=f"{config.platform_name}-delivery", config=config)
        if config.delivery is not None
        else None
    )
    stages = {
        env.name: PlatformStage(app, env.name, config=config, environment=env)
        for env in config.environments
    }
    if delivery is not None:
        tooling = ToolingStage(app, "Tooling", config=config, stages=stages)
        delivery.deliver(dict(stages), tooling)
    if rule_packs:
        add_rule_packs(app, vpc_mode=config.network.vpc_mode)
    # Made here, not while aws-cdk-lib validates the app: the metadata's stack trace of each
    # acknowledgement would name jsii's temporary folder (a random name) instead of nothing.
    apply_acknowledgements()
    return app, stages
