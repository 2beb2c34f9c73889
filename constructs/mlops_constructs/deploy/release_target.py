"""A serving environment's side of the tooling account's release pipeline (ADR 0011).

The release pipeline (:class:`~mlops_constructs.deploy.release.ReleasePipeline`, tooling
account) runs every action of a serving stage as this environment's role
``<prefix>-release-action``. :class:`ReleaseTarget` creates that role, trusted by exactly the
pipeline's role, and allows it exactly what the stage's actions do here:

- invoke the promotion function and the staging test (``lambda:InvokeFunction`` on those two);
- deploy the stage's endpoint stack ``<prefix>-endpoint-<kind>``: the CloudFormation actions
  CDK's CloudFormation action needs, on that stack only, and ``iam:PassRole`` of the
  environment's guarded deployment role ``<prefix>-deploy-cfn`` to CloudFormation only (a model
  release cannot do what a platform deployment may: the CDK bootstrap's execution role is not
  used);
- read the pipeline's artifacts (the endpoint templates): ``s3:GetObject(Version)`` in the
  pipeline's artifact bucket and ``kms:Decrypt`` of its key through S3, the key named by alias
  (its id belongs to the tooling account).

It writes nothing in the tooling or development account. The functions the pipeline invokes
from another account are not granted ``codepipeline:PutJob*Result`` by CDK (an imported
function), so :meth:`grant_report` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from mlops_constructs.data.artifact_store import ArtifactStore, StoreNames
from mlops_constructs.names import release_action_name, stack_name
from mlops_constructs.security.jobs import grant_job_reports
from mlops_constructs.security.nag import (
    acknowledge_inline_policy,
    acknowledge_rules,
    acknowledge_wildcard_resource,
)

# What CDK's CloudFormationCreateUpdateStackAction grants its action role on the stack.
STACK_ACTIONS = (
    "cloudformation:CreateStack",
    "cloudformation:DescribeStack*",
    "cloudformation:GetStackPolicy",
    "cloudformation:GetTemplate*",
    "cloudformation:SetStackPolicy",
    "cloudformation:UpdateStack",
    "cloudformation:ValidateTemplate",
)


@dataclass(frozen=True, kw_only=True)
class ReleasePipelineRef:
    """The tooling account's release pipeline, by name (no cross-account reference)."""

    partition: str
    account: str
    region: str
    name: str  # <platform>-<project>-release: the pipeline, its role and its key's alias

    @property
    def role_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{self.name}"

    def store(self, region: str) -> StoreNames:
        """Its artifact store for the stages of ``region`` (its own, or a replica)."""
        return ArtifactStore.names(self.name, self.account, region, self.region)

    def artifacts_arn(self, region: str) -> str:
        return f"arn:{self.partition}:s3:::{self.store(region).bucket}/*"

    def keys_arn(self, region: str) -> str:
        return f"arn:{self.partition}:kms:{region}:{self.account}:key/*"


class ReleaseTarget(Construct):
    """``<prefix>-release-action``: the role the release pipeline ``pipeline`` acts as here,
    deploying ``<prefix>-endpoint-<kind>`` with ``cfn_role`` after invoking ``functions``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        kind: str,
        pipeline: ReleasePipelineRef,
        cfn_role: iam.IRole,
        functions: Sequence[lambda_.IFunction],
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.stack_name = stack_name(prefix, kind)
        self.role = self._role(prefix, pipeline)
        stack_arn = stack.format_arn(
            service="cloudformation", resource="stack", resource_name=f"{self.stack_name}/*"
        )
        self._allow_deploy(stack_arn, cfn_role, functions)
        # The pipeline's artifact store of this region (its own, or a replica).
        region = stack.region
        self._allow_artifacts(pipeline, region)
        self._acknowledge(stack_arn, pipeline, region)

    def _role(self, prefix: str, pipeline: ReleasePipelineRef) -> iam.Role:
        """``<prefix>-release-action``, assumable by the release pipeline's role only."""
        return iam.Role(
            self,
            "Role",
            role_name=release_action_name(prefix),
            description=f"The release pipeline {pipeline.name} (account {pipeline.account}) "
            f"promotes, deploys {self.stack_name} and tests here",
            # The pipeline's role exactly: its account narrowed by aws:PrincipalArn (IAM refuses
            # a principal that does not exist yet, and the tooling account may deploy later).
            assumed_by=iam.AccountPrincipal(pipeline.account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": pipeline.role_arn}}
            ),
            max_session_duration=cdk.Duration.hours(1),
        )

    def _allow_deploy(
        self, stack_arn: str, cfn_role: iam.IRole, functions: Sequence[lambda_.IFunction]
    ) -> None:
        """The role invokes ``functions``, deploys the endpoint stack and passes ``cfn_role``
        to CloudFormation only."""
        self._allow(
            "InvokeReleaseFunctions",
            ["lambda:InvokeFunction"],
            [f.function_arn for f in functions],
        )
        self._allow("DeployEndpointStack", list(STACK_ACTIONS), [stack_arn])
        self._allow(
            "PassDeploymentRole",
            ["iam:PassRole"],
            [cfn_role.role_arn],
            {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
        )

    def _allow_artifacts(self, pipeline: ReleasePipelineRef, region: str) -> None:
        """The role reads the release artifacts in ``region``'s store and decrypts them with
        its key, through S3 only."""
        self._allow(
            "ReadReleaseArtifacts",
            ["s3:GetObject", "s3:GetObjectVersion"],
            [pipeline.artifacts_arn(region)],
        )
        self._allow(
            "DecryptReleaseArtifacts",
            ["kms:Decrypt"],
            [pipeline.keys_arn(region)],
            {
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": [pipeline.store(region).alias]},
                "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
            },
        )

    def grant_report(self, function: lambda_.IFunction) -> None:
        """``function`` reports its job's result to CodePipeline (which accepts no resource)."""
        assert function.role is not None
        grant_job_reports(function.role)

    def _allow(
        self,
        sid: str,
        actions: list[str],
        resources: list[str],
        conditions: dict[str, object] | None = None,
    ) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid=sid, actions=actions, resources=resources, conditions=conditions
            )
        )

    def _acknowledge(self, stack_arn: str, pipeline: ReleasePipelineRef, region: str) -> None:
        role = self.role
        acknowledge_inline_policy(role)
        acknowledge_rules(
            role,
            (
                f"AwsSolutions-IAM5[Action::{action}]"
                for action in ("cloudformation:DescribeStack*", "cloudformation:GetTemplate*")
            ),
            "Read-only CloudFormation action groups (what CDK's CloudFormation action "
            "grants), on the one endpoint stack this role deploys.",
        )
        for resource, reason in (
            (stack_arn, "A stack ARN ends in an id CloudFormation assigns at creation; the "
             "statement names the endpoint stack."),
            (pipeline.artifacts_arn(region), "Pipeline artifacts are named per execution by "
             "CodePipeline; read only, in the release pipeline's own bucket."),
            (pipeline.keys_arn(region), "The release pipeline's key id belongs to the tooling "
             "account; the statement admits it by its alias and through S3 only."),
        ):  # fmt: skip
            acknowledge_wildcard_resource(role, resource, reason)
