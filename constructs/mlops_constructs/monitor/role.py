"""The role Model Monitor's jobs run as, kept out of the endpoint templates."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.data.lake import LakeAccess
from mlops_constructs.names import monitor_role_name
from mlops_constructs.security.jobs import grant_job_network_interfaces, grant_sagemaker_job_logs
from mlops_constructs.security.nag import (
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)


def monitoring_prefix(target: str) -> str:
    """Where a target's monitoring results go in the artifacts bucket."""
    return f"monitoring/{target}/"


class MonitorRole(Construct):
    """Role ``<prefix>-<target>-monitor`` for the Model Monitor jobs of one target.

    ``target`` is a deployment stage (``staging``, ``prod``) or ``batch``. May read the
    artifacts bucket (captured data, the version's baselines and analysis configs), read ground
    truth under ``ground_truth_prefix`` of the curated bucket, write results under
    ``monitoring/<target>/``, use the lake's key, write its job logs, publish Model Monitor's
    metrics, invoke the target's endpoint (Clarify's explainability jobs do) and, in VPC mode,
    manage its network interfaces.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        target: str,
        lake: LakeAccess,
        ground_truth_prefix: str,
        vpc: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self.role = self._role(prefix, target)
        output = monitoring_prefix(target)
        self._grant_data(lake, output, ground_truth_prefix, vpc)
        self._grant_metrics()
        if target != "batch":
            self._grant_explainability(prefix, target)
        self._acknowledge(lake, output, ground_truth_prefix)

    def _role(self, prefix: str, target: str) -> iam.Role:
        """The role ``<prefix>-<target>-monitor``, which SageMaker assumes."""
        return iam.Role(
            self,
            "Role",
            role_name=monitor_role_name(prefix, target),
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Model Monitor jobs of {prefix}-{target}",
        )

    def _grant_data(
        self, lake: LakeAccess, output: str, ground_truth_prefix: str, vpc: bool
    ) -> None:
        """Reads of the artifacts bucket and of ground truth, writes under ``output``, use of the
        lake's key, the job logs and, with ``vpc``, the jobs' network interfaces."""
        lake.grant_read_artifacts(self.role)
        lake.artifacts.grant_put(self.role, f"{output}*")
        lake.curated.grant_read(self.role, f"{ground_truth_prefix}*")
        lake.key.grant_encrypt_decrypt(self.role)
        grant_sagemaker_job_logs(self.role, ("ProcessingJobs",))
        if vpc:
            grant_job_network_interfaces(self.role)

    def _grant_metrics(self) -> None:
        """``MonitorMetrics``: PutMetricData, limited to Model Monitor's namespaces."""
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="MonitorMetrics",
                actions=["cloudwatch:PutMetricData"],
                # PutMetricData has no resource-level permissions; the namespace condition
                # limits it to Model Monitor's namespaces.
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "aws/sagemaker/*"}},
            )
        )

    def _grant_explainability(self, prefix: str, target: str) -> None:
        """``ExplainabilityInvoke``: invoking the target's endpoint ``<prefix>-<target>``."""
        here = arns(self)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ExplainabilityInvoke",
                actions=["sagemaker:InvokeEndpoint"],
                resources=[f"{here.prefix('sagemaker')}:endpoint/{prefix}-{target}"],
            )
        )

    def _acknowledge(self, lake: LakeAccess, output: str, ground_truth_prefix: str) -> None:
        """The role's cdk-nag acknowledgements: its inline policy, CDK's grant action groups
        and each wildcard resource, with the reason it is needed."""
        acknowledge_inline_policy(self.role)
        acknowledge_grant_actions(
            self.role,
            "Action groups written by CDK's grants on the artifacts and curated buckets and on "
            "the lake's key; every resource in these statements is named.",
        )
        acknowledge_wildcard_resource(
            self.role,
            lake.artifacts.arn_for_objects("*"),
            "Captured data, baselines and analysis configs are written under names SageMaker "
            "and the training pipeline choose at run time, in the artifacts bucket only.",
        )
        acknowledge_wildcard_resource(
            self.role,
            lake.artifacts.arn_for_objects(f"{output}*"),
            "Model Monitor names its reports by run; writes are limited to this target's "
            "monitoring prefix.",
        )
        acknowledge_wildcard_resource(
            self.role,
            lake.curated.arn_for_objects(f"{ground_truth_prefix}*"),
            "Ground truth arrives in hourly folders; reads are limited to the ground-truth prefix.",
        )
        acknowledge_wildcard_resource(
            self.role,
            "*",
            "cloudwatch:PutMetricData supports no resource-level permissions; it is the only "
            "action on '*' and is limited to the aws/sagemaker/* namespaces by condition.",
        )
