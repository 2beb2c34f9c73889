"""The MLOps rule pack: checks the generic cdk-nag packs do not make on ML resources.

Built on cdk-nag 3.x's extension API (a ``NagPack`` registered as a validation plugin), so its
findings fail ``cdk synth`` and are acknowledged like any other pack's::

    cdk.Validations.of(stage).add_plugins(MLOpsChecks(stage, vpc_mode=False))
    cdk.Validations.of(resource).acknowledge(
        cdk.Acknowledgment(id="MLOps::MLOps-SM4", reason="...why this resource may break it...")
    )

Every rule has a stable id, a one-line explanation and the fix (:data:`RULES`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import aws_cdk as cdk
import jsii
from cdk_nag import IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance

from mlops_constructs.security.pipeline_rules import check_definition, job_steps
from mlops_constructs.security.pipeline_rules import is_true as _truthy
from mlops_constructs.security.pipeline_rules import value_at as _get

Result = NagRuleCompliance | list[str]


@dataclass(frozen=True)
class Rule:
    """One rule: its id suffix, what it checks, why, and how to fix a finding."""

    suffix: str
    info: str
    explanation: str
    check: Callable[[Any, bool], Result]


def _resolve(node: cdk.CfnResource, value: Any) -> Any:
    return cdk.Stack.of(node).resolve(value)


# --- SageMaker models and endpoints ---------------------------------------------------------


def _model_isolation(node: Any, _vpc: bool) -> Result:
    isolated = _truthy(_resolve(node, node.enable_network_isolation))
    return NagRuleCompliance.COMPLIANT if isolated else NagRuleCompliance.NON_COMPLIANT


def _model_vpc(node: Any, vpc: bool) -> Result:
    if not vpc:
        return NagRuleCompliance.NOT_APPLICABLE
    has_vpc = bool(_resolve(node, node.vpc_config))
    return NagRuleCompliance.COMPLIANT if has_vpc else NagRuleCompliance.NON_COMPLIANT


def _endpoint_config_kms(node: Any, _vpc: bool) -> Result:
    serverless = all(
        _get(v, "serverlessConfig") for v in _resolve(node, node.production_variants) or []
    )
    # Serverless variants have no ML storage volume to encrypt, and KmsKeyId is rejected
    # for them; data capture output still needs a key (checked by SM4's config).
    if serverless:
        return NagRuleCompliance.NOT_APPLICABLE
    has_key = bool(_resolve(node, node.kms_key_id))
    return NagRuleCompliance.COMPLIANT if has_key else NagRuleCompliance.NON_COMPLIANT


def _endpoint_config_capture(node: Any, _vpc: bool) -> Result:
    capture = _resolve(node, node.data_capture_config) or {}
    enabled = capture and _get(capture, "enableCapture") is not False
    encrypted = bool(_get(capture, "kmsKeyId"))
    return NagRuleCompliance.COMPLIANT if enabled and encrypted else NagRuleCompliance.NON_COMPLIANT


def _components_config(node: Any) -> bool:
    """Whether an endpoint config hosts inference components: a role of its own and instance
    variants that name no model (the components do)."""
    variants = _resolve(node, node.production_variants) or []
    return bool(_resolve(node, node.execution_role_arn)) and all(
        not _get(v, "modelName") and not _get(v, "serverlessConfig") for v in variants
    )


def _components_config_isolated(node: Any, vpc: bool) -> Result:
    if not _components_config(node):
        return NagRuleCompliance.NOT_APPLICABLE
    isolated = _truthy(_resolve(node, node.enable_network_isolation))
    in_vpc = not vpc or bool(_resolve(node, node.vpc_config))
    return NagRuleCompliance.COMPLIANT if isolated and in_vpc else NagRuleCompliance.NON_COMPLIANT


def _component_guarded(node: Any, _vpc: bool) -> Result:
    specification = _resolve(node, node.specification) or {}
    deployment = _resolve(node, node.deployment_config) or {}
    runs_a_model = bool(_get(specification, "modelName")) and not _get(specification, "container")
    rolls_back = bool(_get(deployment, "autoRollbackConfiguration", "alarms"))
    ok = runs_a_model and rolls_back
    return NagRuleCompliance.COMPLIANT if ok else NagRuleCompliance.NON_COMPLIANT


# --- pipeline definitions -------------------------------------------------------------------


def _definition(node: Any) -> dict[str, Any]:
    pipeline = _resolve(node, node.pipeline_definition) or {}
    # The property is untyped JSON in aws-cdk-lib, so either spelling may reach us.
    body = _get(pipeline, "PipelineDefinitionBody") or _get(pipeline, "pipelineDefinitionBody")
    if isinstance(body, dict) and "Fn::Sub" in body:
        sub = body["Fn::Sub"]
        body = sub[0] if isinstance(sub, list) else sub
    if not isinstance(body, str):
        raise ValueError("pipeline definition must be an inline body (or Fn::Sub of one)")
    definition: dict[str, Any] = json.loads(body)
    return definition


def _job_steps(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Training, processing and check steps, also inside condition branches."""
    yield from job_steps(definition)


