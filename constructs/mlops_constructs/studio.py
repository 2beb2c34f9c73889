"""SageMaker Studio: one domain per environment for the people who work with its projects
(docs/decisions/0022-studio.md).

The domain authenticates with IAM: a user profile is opened with ``CreatePresignedDomainUrl``,
which :meth:`StudioDomain.grant_use` allows a role for its own profiles only. Each profile's apps
run as its execution role, a project's persona role, so in Studio a person can do exactly what
that persona may do anywhere else, and nothing more.

What keeps Studio inside the platform: VpcOnly (the apps' traffic leaves through the isolated
subnets, whose only ways out are the VPC endpoints), a security group of the domain's own, the
data key on the home file system and the spaces' volumes, no notebook sharing, no Docker, no
custom images and no lifecycle configurations, only the app types SageMaker shuts down when idle
(JupyterLab and Code Editor; the others hidden and refused by IAM), private spaces only, and no
remote access to a space from a local IDE.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_constructs.names import studio_default_role_name
from mlops_constructs.network.placement import Placement
from mlops_constructs.security.nag import acknowledge
from mlops_constructs.security.personas import SAGEMAKER, studio_trust_conditions

# The app types a user may start: those SageMaker's idle shutdown (AppLifecycleManagement) stops.
IDLE_MANAGED_APPS = ("JupyterLab", "CodeEditor")
# Every other app type of the schema's AppType: hidden in Studio and refused by IAM.
HIDDEN_APPS = ("JupyterServer", "TensorBoard", "RStudioServerPro", "DetailedProfiler", "Canvas")
# IdleSettings.IdleTimeoutInMinutes: what SageMaker accepts.
IDLE_MINUTES = (60, 525_600)
# A space's EBS volume (GB): SageMaker's default and minimum, and the most a user may choose.
SPACE_STORAGE_GB = (5, 100)
# AWS::SageMaker::UserProfile's UserProfileName pattern (CloudFormation's schema).
_PROFILE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


@dataclass(frozen=True)
class StudioUser:
    """One user profile: its name (unique in the domain), the role its apps run as, and tags
    that say whose it is."""

    name: str
    execution_role_arn: str
    tags: Mapping[str, str] = field(default_factory=dict)


def _check(users: Sequence[StudioUser], idle_minutes: int, storage_gb: tuple[int, int]) -> None:
    names = [u.name for u in users]
    bad = [n for n in names if not _PROFILE_NAME.match(n)]
    if bad or len(set(names)) != len(names):
        raise ValueError(f"Studio user profile names must be valid and unique: {names}")
    if not IDLE_MINUTES[0] <= idle_minutes <= IDLE_MINUTES[1]:
        raise ValueError(f"idle timeout {idle_minutes} min is outside {IDLE_MINUTES}")
    if not 5 <= storage_gb[0] <= storage_gb[1] <= 16384:
        raise ValueError(f"space storage {storage_gb} GB: 5 <= default <= maximum <= 16384")


class StudioDomain(Construct):
    """The SageMaker Studio domain ``name`` of ``users``, in ``placement``'s subnets (with a
    security group of its own, not the workloads').

    Defaults: IAM authentication; VpcOnly (apps reach only what the subnets route to: in the
    platform's isolated subnets, the VPC endpoints, whose group ``endpoints`` admits the
    domain's own on HTTPS: no internet); the home file system and every space's volume encrypted with ``key``; JupyterLab and Code Editor
    apps stopped after ``idle_timeout_minutes`` idle (users may choose less, never more); the
    other app types hidden; no notebook sharing, no Docker, no custom images or lifecycle
    configurations; spaces' volumes ``space_storage_gb`` (default, maximum); each app session's
    source identity is its profile's name (the audit trail names the person behind a shared
    persona role); a default execution role with no permissions (every profile names its own).

    The home file system outlives the domain: CloudFormation's delete keeps it (DeleteDomain's
    RetentionPolicy is no CloudFormation property), and a profile with spaces cannot be deleted.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        key: kms.IKey,
        placement: Placement,
        endpoints: ec2.ISecurityGroup,
        users: Sequence[StudioUser],
        idle_timeout_minutes: int = 60,
        space_storage_gb: tuple[int, int] = SPACE_STORAGE_GB,
    ) -> None:
        super().__init__(scope, id)
        _check(users, idle_timeout_minutes, space_storage_gb)
        self.name = name
        self.security_group = self._security_group(placement.vpc, endpoints)
        self.default_role = self._default_role()
        self.domain = sagemaker.CfnDomain(
            self,
            "Domain",
            domain_name=name,
            auth_mode="IAM",
            app_network_access_type="VpcOnly",
            vpc_id=placement.vpc.vpc_id,
            subnet_ids=placement.subnet_ids,
            kms_key_id=key.key_arn,
            default_user_settings=self._user_settings(idle_timeout_minutes, space_storage_gb),
            domain_settings=sagemaker.CfnDomain.DomainSettingsProperty(
                security_group_ids=[self.security_group.security_group_id],
                docker_settings=sagemaker.CfnDomain.DockerSettingsProperty(
                    enable_docker_access="DISABLED"
                ),
                execution_role_identity_config="USER_PROFILE_NAME",
            ),
        )
        self.profiles = {user.name: self._profile(user) for user in users}

    @property
    def domain_id(self) -> str:
        return self.domain.attr_domain_id

    def _security_group(self, vpc: ec2.IVpc, endpoints: ec2.ISecurityGroup) -> ec2.SecurityGroup:
        """``<name>``: all TCP between the domain's apps (JupyterLab and its kernels), HTTPS out,
        which in the isolated subnets reaches the VPC endpoints only, and those admit it."""
        group = ec2.SecurityGroup(
            self,
            "Apps",
            vpc=vpc,
            security_group_name=self.name,
            description="SageMaker Studio apps: HTTPS to the VPC endpoints, TCP between apps",
            allow_all_outbound=False,
        )
        group.add_ingress_rule(group, ec2.Port.all_tcp(), "Between Studio apps")
        group.add_egress_rule(group, ec2.Port.all_tcp(), "Between Studio apps")
        # The subnets route nowhere but to the VPC endpoints (the S3 gateway's prefix list would
        # need a lookup at synth time).
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs via VPC endpoints")
        # The rule is created here (remote_rule): deleting Studio deletes it.
        endpoints.add_ingress_rule(group, ec2.Port.tcp(443), "Studio apps", remote_rule=True)
        return group

    def _default_role(self) -> iam.Role:
        """``<name>-default``: the domain requires a default execution role; every profile names
        its own, so this one has no permissions at all."""
        role = iam.Role(
            self,
            "DefaultRole",
            role_name=studio_default_role_name(self.name),
            description=f"{self.name}: default execution role of the Studio domain, no permissions",
            assumed_by=iam.ServicePrincipal(SAGEMAKER).with_conditions(
                studio_trust_conditions(self)
            ),
        )
        assert role.assume_role_policy is not None
        role.assume_role_policy.add_statements(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(SAGEMAKER)],
                actions=["sts:SetSourceIdentity"],
                conditions=studio_trust_conditions(self),
            )
        )
        return role

    def _user_settings(
        self, idle_minutes: int, storage_gb: tuple[int, int]
    ) -> sagemaker.CfnDomain.UserSettingsProperty:
        idle = sagemaker.CfnDomain.AppLifecycleManagementProperty(
            idle_settings=sagemaker.CfnDomain.IdleSettingsProperty(
                lifecycle_management="ENABLED",
                idle_timeout_in_minutes=idle_minutes,
                min_idle_timeout_in_minutes=IDLE_MINUTES[0],
                max_idle_timeout_in_minutes=idle_minutes,
            )
        )
        return sagemaker.CfnDomain.UserSettingsProperty(
            execution_role=self.default_role.role_arn,
            security_groups=[self.security_group.security_group_id],
            sharing_settings=sagemaker.CfnDomain.SharingSettingsProperty(
                notebook_output_option="Disabled"
            ),
            jupyter_lab_app_settings=sagemaker.CfnDomain.JupyterLabAppSettingsProperty(
                app_lifecycle_management=idle
            ),
            code_editor_app_settings=sagemaker.CfnDomain.CodeEditorAppSettingsProperty(
                app_lifecycle_management=idle
            ),
            space_storage_settings=sagemaker.CfnDomain.DefaultSpaceStorageSettingsProperty(
                default_ebs_storage_settings=sagemaker.CfnDomain.DefaultEbsStorageSettingsProperty(
                    default_ebs_volume_size_in_gb=storage_gb[0],
                    maximum_ebs_volume_size_in_gb=storage_gb[1],
                )
            ),
            studio_web_portal="ENABLED",
            default_landing_uri="studio::",
            studio_web_portal_settings=sagemaker.CfnDomain.StudioWebPortalSettingsProperty(
                hidden_app_types=list(HIDDEN_APPS)
            ),
        )

    def _profile(self, user: StudioUser) -> sagemaker.CfnUserProfile:
        """The user's profile: the domain's settings, its own execution role."""
        return sagemaker.CfnUserProfile(
            self,
            f"User-{user.name}",
            domain_id=self.domain_id,
            user_profile_name=user.name,
            user_settings=sagemaker.CfnUserProfile.UserSettingsProperty(
                execution_role=user.execution_role_arn
            ),
            tags=[cdk.CfnTag(key=k, value=v) for k, v in sorted(user.tags.items())],
        )

    def arn(self, resource: str, name: str = "") -> str:
        """The ARN of the domain (``domain``) or of one of its ``user-profile``, ``space`` or
        ``app`` resources (``name`` under the domain's id: ``alice``, ``*``, ...)."""
        return cdk.Stack.of(self).format_arn(
            service="sagemaker",
            resource=resource,
            resource_name=f"{self.domain_id}/{name}" if name else self.domain_id,
        )

    def grant_use(self, role: iam.IRole, profiles: Sequence[str]) -> iam.ManagedPolicy:
        """``role`` opens its own user profiles ``profiles`` (and no other) and works in them:
        private spaces it owns, without remote access, and apps of the idle-managed types in
        them. A customer managed policy ``<role name>-studio`` of this stack, attached to
        ``role`` by name (it may live in another stack)."""
        unknown = sorted(set(profiles) - set(self.profiles))
        if unknown or not profiles:
            raise ValueError(f"no profiles, or profiles not in the domain: {unknown}")
        if cdk.Token.is_unresolved(role.role_name):
            raise ValueError("grant_use needs a role of a known name: its policy takes the name")
        owners = [self.arn("user-profile", p) for p in profiles]
        policy = iam.ManagedPolicy(
            self,
            f"Use-{role.role_name}",
            managed_policy_name=f"{role.role_name}-studio",
            description=f"{self.name}: open the profiles {', '.join(profiles)} and work in them",
            statements=self._use_statements(owners),
            roles=[role],
        )
        self._acknowledge_use(policy)
        return policy

    def _use_statements(self, owners: list[str]) -> list[iam.PolicyStatement]:
        own_private = {
            "ArnEquals": {"sagemaker:OwnerUserProfileArn": owners},
            "StringEquals": {"sagemaker:SpaceSharingType": "Private"},
        }
        no_remote = {"StringEqualsIfExists": {"sagemaker:RemoteAccess": "DISABLED"}}
        # Tags SageMaker writes while it creates a space or an app.
        on_create = {"Null": {"sagemaker:TaggingAction": "false"}}
        spaces, apps = self.arn("space", "*"), self.arn("app", "*")
        idle_managed = [self.arn("app", f"*/{app}/*") for app in IDLE_MANAGED_APPS]
        return [
            _allow(
                "OpenOwnProfiles",
                ["CreatePresignedDomainUrl", "DescribeUserProfile", "ListTags"],
                owners,
            ),
            _allow("ReadDomain", ["DescribeDomain", "ListTags"], [self.arn("domain")]),
            # Listing has no resource-level permissions.
            _allow("ListSpacesAndApps", ["ListSpaces", "ListApps"], ["*"]),
            _allow(
                "ReadSpacesAndApps", ["DescribeSpace", "DescribeApp", "ListTags"], [spaces, apps]
            ),
            _allow(
                "OwnPrivateSpaces",
                ["CreateSpace", "UpdateSpace", "DeleteSpace"],
                [spaces],
                {**own_private, **no_remote},
            ),
            _allow("IdleManagedApps", ["CreateApp", "DeleteApp"], idle_managed, own_private),
            _allow("TagOnCreate", ["AddTags"], [spaces, apps], on_create),
        ]

    def _acknowledge_use(self, policy: iam.ManagedPolicy) -> None:
        wildcards = [
            "*",
            self.arn("space", "*"),
            self.arn("app", "*"),
            *(self.arn("app", f"*/{app}/*") for app in IDLE_MANAGED_APPS),
        ]
        stack = cdk.Stack.of(self)
        for resource in wildcards:
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::{_nag_text(stack.resolve(resource))}]",
                "Spaces and apps are named by their users at run time; creating, changing and "
                "deleting them is conditioned on the caller's own user profiles and private "
                "spaces, and listing has no resource-level permissions.",
            )


def _allow(
    sid: str, actions: Sequence[str], resources: Sequence[str], conditions: Any = None
) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=sid,
        actions=[f"sagemaker:{a}" for a in actions],
        resources=list(resources),
        conditions=conditions,
    )


def _nag_text(value: Any) -> str:
    """A resolved ARN as cdk-nag writes it in a finding's id (``<LogicalId.Attribute>``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_nag_text(part) for part in parts)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    raise ValueError(f"cannot render {value!r} as cdk-nag does")
