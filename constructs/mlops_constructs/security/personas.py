"""Persona roles: the people who work with a model project, each with least privilege.

A persona is an IAM role that named principals (IAM roles or users, e.g. the roles IAM Identity
Center gives a group, or whole accounts) may assume. The construct only creates the roles and
their trust; what each persona may do is granted by the resources' own ``grant_*`` methods
where the roles are wired (``stacks/access_stack.py``), so the grants stay next to the
resources they open.

Separation of duties holds because the grants are exclusive: only the approver is granted
``sagemaker:UpdateModelPackage`` (approve or reject) and ``codepipeline:PutApprovalResult``;
no platform role and no other persona is. Roles are named ``<prefix>-<persona>``, so the keys'
policies admit them like the platform's own roles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.names import (
    APPROVER,
    AUDITOR,
    DATA_PRODUCER,
    DATA_SCIENTIST,
    OPERATOR,
    role_name,
)
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge,
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)

# Where the platform's trail writes its log files in the environment's log bucket.
TRAIL_PREFIX = "cloudtrail"

# persona -> what the role is for (its IAM description).
PERSONAS: dict[str, str] = {
    APPROVER: "approves or rejects model versions and the production release",
    DATA_SCIENTIST: "reads curated data and results, publishes code; starts nothing in production",
    DATA_PRODUCER: "writes raw data and ground truth, reads nothing",
    OPERATOR: "reads the status of pipelines, endpoints and alarms",
}


SAGEMAKER = "sagemaker.amazonaws.com"


def studio_trust_conditions(scope: Construct) -> dict[str, dict[str, str]]:
    """SageMaker of ``scope``'s account and region only (the confused deputy): the conditions
    AWS documents for roles that SageMaker assumes (``aws:SourceAccount``, and
    ``aws:SourceArn`` within the account's SageMaker resources of the region)."""
    here = arns(scope)
    return {
        "StringEquals": {"aws:SourceAccount": here.account},
        "ArnLike": {"aws:SourceArn": f"{here.prefix('sagemaker')}:*"},
    }


def admit_studio_apps(role: iam.Role) -> None:
    """Let SageMaker Studio run apps as ``role`` (the execution role of user profiles; ADR 0022):
    SageMaker of this account and region only, which may set the session's source identity to
    the user profile's name (the domain's ``ExecutionRoleIdentityConfig``), so the audit trail
    names the profile behind a shared persona role."""
    assert role.assume_role_policy is not None
    role.assume_role_policy.add_statements(
        iam.PolicyStatement(
            sid="StudioApps",
            principals=[iam.ServicePrincipal(SAGEMAKER)],
            actions=["sts:AssumeRole", "sts:SetSourceIdentity"],
            conditions=studio_trust_conditions(role),
        )
    )


def principal_of(principal: str) -> iam.IPrincipal:
    """An IAM role or user ARN, or a 12-digit account id (the account's root)."""
    if principal.isdigit():
        return iam.AccountPrincipal(principal)
    return iam.ArnPrincipal(principal)


def persona_trust(principals: Sequence[str]) -> iam.IPrincipal:
    """Who may assume a persona role: the principals named, or (none named) this account,
    whose administrators then decide with identity policies."""
    if not principals:
        return iam.AccountRootPrincipal()
    trusted = [principal_of(p) for p in principals]
    return trusted[0] if len(trusted) == 1 else iam.CompositePrincipal(*trusted)


class Personas(Construct):
    """The persona roles of one project: ``approver``, ``data-scientist``, ``data-producer``
    and ``operator`` (``<prefix>-<persona>``), each assumable by the principals
    ``principals[<persona>]`` names, for sessions of at most ``max_session_hours``.

    The roles start with no permissions: grant them with the resources' ``grant_*`` methods.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        principals: Mapping[str, Sequence[str]],
        max_session_hours: int = 1,
    ) -> None:
        super().__init__(scope, id)
        unknown = sorted(set(principals) - set(PERSONAS))
        if unknown:
            raise ValueError(f"unknown personas {unknown}; known: {sorted(PERSONAS)}")
        self.roles: dict[str, iam.Role] = {}
        for persona, purpose in PERSONAS.items():
            role = iam.Role(
                self,
                "".join(part.title() for part in persona.split("-")),
                role_name=role_name(prefix, persona),
                description=f"{prefix} {persona}: {purpose}",
                assumed_by=persona_trust(principals.get(persona, ())),
                max_session_duration=cdk.Duration.hours(max_session_hours),
            )
            acknowledge_inline_policy(role)
            self.roles[persona] = role

    def trust_studio(self, persona: str) -> None:
        """The role of ``persona`` runs the apps of its SageMaker Studio user profiles: SageMaker
        of this account and region may assume it (:func:`admit_studio_apps`)."""
        admit_studio_apps(self.roles[persona])

    @property
    def approver(self) -> iam.Role:
        return self.roles[APPROVER]

    @property
    def data_scientist(self) -> iam.Role:
        return self.roles[DATA_SCIENTIST]

    @property
    def data_producer(self) -> iam.Role:
        return self.roles[DATA_PRODUCER]

    @property
    def operator(self) -> iam.Role:
        return self.roles[OPERATOR]


class Auditor(Construct):
    """The environment's read-only ``<prefix>-auditor`` role: the audit trail (CloudTrail's
    events and the trail's log files), who may do what (the platform's roles and policies) and
    the model registries; no data, no captures, no change. Assumable by ``principals`` (or,
    none named, by whom the account's IAM policies allow)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        principals: Sequence[str],
        trail_bucket: s3.IBucket,
        trail_key: PlatformKey,
        max_session_hours: int = 1,
    ) -> None:
        super().__init__(scope, id)
        self.role = self._role(prefix, principals, max_session_hours)
        trail_bucket.grant_read(self.role, f"{TRAIL_PREFIX}/*")
        trail_key.grant_decrypt(self.role)
        self._grant_reads(prefix)
        self._acknowledge(trail_bucket)

    def _role(self, prefix: str, principals: Sequence[str], max_session_hours: int) -> iam.Role:
        """``<prefix>-auditor``, assumable by ``principals``, with no permissions yet."""
        return iam.Role(
            self,
            "Role",
            role_name=role_name(prefix, AUDITOR),
            description=f"{prefix} auditor: reads the audit trail, roles and registries only",
            assumed_by=persona_trust(principals),
            max_session_duration=cdk.Duration.hours(max_session_hours),
        )

    def _grant_reads(self, prefix: str) -> None:
        """Read-only statements: CloudTrail's events, the environment's roles (by name prefix)
        and its model registries, each wildcard acknowledged."""
        here = arns(self)
        for sid, actions, resources in (
            # LookupEvents and DescribeTrails support no resource-level permissions.
            ("AuditEvents", ["cloudtrail:LookupEvents", "cloudtrail:DescribeTrails"], ["*"]),
            (
                "WhoMayDoWhat",
                ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies"],
                [here.role(f"{prefix}-*")],
            ),
            (
                "Registries",
                ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup"],
                [
                    here.arn("sagemaker", f"model-package-group/{prefix}-*"),
                    here.arn("sagemaker", f"model-package/{prefix}-*"),
                ],
            ),
        ):
            self.role.add_to_policy(
                iam.PolicyStatement(sid=sid, actions=actions, resources=resources)
            )
            for resource in resources:
                acknowledge_wildcard_resource(
                    self.role,
                    resource,
                    "Read-only: the audit trail's events (no resource-level permissions), and "
                    "the environment's own roles and registries by their name prefix.",
                )

    def _acknowledge(self, trail_bucket: s3.IBucket) -> None:
        """Records why the inline policy, the grants' action groups and the trail's log files
        (named per account, region and hour) are acceptable."""
        stack = cdk.Stack.of(self)
        acknowledge_inline_policy(self.role)
        acknowledge_grant_actions(
            self.role,
            "Action groups written by grant_read on the trail's log files and the key's "
            "decrypt grant; every resource in these statements is named.",
        )
        # The bucket is in this stack: cdk-nag names it by logical id.
        bucket = trail_bucket.node.default_child
        assert isinstance(bucket, cdk.CfnElement)
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::<{stack.resolve(stack.get_logical_id(bucket))}.Arn>"
            f"/{TRAIL_PREFIX}/*]",
            "CloudTrail names its log files per account, region and hour; read only.",
        )