def _pipeline_jobs_encrypted(node: Any, vpc: bool) -> Result:
    # The same rules as the CI check of a team's own definition (pipeline_rules.py), without
    # the project's context: keys present, inter-container encryption, (VPC mode) a VpcConfig,
    # and registration pending a person's approval.
    findings = [f.nag_id for f in check_definition(_definition(node), vpc=vpc)]
    return list(dict.fromkeys(findings)) or NagRuleCompliance.COMPLIANT


# --- monitoring -----------------------------------------------------------------------------

_MONITORING_OUTPUTS = {
    "AWS::SageMaker::DataQualityJobDefinition": "data_quality_job_output_config",
    "AWS::SageMaker::ModelQualityJobDefinition": "model_quality_job_output_config",
    "AWS::SageMaker::ModelBiasJobDefinition": "model_bias_job_output_config",
    "AWS::SageMaker::ModelExplainabilityJobDefinition": "model_explainability_job_output_config",
}


def _monitoring_job(node: Any, vpc: bool) -> Result:
    if node.cfn_resource_type == "AWS::SageMaker::MonitoringSchedule":
        job = _get(_resolve(node, node.monitoring_schedule_config), "monitoringJobDefinition")
        if job is None:  # refers to a separate job definition, which is checked itself
            return NagRuleCompliance.NOT_APPLICABLE
        network, resources = job.get("networkConfig"), job.get("monitoringResources")
        output = job.get("monitoringOutputConfig")
    else:
        network = _resolve(node, node.network_config)
        resources = _resolve(node, node.job_resources)
        output = _resolve(node, getattr(node, _MONITORING_OUTPUTS[node.cfn_resource_type]))
    findings = []
    if not _truthy(_get(network, "enableNetworkIsolation")):
        findings.append("NetworkIsolation")
    if not _truthy(_get(network, "enableInterContainerTrafficEncryption")):
        findings.append("InterContainerTrafficEncryption")
    if vpc and not _get(network, "vpcConfig"):
        findings.append("VpcConfig")
    if not _get(resources, "clusterConfig", "volumeKmsKeyId"):
        findings.append("VolumeKmsKeyId")
    if not _get(output, "kmsKeyId"):
        findings.append("OutputKmsKeyId")
    return findings or NagRuleCompliance.COMPLIANT


# --- registry, storage, logs, IAM ------------------------------------------------------------


def _public_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        return aws == "*" or (isinstance(aws, list) and "*" in aws)
    return False


def _package_group_not_public(node: Any, _vpc: bool) -> Result:
    policy = _resolve(node, node.model_package_group_policy)
    if isinstance(policy, str):
        policy = json.loads(policy)
    for statement in _get(policy, "Statement") or []:
        if statement.get("Effect") == "Allow" and _public_principal(statement.get("Principal")):
            return NagRuleCompliance.NON_COMPLIANT
    return NagRuleCompliance.COMPLIANT


def _bucket_versioned(node: Any, _vpc: bool) -> Result:
    status = _get(_resolve(node, node.versioning_configuration), "status")
    return NagRuleCompliance.COMPLIANT if status == "Enabled" else NagRuleCompliance.NON_COMPLIANT


def _bucket_tls_only(node: Any, _vpc: bool) -> Result:
    stack = cdk.Stack.of(node)
    ref = stack.resolve(node.ref)
    for child in stack.node.find_all():
        if (
            isinstance(child, cdk.CfnResource)
            and child.cfn_resource_type == "AWS::S3::BucketPolicy"
        ):
            policy: Any = child
            if stack.resolve(policy.bucket) not in (ref, stack.resolve(node.bucket_name)):
                continue
            for s in _get(stack.resolve(policy.policy_document), "Statement") or []:
                secure = _get(s, "Condition", "Bool", "aws:SecureTransport")
                if s.get("Effect") == "Deny" and str(secure).lower() == "false":
                    return NagRuleCompliance.COMPLIANT
    return NagRuleCompliance.NON_COMPLIANT


def _log_group(node: Any, _vpc: bool) -> Result:
    findings = []
    if not _resolve(node, node.retention_in_days):
        findings.append("RetentionInDays")
    if not _resolve(node, node.kms_key_id):
        findings.append("KmsKeyId")
    return findings or NagRuleCompliance.COMPLIANT


_BROAD_ACTION = re.compile(r"^(\*|(s3|sagemaker|kms):\*)$", re.IGNORECASE)


