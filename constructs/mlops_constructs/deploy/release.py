"""The release pipeline of one project, in the tooling account (ADR 0011, issue 15).

``ReleasePipeline`` takes one approved model package version (the pipeline variable
``ModelPackageArn``) through the serving environments in promotion order. Each environment is a
CodePipeline stage whose actions all run **in that environment's account**, with the role
``<prefix>-release-action`` there:

- ``Promote`` invokes ``<prefix>-promote`` (lambda/promote): it copies the version's sealed files
  into the environment's own bucket, verifies them there and reports the copies' URIs as output
  variables (namespace ``Promote<Env>``);
- ``Deploy`` is a CloudFormation action that deploys ``<prefix>-endpoint-<kind>`` from the
  templates (the ``Source`` stage, a CDK asset) with CloudFormation's deployment role
  ``<prefix>-deploy-cfn`` there, passing ``ModelDataUrl`` (the stage-local copy,
  ``#{Promote<Env>.model_data_url}``) and ``ModelPackageArn`` besides the stage's own overrides;
- ``Test`` (stages with a test function) invokes ``<prefix>-staging-test`` (lambda/endpoint_test)
  on the endpoint just deployed.

A stage with ``approval`` waits in a stage of its own, ``Approve<Env>``, for a person
(``grant_approve``: ``codepipeline:PutApprovalResult`` on those actions only). The pipeline is
never started by its source (the asset's trigger is off): a router starts it with the version
(``grant_start``), and a newer start supersedes an older execution (``SUPERSEDED``).

**Cross-account grants, and why they are written by hand.** Every action of a serving stage uses
that stage's action role, imported by ARN (``mutable=False``: the tooling account cannot change
a role of another account). Given such a role, aws-cdk-lib's CodePipeline grants it what the
action needs on the resources of the *pipeline's* account, and for a role of another account
those grants go into the resource policies: the CloudFormation action adds ``grant_read`` on the
artifact bucket, which writes a bucket policy statement and a key policy statement whose
principal is the role ARN (checked against aws-cdk-lib 2.275). S3 and KMS refuse a policy naming
a role that does not exist yet ("Invalid principal"), and the serving accounts' roles are created
by their own stacks, which may deploy after the tooling account. So the pipeline is given the
artifact bucket and key *by reference* (``from_bucket_attributes`` / ``from_key_arn`` of the
construct's own bucket and key): CDK's grants on an imported bucket or key change no resource
policy (and still write the pipeline role's own identity policy, which is in this account), and
this construct adds exactly one statement to each policy itself:

- the bucket: ``s3:GetObject`` and ``s3:GetObjectVersion`` on its objects, and
- the key: ``kms:Decrypt`` through S3 (``kms:ViaService``),

each with the stages' **accounts** as principals, narrowed to exactly the stages' action roles by
``aws:PrincipalArn``. Only the action roles: the CloudFormation action reads the template from
the artifact with the action's role (and passes CloudFormation a URL it signed), so
CloudFormation's deployment role never reads the bucket; the templates carry no assets, and
aws-cdk-lib grants the bucket to a deployment role only when it creates that role itself. The
``Promote`` and ``Test`` actions have no artifacts. The pipeline role may ``sts:AssumeRole``
exactly these action roles (and the roles CDK creates in this account for the source and
approval actions, which trust the pipeline role only). tests/test_release_pipeline.py keeps a
canary of CDK's behaviour: if CDK stops naming the roles, the pipeline may take its bucket
directly. Each action role must, in its own account, trust this pipeline's role and be
allowed what its actions do (see :class:`ReleaseStage`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.cfn import depend_on_role_policy_only, prefer_sub
from mlops_constructs.data.artifact_store import (
    ARTIFACT_EXPIRATION_DAYS,
    ArtifactStore,
    ReplicaRef,
)
from mlops_constructs.deploy.templates import (
    OVERRIDES_MAX,
    templates_source_stage,
)
from mlops_constructs.monitor.settings import BASELINE_PARAMETERS
from mlops_constructs.names import stack_name, template_file
from mlops_constructs.security.jobs import grant_pipeline_status
from mlops_constructs.security.nag import (
    acknowledge,
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)

# The endpoint kinds a stage deploys (templates ``<prefix>-endpoint-<kind>``).
KINDS = ("staging", "prod")
# The parameters the pipeline passes every endpoint template itself.
MODEL_DATA_URL = "ModelDataUrl"
MODEL_PACKAGE_ARN = "ModelPackageArn"
# Template parameters the stage's Promote action answers (lambda/promote's output variables),
# passed to a template that has them: the promoted copy, the stage's data key (its id is unknown
# outside that account) and the promoted Model Monitor baselines (named as the parameters; not
# the Clarify analysis configs, which are the project's code and not promoted).
PROMOTE_OUTPUTS = {
    MODEL_DATA_URL: "model_data_url",
    "DataKeyArn": "data_key_arn",
    # VPC mode: the stage's subnets and security group (generated ids).
    "SubnetIds": "subnet_ids",
    "SecurityGroupId": "security_group_id",
    **{name: name for name in BASELINE_PARAMETERS if not name.endswith("Config")},
}
# CodePipeline caps an action configuration value (ParameterOverrides, UserParameters) at 1,000
# characters. A value resolved only at run time (a CDK token, or a pipeline variable such as the
# version's ARN or the promoted model's URI) is counted at this many characters.
RUNTIME_VALUE_MAX = 200
# ... or at its own longest form where it has one: a version ARN (67 characters in the longest
# partition and region, a 63-character group, a 10-digit version), a key ARN, up to six subnet
# ids of 24 characters, a security group id of 20.
RUNTIME_VALUE_LONGEST = {
    MODEL_PACKAGE_ARN: 150,
    "DataKeyArn": 100,
    "SubnetIds": 6 * 25,
    "SecurityGroupId": 25,
}
USER_PARAMETERS_MAX = 1000

_ACCOUNT = re.compile(r"^\d{12}$")
_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_ROLE_ARN = re.compile(r"^arn:[^:]+:iam::(\d{12}):role/[\w+=,.@/-]{1,64}$")
_FUNCTION_ARN = re.compile(
    r"^arn:[^:]+:lambda:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):function:[A-Za-z0-9_-]{1,64}$"
)


@dataclass(frozen=True, kw_only=True)
class ReleaseStage:
    """A serving environment the release pipeline deploys to, in promotion order.

    What its account must provide (the app's serving-environment wiring):

    - ``action_role_arn`` (``<prefix>-release-action``): trusts exactly the pipeline's role
      ``<name>`` (``sts:AssumeRole``; the tooling account as principal narrowed by
      ``aws:PrincipalArn``, as IAM too refuses a principal that does not exist yet); may
      ``lambda:InvokeFunction`` the promote and test functions, ``iam:PassRole`` the deployment
      role to CloudFormation, create, update and describe the stack ``<prefix>-endpoint-<kind>``
      (what CDK's action would grant: ``cloudformation:CreateStack``, ``UpdateStack``,
      ``DescribeStack*``, ``GetTemplate*``, ``ValidateTemplate``, ``GetStackPolicy``,
      ``SetStackPolicy``), and read the pipeline's artifacts (``s3:GetObject`` and
      ``GetObjectVersion`` on its bucket's objects, ``kms:Decrypt`` on its key);
    - ``cfn_role_arn`` (``<prefix>-deploy-cfn``): trusts ``cloudformation.amazonaws.com`` and
      may manage the endpoint stack's resources (it reads nothing of the pipeline's);
    - ``promote_function_arn`` and ``test_function_arn``: lambda/promote and lambda/endpoint_test
      (each allowed ``codepipeline:PutJob*Result`` in its own account).
    """

    environment: str  # e.g. "staging", "prod"; the stage is named after it ("Staging")
    account: str
    region: str
    prefix: str  # the project's prefix in that environment, e.g. mlops-staging-churn
    kind: str  # "staging" or "prod": the template <prefix>-endpoint-<kind>
    action_role_arn: str  # <prefix>-release-action there: every action of the stage uses it
    cfn_role_arn: str  # <prefix>-deploy-cfn there: CloudFormation's deployment role
    promote_function_arn: str  # <prefix>-promote there
    test_function_arn: str | None = None  # <prefix>-staging-test there, for stages that test
    # The template parameters known per stage (key ARN, subnets, ...); the pipeline adds
    # ModelDataUrl and ModelPackageArn.
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    approval: bool = False  # a person approves before this stage (production)
    test_max_latency_ms: int = 2000

    @property
    def title(self) -> str:
        """``staging`` -> ``Staging``, ``eu-prod`` -> ``EuProd``: the stage's name."""
        return "".join(part.capitalize() for part in self.environment.split("-"))

    @property
    def stack_name(self) -> str:
        return stack_name(self.prefix, self.kind)

    @property
    def endpoint_name(self) -> str:
        return f"{self.prefix}-{self.kind}"


