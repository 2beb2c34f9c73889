"""A landing zone's requirements on IAM roles (``iam:``, ADR 0018), on every stack.

The delivered topologies (tools/configurations.py ``delivered``: multi_account_synth) are
synthesized with a permissions boundary and a role name prefix. Every role of every template
(the tooling account's pipeline and release stacks, each environment's stacks, the endpoint
templates the deploy pipelines deploy) must carry the boundary, resolved in its own account,
and a name that starts with the prefix. tests/test_cross_account.py simulates its claims under
that boundary (tests/iam_sim/boundaries/): the platform still works inside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlops_cli import plan as plans
from tests.conftest import Synthesized
from tests.iam_sim import Stack, endpoint_stacks, stacks_of_assembly
from tools.configurations import LANDING_ZONE_BOUNDARY, delivered

TOOLING = "444444444444"  # the delivered topology's tooling account
BOUNDARY = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":iam::",
            {"Ref": "AWS::AccountId"},
            f":policy/{LANDING_ZONE_BOUNDARY}",
        ],
    ]
}


def _roles(synth: Synthesized) -> Iterator[tuple[Stack, dict[str, Any]]]:
    """(stack, role properties) of every AWS::IAM::Role of the assembly's stacks."""
    for stack in stacks_of_assembly(synth.outdir):
        for resource in stack.resources.values():
            if resource["Type"] == "AWS::IAM::Role":
                yield stack, resource["Properties"]


def _bounded(account: str, properties: dict[str, Any]) -> bool:
    """The role carries the boundary of its own account: a literal ARN where the stack's
    account is known at synthesis, else one CloudFormation resolves in the stack's account."""
    boundary = properties.get("PermissionsBoundary")
    literal = f"arn:aws:iam::{account}:policy/{LANDING_ZONE_BOUNDARY}"
    return boundary in (BOUNDARY, literal)


def test_every_role_of_every_stack_carries_the_boundary(multi_account_synth: Synthesized) -> None:
    roles = list(_roles(multi_account_synth))
    stacks = {stack.name for stack, _ in roles}
    accounts = {stack.account for stack, _ in roles}
    # The tooling account's pipeline (CDK Pipelines) and release stacks, and every environment.
    assert "mlops-delivery" in stacks
    assert any(s.account == TOOLING and s.name != "mlops-delivery" for s, _ in roles)
    assert accounts == {TOOLING, "111111111111", "222222222222", "333333333333"}, accounts
    assert len(roles) >= 50
    unbounded = [(s.name, p.get("RoleName")) for s, p in roles if not _bounded(s.account, p)]
    assert not unbounded, unbounded


def test_the_endpoint_templates_create_no_role_of_their_own(
    multi_account_synth: Synthesized,
) -> None:
    """The endpoint templates run as an execution role the deploy stack creates (with the
    boundary) and passes as a parameter: they hold no role."""
    endpoint = endpoint_stacks(multi_account_synth.outdir, TOOLING, "eu-west-1")
    assert endpoint
    for stack in endpoint:
        kinds = {r["Type"] for r in stack.resources.values()}
        assert "AWS::IAM::Role" not in kinds, stack.name
        parameters = stack.template.get("Parameters", {})
        assert "ExecutionRoleArn" in parameters or stack.name.endswith("-monitor-batch")


def test_every_role_name_starts_with_the_prefix(multi_account_synth: Synthesized) -> None:
    """Named roles by their name; unnamed ones by their stack's, which CloudFormation's
    generated name starts with."""
    wrong = []
    for stack, properties in _roles(multi_account_synth):
        name = properties.get("RoleName")
        if isinstance(name, str):
            ok = name.startswith("mlops-")
        else:
            assert name is None, (stack.name, name)  # no role name is computed at deploy time
            ok = stack.name.startswith("mlops-")
        if not ok:
            wrong.append((stack.name, name))
    assert not wrong, wrong


def test_no_boundary_unless_configured(default_synth: Synthesized) -> None:
    roles = list(_roles(default_synth))
    assert roles and not any("PermissionsBoundary" in p for _, p in roles)


def test_the_bootstrap_bounds_the_deployment_roles_too() -> None:
    """``mlops bootstrap``: CDK's bootstrap gives its CloudFormation execution role the same
    boundary, in every account and region it bootstraps."""
    steps = plans.bootstrap(
        delivered(single_account=False),
        lambda env: plans.Target(env.account or "", env.region or ""),
        "arn:aws:iam::aws:policy/AdministratorAccess",
    ).steps
    assert len(steps) == 4
    for step in steps:
        assert step.cdk[-2:] == ("--custom-permissions-boundary", LANDING_ZONE_BOUNDARY), step