def _policy_documents(node: Any) -> Iterator[Any]:
    if node.cfn_resource_type == "AWS::IAM::Role":
        for policy in _resolve(node, node.policies) or []:
            yield _get(policy, "policyDocument")
    else:
        yield _resolve(node, node.policy_document)


def _iam_broad_actions(node: Any, _vpc: bool) -> Result:
    findings: list[str] = []
    for document in _policy_documents(node):
        for statement in _get(document, "Statement") or []:
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            for action in actions if isinstance(actions, list) else [actions]:
                if isinstance(action, str) and _BROAD_ACTION.match(action):
                    findings.append(action)
    return sorted(set(findings)) or NagRuleCompliance.COMPLIANT


def _in_vpc(node: Any, vpc: bool) -> Result:
    if not vpc:
        return NagRuleCompliance.NOT_APPLICABLE
    if node.cfn_resource_type == "AWS::Lambda::Function":
        ok = bool(_get(_resolve(node, node.vpc_config), "subnetIds"))
    else:  # Glue job: runs in the VPC through a network connection
        ok = bool(_get(_resolve(node, node.connections), "connections"))
    return NagRuleCompliance.COMPLIANT if ok else NagRuleCompliance.NON_COMPLIANT


RULES: dict[str, Rule] = {
    r.suffix: r
    for r in (
        Rule(
            "SM1",
            "The SageMaker model does not enable network isolation.",
            "A model container with network access can exfiltrate data or pull code at run time."
            " Fix: set EnableNetworkIsolation: true (pass artifacts through S3 only).",
            _model_isolation,
        ),
        Rule(
            "SM2",
            "In VPC mode, the SageMaker model has no VpcConfig.",
            "VPC mode promises that every container runs in the platform's isolated subnets."
            " Fix: set VpcConfig with the platform VPC's private subnets and security group.",
            _model_vpc,
        ),
        Rule(
            "SM3",
            "The endpoint config does not encrypt its ML storage volumes with a KMS key.",
            "Instance volumes hold the model and request data. Fix: set KmsKeyId to the"
            " platform's data key.",
            _endpoint_config_kms,
        ),
        Rule(
            "SM4",
            "The endpoint config does not capture data, or captures it without a KMS key.",
            "Without captured requests and responses Model Monitor cannot detect drift."
            " Fix: set DataCaptureConfig with EnableCapture, a destination and KmsKeyId.",
            _endpoint_config_capture,
        ),
        Rule(
            "SM8",
            "The endpoint config of inference components does not isolate their containers"
            " from the network, or (VPC mode) has no VpcConfig.",
            "An endpoint of inference components sets isolation and VPC for every copy it runs."
            " Fix: set EnableNetworkIsolation: true (and VpcConfig in VPC mode).",
            _components_config_isolated,
        ),
        Rule(
            "SM9",
            "The inference component runs a container instead of a model, or deploys without"
            " rollback alarms.",
            "A container given to the component bypasses the model's network isolation, and a"
            " rollout without alarms cannot roll back. Fix: set Specification.ModelName and"
            " DeploymentConfig.AutoRollbackConfiguration.Alarms.",
            _component_guarded,
        ),
        Rule(
            "SM5",
            "A job step of the pipeline lacks volume or output KMS keys, inter-container"
            " traffic encryption or (VPC mode) a VpcConfig, or a model is registered other than"
            " PendingManualApproval.",
            "Pipeline jobs read the training data and write models, and approval is a person's."
            " Fix: pass volume_kms_key, output_kms_key and NetworkConfig(encrypt_inter_container"
            "_traffic=True, ...) to every estimator and processor, and register with"
            " approval_status='PendingManualApproval' (rules PL1-PL3, PL5, PL9 of"
            " pipeline_rules.py).",
            _pipeline_jobs_encrypted,
        ),
        Rule(
            "SM6",
            "A Model Monitor job lacks network isolation, inter-container encryption, volume or"
            " output KMS keys, or (VPC mode) a VpcConfig.",
            "Monitoring jobs read captured production traffic. Fix: set NetworkConfig"
            " (EnableNetworkIsolation, EnableInterContainerTrafficEncryption) and KMS keys on"
            " the cluster volume and the output.",
            _monitoring_job,
        ),
        Rule(
            "SM7",
            "The model package group's resource policy allows any principal ('*').",
            "A registry shared with '*' exposes every model version to every AWS account."
            " Fix: name the accounts or roles that may read the group.",
            _package_group_not_public,
        ),
        Rule(
            "S1",
            "The S3 bucket does not have versioning enabled.",
            "Training data and models must be recoverable and traceable to a version."
            " Fix: set VersioningConfiguration Status: Enabled.",
            _bucket_versioned,
        ),
        Rule(
            "S2",
            "The S3 bucket has no bucket policy that denies requests without TLS.",
            "Data in transit must be encrypted. Fix: add a Deny statement on"
            " aws:SecureTransport false (enforce_ssl=True on the L2 bucket).",
            _bucket_tls_only,
        ),
        Rule(
            "LOG1",
            "The log group has no retention or no KMS key.",
            "Logs of ML jobs can contain data samples; kept forever and unencrypted they are a"
            " leak and a cost. Fix: set RetentionInDays and KmsKeyId.",
            _log_group,
        ),
        Rule(
            "IAM1",
            "An IAM policy allows a whole-service wildcard action on SageMaker, S3 or KMS.",
            "'sagemaker:*', 's3:*', 'kms:*' or '*' grant far more than any platform role needs."
            " Fix: list the actions, or use the constructs' grant_* methods.",
            _iam_broad_actions,
        ),
        Rule(
            "VPC1",
            "In VPC mode, the Lambda function or Glue job does not run in the platform VPC.",
            "VPC mode promises that compute reaches AWS only through VPC endpoints. Fix: set"
            " VpcConfig (Lambda) or a network Connection (Glue).",
            _in_vpc,
        ),
    )
}