class ReleasePipeline(Construct):
    """``<name>`` (CodePipeline V2): ``Source`` -> per stage, in order, ``Approve<Env>`` (when
    the stage asks for approval) then ``<Env>``: ``Promote`` -> ``Deploy`` -> ``Test``.

    ``templates_dir`` holds ``<prefix>-endpoint-<kind>.template.json`` for every stage (checked
    at synthesis: the file exists, takes every override, and needs no parameter the pipeline
    does not pass). ``approval_topic`` is notified when an approval waits (with
    ``notify_approvals``, a topic ``<name>-approvals`` of its own). The pipeline's role is
    named ``<name>``; its artifact bucket (``<name>-artifacts-<account>``) and key are its own:
    versioned, TLS only, access-logged (into ``access_logs``, else a bucket of its own), expiring
    after ``artifact_expiration_days``, the key rotating and retained.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        templates_dir: Path,
        stages: Sequence[ReleaseStage],
        approval_topic: sns.ITopic | None = None,
        notify_approvals: bool = False,
        access_logs: s3.IBucket | None = None,
        artifact_expiration_days: int = ARTIFACT_EXPIRATION_DAYS,
    ) -> None:
        super().__init__(scope, id)
        here = arns(self)
        _check_stages(stages)
        self.name = name
        self.stages = tuple(stages)
        self._approval_actions: list[tuple[str, str]] = []  # (stage, action)
        self.store = self._artifact_store(access_logs, artifact_expiration_days)
        self.key, self.access_logs, self.artifacts = (
            self.store.key,
            self.store.access_logs,
            self.store.bucket,
        )
        # Stages in other regions: CodePipeline copies the artifacts to a bucket of theirs,
        # which the caller creates with ReleaseReplica (another stack, in that region).
        self.replica_regions = sorted({s.region for s in self.stages} - {here.region})
        self.approval_topic = self._approval_topic(approval_topic, notify_approvals)
        self.templates = s3_assets.Asset(self, "Templates", path=str(templates_dir))
        self.role = self._pipeline_role()
        self.action_roles: dict[str, iam.IRole] = {}
        self.package = codepipeline.Variable(
            variable_name=MODEL_PACKAGE_ARN,
            default_value="none",
            description="The approved model package version to release (set by the router)",
        )
        self.pipeline = self._pipeline(self._stage_props(templates_dir, self.approval_topic))
        self._acknowledge()

    def _artifact_store(self, access_logs: s3.IBucket | None, expire_days: int) -> ArtifactStore:
        """The pipeline's own artifact bucket and key in its stack's region (see the class)."""
        here = arns(self)
        return ArtifactStore.create(
            self,
            name=self.name,
            region=here.region,
            home_region=here.region,
            access_logs=access_logs,
            expire_days=expire_days,
        )

    def _approval_topic(self, topic: sns.ITopic | None, notify: bool) -> sns.ITopic | None:
        """``topic``; with ``notify`` and no topic, a topic ``<name>-approvals`` of its own."""
        if notify and topic is None:
            # Encrypted with the pipeline's key, whose policy lets IAM decide: the approval
            # actions' roles (CDK's) publish with their own grants.
            topic = sns.Topic(
                self,
                "Approvals",
                topic_name=f"{self.name}-approvals",
                display_name=f"{self.name}: releases waiting for an approval",
                master_key=self.key,
                enforce_ssl=True,
            )
        return topic

    def _pipeline_role(self) -> iam.Role:
        """The pipeline's role ``<name>``, which assumes the stages' action roles."""
        return iam.Role(
            self,
            "Role",
            role_name=self.name,
            assumed_by=iam.ServicePrincipal("codepipeline.amazonaws.com"),
            description=(
                f"{self.name}: the release pipeline, which assumes the stages' action roles"
            ),
        )

    def _stage_props(
        self, templates_dir: Path, approval_topic: sns.ITopic | None
    ) -> list[codepipeline.StageProps]:
        """The pipeline's stages: ``Source`` (the templates), then per stage in promotion order
        ``Approve<Env>`` (if it asks for approval) and ``<Env>``."""
        source = codepipeline.Artifact("Templates")
        stage_props = [templates_source_stage(self.templates, source)]
        for stage in self.stages:
            if stage.approval:
                stage_props.append(self._approval_stage(stage, approval_topic))
            stage_props.append(self._release_stage(stage, source, templates_dir))
        return stage_props

    def _pipeline(self, stage_props: list[codepipeline.StageProps]) -> codepipeline.Pipeline:
        """``<name>`` with ``stage_props``, its artifact stores by reference; then the store
        admits the home region's action roles, and the pipeline resource gets its stages as
        ``Fn::Sub`` and depends on its role's policy only."""
        pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name=self.name,
            pipeline_type=codepipeline.PipelineType.V2,
            execution_mode=codepipeline.ExecutionMode.SUPERSEDED,
            variables=[self.package],
            # By reference: CDK's grants to the action roles then change no resource policy
            # (see the module docstring); ArtifactStore.admit writes the two statements. With
            # stages in other regions, CDK takes every region's store from one mapping.
            **self._stores(),
            role=self.role,
            use_pipeline_role_for_actions=False,
            restart_execution_on_update=False,
            stages=stage_props,
        )
        self.store.admit(self.roles_in(arns(self).region))
        cfn = pipeline.node.default_child
        assert isinstance(cfn, codepipeline.CfnPipeline)
        prefer_sub(cfn, "Stages", cfn.stages)
        depend_on_role_policy_only(pipeline, self.role)
        return pipeline

    # --- identity -------------------------------------------------------------------------------
    @property
    def pipeline_name(self) -> str:
        return self.name

    @property
    def pipeline_arn(self) -> str:
        """The pipeline's ARN, from its name."""
        return cdk.Stack.of(self).format_arn(service="codepipeline", resource=self.name)

    @property
    def approval_arns(self) -> list[str]:
        """The manual approval actions, ``<pipeline arn>/<stage>/<action>``; none without one."""
        return [f"{self.pipeline_arn}/{stage}/{action}" for stage, action in self._approval_actions]

    @property
    def action_role_arns(self) -> list[str]:
        """The stages' action roles (in their accounts), each once, sorted."""
        return sorted({s.action_role_arn for s in self.stages})

    # --- grants ---------------------------------------------------------------------------------
    def grant_read_status(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the pipeline's state and executions; start, stop or approve nothing."""
        return grant_pipeline_status(grantee, self.pipeline_arn)

    def grant_approve(self, grantee: iam.IGrantable) -> iam.Grant:
        """Approve or reject the approval actions (and nothing else), and read the pipeline."""
        if not self._approval_actions:
            raise ValueError(f"{self.name} has no approval: no stage has approval=True")
        self.grant_read_status(grantee)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["codepipeline:PutApprovalResult"],
            resource_arns=self.approval_arns,
        )

    def grant_start(self, grantee: iam.IGrantable) -> iam.Grant:
        """Start an execution (with the version as ``ModelPackageArn``): the router."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["codepipeline:StartPipelineExecution"],
            resource_arns=[self.pipeline_arn],
        )

    # --- parts ----------------------------------------------------------------------------------
    def roles_in(self, region: str) -> list[str]:
        """The action roles of the stages in ``region`` (each once, sorted): who reads the
        artifacts from that region's store."""
        return sorted({s.action_role_arn for s in self.stages if s.region == region})

    def _stores(self) -> dict[str, Any]:
        """The pipeline's artifact store arguments: its own bucket, and the other regions'."""
        here = arns(self)
        home = s3.Bucket.from_bucket_attributes(
            self,
            "ArtifactStore",
            bucket_arn=self.artifacts.bucket_arn,
            bucket_name=self.artifacts.bucket_name,
            encryption_key=kms.Key.from_key_arn(self, "ArtifactKey", self.key.key_arn),
        )
        if not self.replica_regions:
            return {"artifact_bucket": home}
        return {"cross_region_replication_buckets": {here.region: home, **self._replicas()}}

    def _replicas(self) -> dict[str, s3.IBucket]:
        """The artifact store of each other region the stages are in, by reference
        (:class:`ReplicaRef`); the pipeline's role gets the key statement of each."""
        replicas: dict[str, s3.IBucket] = {}
        for region in self.replica_regions:
            replica = ReplicaRef.of(self, name=self.name, region=region)
            replica.grant_key(self.role, sid=f"ReplicaKey{_title(region)}")
            replicas[region] = replica.bucket
            for resource, reason in (
                (f"{arns(self).bucket(replica.names.bucket)}/*", "Pipeline "
                 f"artifacts copied to this pipeline's own replica bucket in {region}, named per "
                 "execution."),
                (replica.keys_arn, f"The replica's key in {region} is another stack's: admitted "
                 "by its alias only."),
            ):  # fmt: skip
                acknowledge_wildcard_resource(self.role, resource, reason)
        return replicas

    def _approval_stage(
        self, stage: ReleaseStage, topic: sns.ITopic | None
    ) -> codepipeline.StageProps:
        """``Approve<Env>``: a person approves before the stage (its only action, run order 1)."""
        stage_name, action_name = f"Approve{stage.title}", "Approve"
        self._approval_actions.append((stage_name, action_name))
        return codepipeline.StageProps(
            stage_name=stage_name,
            actions=[
                actions.ManualApprovalAction(
                    action_name=action_name,
                    notification_topic=topic,
                    additional_information=(
                        f"Approve to release {self.package.reference()} to {stage.environment} "
                        f"(account {stage.account}, endpoint {stage.endpoint_name})."
                    ),
                    run_order=1,
                )
            ],
        )

    def _release_stage(
        self, stage: ReleaseStage, source: codepipeline.Artifact, templates_dir: Path
    ) -> codepipeline.StageProps:
        """``<Env>``: Promote -> Deploy -> (Test), every action with the stage's action role."""
        env = stage.title
        role = iam.Role.from_role_arn(
            self, f"{env}ActionRole", stage.action_role_arn, mutable=False
        )
        self.action_roles[stage.environment] = role
        package = self.package.reference()
        promote = self._promote_action(stage, role, package)
        overrides = self._deploy_overrides(stage, templates_dir, promote, package)
        stage_actions: list[codepipeline.IAction] = [
            promote,
            self._deploy_action(stage, source, role, overrides),
        ]
        if stage.test_function_arn is not None:
            stage_actions.append(
                self._test_action(stage, stage.test_function_arn, templates_dir, role, package)
            )
        return codepipeline.StageProps(stage_name=env, actions=stage_actions)

    def _promote_action(
        self, stage: ReleaseStage, role: iam.IRole, package: str
    ) -> actions.LambdaInvokeAction:
        """``Promote`` (run order 1): the stage's promotion function, given the package to
        release, its outputs in the namespace ``Promote<Env>``."""
        env = stage.title
        return actions.LambdaInvokeAction(
            action_name="Promote",
            lambda_=lambda_.Function.from_function_arn(
                self, f"{env}Promote", stage.promote_function_arn
            ),
            role=role,
            variables_namespace=f"Promote{env}",
            user_parameters={"model_package_arn": package},
            run_order=1,
        )

    @staticmethod
    def _deploy_overrides(
        stage: ReleaseStage,
        templates_dir: Path,
        promote: actions.LambdaInvokeAction,
        package: str,
    ) -> dict[str, str]:
        """The Deploy action's parameter overrides: the stage's own, the promotion's outputs the
        template takes (the model data URL always) and the package; checked against the
        stage's template."""
        parameters = _template_parameters(templates_dir, stage)
        overrides = {
            **stage.parameter_overrides,
            **{
                name: promote.variable(output)
                for name, output in PROMOTE_OUTPUTS.items()
                if name in parameters or name == MODEL_DATA_URL
            },
            MODEL_PACKAGE_ARN: package,
        }
        _check_template(templates_dir, stage, overrides)
        return overrides

    def _deploy_action(
        self,
        stage: ReleaseStage,
        source: codepipeline.Artifact,
        role: iam.IRole,
        overrides: dict[str, str],
    ) -> actions.CloudFormationCreateUpdateStackAction:
        """``Deploy`` (run order 2): creates or updates the stage's endpoint stack from its
        template in ``source`` with ``overrides``, as the stage's CloudFormation role."""
        return actions.CloudFormationCreateUpdateStackAction(
            action_name="Deploy",
            stack_name=stage.stack_name,
            template_path=source.at_path(template_file(stage.prefix, stage.kind)),
            admin_permissions=False,
            role=role,
            deployment_role=iam.Role.from_role_arn(
                self, f"{stage.title}CfnRole", stage.cfn_role_arn, mutable=False
            ),
            account=stage.account,
            # Only another region: CDK writes per-region artifact stores for any region set.
            region=stage.region if stage.region in self.replica_regions else None,
            parameter_overrides=overrides,
            run_order=2,
        )

    def _test_action(
        self,
        stage: ReleaseStage,
        function_arn: str,
        templates_dir: Path,
        role: iam.IRole,
        package: str,
    ) -> actions.LambdaInvokeAction:
        """``Test`` (run order 3): the test function ``function_arn`` on the stage's endpoint
        (and, in a scale_to_zero template, its inference component); its user parameters
        checked against USER_PARAMETERS_MAX."""
        env = stage.title
        parameters: dict[str, Any] = {
            "endpoint_name": stage.endpoint_name,
            "model_package_arn": package,
            "max_latency_ms": stage.test_max_latency_ms,
        }
        # A scale_to_zero template's model is its inference component: invoke it.
        for component in _template_components(templates_dir, stage):
            parameters["inference_component_name"] = component
        _check_length(f"{env} Test action's user parameters", parameters, USER_PARAMETERS_MAX)
        return actions.LambdaInvokeAction(
            action_name="Test",
            lambda_=lambda_.Function.from_function_arn(self, f"{env}Test", function_arn),
            role=role,
            user_parameters=parameters,
            run_order=3,
        )

    def _acknowledge(self) -> None:
        """cdk-nag findings on the policies CDK's CodePipeline writes for the roles of this
        account (the pipeline's, and the roles it creates for the source and approval actions),
        acknowledged on each role, each with its reason."""
        stack = cdk.Stack.of(self)
        artifacts = stack.get_logical_id(self.artifacts.node.default_child)  # type: ignore[arg-type]
        source_role = self._generated_role("Source", "Templates")
        for role in (self.role, source_role):
            acknowledge_grant_actions(
                role,
                "Action groups CDK's CodePipeline grants on the templates asset and on this "
                "pipeline's own artifact bucket and key; every resource in these statements is "
                "named.",
            )
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{artifacts}.Arn>/*]",
                "Pipeline artifacts are named per execution by CodePipeline, in this pipeline's "
                "own bucket only.",
            )
        approvals = [
            self._generated_role(stage, action) for stage, action in self._approval_actions
        ]
        for role in (self.role, source_role, *approvals):
            acknowledge_inline_policy(role)
        for role in approvals if self.approval_topic is not None else []:
            acknowledge(
                role,
                "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                "SNS needs a data key from the approvals topic's key to encrypt the approval's "
                "notification; the grant names that one key.",
            )

    def _generated_role(self, stage: str, action: str) -> iam.Role:
        """The role CDK's CodePipeline created for the action ``stage``/``action``."""
        role = self.pipeline.node.find_child(stage).node.find_child(action)
        found = role.node.find_child("CodePipelineActionRole")
        assert isinstance(found, iam.Role), found
        return found


def _longest_json(value: Mapping[str, object]) -> int:
    """The most characters ``value`` takes as CodePipeline's JSON, each value resolved only at
    run time (a CDK token, a ``#{...}`` pipeline variable) counted at its longest form."""
    sized = {
        key: "x" * RUNTIME_VALUE_LONGEST.get(key, RUNTIME_VALUE_MAX)
        if isinstance(v, str) and (cdk.Token.is_unresolved(v) or "#{" in v)
        else v
        for key, v in value.items()
    }
    return len(json.dumps(sized, separators=(",", ":")))


def _check_length(what: str, value: Mapping[str, object], limit: int) -> None:
    length = _longest_json(value)
    if length > limit:
        raise ValueError(
            f"{what} take up to {length} characters, over CodePipeline's {limit}. Fix: shorten "
            "the project or environment name"
        )


def _check_stages(stages: Sequence[ReleaseStage]) -> None:
    """Every problem of the stages, named at once."""
    problems: list[str] = []
    if not stages:
        problems.append("a release pipeline needs at least one stage")
    seen: dict[str, str] = {}
    for stage in stages:
        where = f"stage {stage.environment!r}"
        if not _ENVIRONMENT.match(stage.environment):
            problems.append(f"{where}: the environment must match {_ENVIRONMENT.pattern}")
        elif stage.title in seen:
            other = seen[stage.title]
            problems.append(
                f"{where}: listed twice"
                if other == stage.environment
                else f"{where}: its stage name {stage.title} is also {other!r}'s"
            )
        seen.setdefault(stage.title, stage.environment)
        if not _ACCOUNT.match(stage.account):
            problems.append(f"{where}: the account must be 12 digits, not {stage.account!r}")
        if stage.kind not in KINDS:
            problems.append(f"{where}: the kind must be one of {', '.join(KINDS)}")
        if not stage.prefix:
            problems.append(f"{where}: the prefix is empty")
        for what, arn in (("action role", stage.action_role_arn), ("cfn role", stage.cfn_role_arn)):
            match = _ROLE_ARN.match(arn)
            if match is None:
                problems.append(f"{where}: the {what} {arn!r} is not an IAM role ARN")
            elif match.group(1) != stage.account:
                problems.append(f"{where}: the {what} {arn} is not in the account {stage.account}")
        functions = [("promote function", stage.promote_function_arn)]
        if stage.test_function_arn is not None:
            functions.append(("test function", stage.test_function_arn))
        for what, arn in functions:
            match = _FUNCTION_ARN.match(arn)
            if match is None:
                problems.append(f"{where}: the {what} {arn!r} is not an unqualified function ARN")
            elif (match.group(1), match.group(2)) != (stage.region, stage.account):
                problems.append(
                    f"{where}: the {what} {arn} is not in {stage.account} {stage.region}"
                )
        passed = sorted({*PROMOTE_OUTPUTS, MODEL_PACKAGE_ARN} & set(stage.parameter_overrides))
        if passed:
            problems.append(f"{where}: the pipeline passes {', '.join(passed)} itself")
    if problems:
        raise ValueError("release pipeline: " + "; ".join(problems))


def _template_parameters(templates_dir: Path, stage: ReleaseStage) -> dict[str, Any]:
    """The parameters of the stage's template (which must exist)."""
    path = templates_dir / template_file(stage.prefix, stage.kind)
    if not path.is_file():
        raise ValueError(f"stage {stage.environment!r}: no template {path}")
    parameters: dict[str, Any] = json.loads(path.read_text()).get("Parameters", {})
    return parameters


def _template_components(templates_dir: Path, stage: ReleaseStage) -> list[str]:
    """The names of the inference components the stage's template creates (scale_to_zero)."""
    path = templates_dir / template_file(stage.prefix, stage.kind)
    resources: dict[str, Any] = json.loads(path.read_text()).get("Resources", {})
    return [
        str(r["Properties"]["InferenceComponentName"])
        for r in resources.values()
        if r.get("Type") == "AWS::SageMaker::InferenceComponent"
    ]


def _check_template(templates_dir: Path, stage: ReleaseStage, overrides: Mapping[str, str]) -> None:
    """The stage's template exists, takes every override (CloudFormation rejects others) and
    needs nothing else (a parameter without a default); the overrides fit CodePipeline."""
    path = templates_dir / template_file(stage.prefix, stage.kind)
    parameters = _template_parameters(templates_dir, stage)
    unknown = sorted(set(overrides) - set(parameters))
    missing = sorted(n for n, p in parameters.items() if "Default" not in p and n not in overrides)
    if unknown or missing:
        raise ValueError(
            f"stage {stage.environment!r}: {path.name} "
            + "; ".join(
                part
                for part in (
                    f"has no parameter {', '.join(unknown)}" if unknown else "",
                    f"needs {', '.join(missing)}, which nothing passes" if missing else "",
                )
                if part
            )
        )
    length = _longest_json(overrides)
    if length > OVERRIDES_MAX:
        raise ValueError(
            f"{stage.stack_name}: the Deploy action's parameter overrides take up to {length} "
            f"characters, over CodePipeline's {OVERRIDES_MAX}. Fix: shorten the project or "
            "environment name, or give the template defaults"
        )


def _title(region: str) -> str:
    """``eu-central-1`` -> ``EuCentral1`` (an IAM statement id)."""
    return "".join(part.capitalize() for part in region.split("-"))
