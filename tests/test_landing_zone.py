"""A landing zone's requirements on IAM roles (``iam:``, ADR 0018), on every stack.

The delivered topologies (tools/configurations.py ``delivered``: multi_account_synth) are
synthesized with a permissions boundary and a role name prefix. Every role of every template
(the tooling account's pipeline and release stacks, each environment's stacks, the endpoint
templates the deploy pipelines deploy) must carry the boundary, resolved in its own account,
and a name that starts with the prefix. tests/test_cross_account.py simulates its claims under
that boundary (tests/iam_sim/boundaries/): the platform still works inside it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlops_cli import plan as plans
from tests.conftest import Synthesized
from tools.configurations import LANDING_ZONE_BOUNDARY, delivered

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


def _templates(synth: Synthesized) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every template of the assembly: the stacks, and the endpoint templates (assets)."""
    for path in sorted(synth.outdir.glob("**/*.template.json")):
        yield path, json.loads(path.read_text())


def _roles(synth: Synthesized) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(template, stack name, stack account, role properties) of every AWS::IAM::Role; an
    endpoint template's stack is the deploy pipeline's (no name or account here)."""
    stacks = {}
    for manifest in synth.outdir.glob("**/manifest.json"):
        for artifact in json.loads(manifest.read_text()).get("artifacts", {}).values():
            properties = artifact.get("properties", {})
            if "templateFile" in properties:
                account = artifact.get("environment", "aws://unknown/").split("/")[2]
                where = (properties.get("stackName") or "", account)
                stacks[(manifest.parent / properties["templateFile"]).resolve()] = where
    for path, template in _templates(synth):
        for resource in template.get("Resources", {}).values():
            if resource["Type"] == "AWS::IAM::Role":
                stack, account = stacks.get(path.resolve(), ("", ""))
                yield path.name, stack, account, resource["Properties"]


def _bounded(account: str, properties: dict[str, Any]) -> bool:
    """The role carries the boundary of its own account: a literal ARN where the stack's
    account is known at synthesis, else one CloudFormation resolves in the stack's account."""
    boundary = properties.get("PermissionsBoundary")
    literal = f"arn:aws:iam::{account}:policy/{LANDING_ZONE_BOUNDARY}"
    return boundary in (BOUNDARY, literal)


def test_every_role_of_every_stack_carries_the_boundary(multi_account_synth: Synthesized) -> None:
    roles = list(_roles(multi_account_synth))
    stacks = {template for template, _, _, _ in roles}
    # The tooling account's pipeline (CDK Pipelines) and release stacks, and every environment.
    assert any(t.startswith("Delivery") for t in stacks)
    assert any(t.startswith("Tooling") for t in stacks)
    assert {t[:4] for t in stacks} >= {"devc", "prod", "stag"}, stacks
    assert len(roles) >= 50
    unbounded = [(t, p.get("RoleName")) for t, _, a, p in roles if not _bounded(a, p)]
    assert not unbounded, unbounded


def test_the_endpoint_templates_create_no_role_of_their_own(
    multi_account_synth: Synthesized,
) -> None:
    """The endpoint templates run as an execution role the deploy stack creates (with the
    boundary) and passes as a parameter: they are scanned above, and hold no role."""
    endpoint = [
        (p, t) for p, t in _templates(multi_account_synth) if p.parent.name.startswith("asset.")
    ]
    assert endpoint
    for path, template in endpoint:
        kinds = {r["Type"] for r in template.get("Resources", {}).values()}
        assert "AWS::IAM::Role" not in kinds, path
        assert "ExecutionRoleArn" in template.get("Parameters", {}) or "Monitor" in path.name


def test_every_role_name_starts_with_the_prefix(multi_account_synth: Synthesized) -> None:
    """Named roles by their name; unnamed ones by their stack's, which CloudFormation's
    generated name starts with."""
    wrong = []
    for template, stack, _, properties in _roles(multi_account_synth):
        name = properties.get("RoleName")
        if isinstance(name, str):
            ok = name.startswith("mlops-")
        else:
            assert name is None, (template, name)  # no role name is computed at deploy time
            ok = stack.startswith("mlops-")
        if not ok:
            wrong.append((template, stack, name))
    assert not wrong, wrong


def test_no_boundary_unless_configured(default_synth: Synthesized) -> None:
    roles = list(_roles(default_synth))
    assert roles and not any("PermissionsBoundary" in p for _, _, _, p in roles)


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