_DISPATCH: dict[str, tuple[str, ...]] = {
    "AWS::SageMaker::Model": ("SM1", "SM2"),
    "AWS::SageMaker::EndpointConfig": ("SM3", "SM4", "SM8"),
    "AWS::SageMaker::InferenceComponent": ("SM9",),
    "AWS::SageMaker::Pipeline": ("SM5",),
    "AWS::SageMaker::MonitoringSchedule": ("SM6",),
    **{t: ("SM6",) for t in _MONITORING_OUTPUTS},
    "AWS::SageMaker::ModelPackageGroup": ("SM7",),
    "AWS::S3::Bucket": ("S1", "S2"),
    "AWS::Logs::LogGroup": ("LOG1",),
    "AWS::IAM::Policy": ("IAM1",),
    "AWS::IAM::ManagedPolicy": ("IAM1",),
    "AWS::IAM::Role": ("IAM1",),
    "AWS::Lambda::Function": ("VPC1",),
    "AWS::Glue::Job": ("VPC1",),
}


@jsii.implements(IApplyRule)
class _Applied:
    """One rule applied to one resource, in the shape cdk-nag's ``_apply_rule`` reads."""

    def __init__(self, rule: Rule, node: cdk.CfnResource, vpc_mode: bool) -> None:
        self._rule, self._node, self._vpc = rule, node, vpc_mode

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.suffix

    @property
    def info(self) -> str:
        return self._rule.info

    @property
    def explanation(self) -> str:
        return self._rule.explanation

    @property
    def level(self) -> NagMessageLevel:
        return NagMessageLevel.ERROR

    @property
    def node(self) -> cdk.CfnResource:
        return self._node

    def rule(self, node: cdk.CfnResource) -> Result:
        return self._rule.check(node, self._vpc)


class MLOpsChecks(NagPack):
    """The platform's own rule pack (rule ids ``MLOps-<suffix>``, see :data:`RULES`).

    ``vpc_mode`` turns on the rules that require VPC placement (SM2, VPC1 and the VPC parts of
    SM5 and SM6). Like every cdk-nag 3 pack, it checks the whole app it is synthesized in, not
    only the stage it is registered on.
    """

    def __init__(
        self, scope: cdk.Stage | None = None, *, vpc_mode: bool = False, verbose: bool = False
    ) -> None:
        super().__init__(scope, verbose=verbose)
        self._pack_name = "MLOps"
        self._vpc_mode = vpc_mode

    @property
    def name(self) -> str:
        return "MLOps"

    def _check_resource(self, node: cdk.CfnResource) -> None:
        for suffix in _DISPATCH.get(node.cfn_resource_type, ()):
            applied = _Applied(RULES[suffix], node, self._vpc_mode)
            if _nothing_to_report(applied, node):
                continue
            # jsii reads the properties through the protocol; mypy sees them as read-only.
            self._apply_rule(cast(IApplyRule, applied))


def _nothing_to_report(applied: _Applied, node: cdk.CfnResource) -> bool:
    """Whether the rule passes ``node`` (compliant, not applicable, no finding), evaluated here.

    cdk-nag's ``applyRule`` records nothing for such a result, yet it costs about six calls
    from node into Python (the rule's suffix, texts, level, node and the rule itself): most of
    the pack's cost, as nearly every rule passes. So only a result with something to report
    (a finding, or an error, which ``applyRule`` turns into its own finding) goes to cdk-nag,
    which evaluates the rule again and checks acknowledgements as before."""
    try:
        result = applied.rule(node)
    except Exception:  # applyRule reports it, as it would have
        return False
    if isinstance(result, list):
        return not result
    return result in (NagRuleCompliance.COMPLIANT, NagRuleCompliance.NOT_APPLICABLE)
