"""The MLOps rule pack: checks the generic cdk-nag packs do not make on ML resources.

A validation plugin that reads the synthesized templates (aws-cdk-lib's
``IPolicyValidationPlugin``, registered as the cdk-nag 3 packs are), so its findings fail
``cdk synth`` and are acknowledged like any other pack's::

    cdk.Validations.of(stage).add_plugins(MLOpsChecks(stage, vpc_mode=False))
    cdk.Validations.of(resource).acknowledge(
        cdk.Acknowledgment(id="MLOps::MLOps-SM4", reason="...why this resource may break it...")
    )

It reads each template's JSON in Python: a cdk-nag ``NagPack`` written in Python costs several
calls between node and Python per resource and per rule, most of the pack's time (see
docs/cost-and-speed.md). The templates are also what deploys, property overrides included.

Every rule has a stable id, a one-line explanation and the fix (:data:`RULES`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from cdk_nag import NagRuleCompliance

from mlops_constructs import __version__
from mlops_constructs.security.pipeline_rules import check_definition
from mlops_constructs.security.pipeline_rules import is_true as _truthy
from mlops_constructs.security.pipeline_rules import value_at as _get

Result = NagRuleCompliance | list[str]


@dataclass(frozen=True)
class Resource:
    """One resource of a synthesized template: its type, its properties (CloudFormation's
    names and values, intrinsic functions unresolved) and the template's other resources."""

    logical_id: str
    type: str
    properties: Mapping[str, Any]
    template: Mapping[str, Any] = field(repr=False)

    def get(self, *path: str) -> Any:
        return _get(self.properties, *path)


@dataclass(frozen=True)
class Rule:
    """One rule: its id suffix, what it checks, why, and how to fix a finding."""

    suffix: str
    info: str
    explanation: str
    check: Callable[[Resource, bool], Result]


# --- SageMaker models and endpoints ---------------------------------------------------------


def _model_isolation(node: Resource, _vpc: bool) -> Result:
    isolated = _truthy(node.get("EnableNetworkIsolation"))
    return NagRuleCompliance.COMPLIANT if isolated else NagRuleCompliance.NON_COMPLIANT


def _model_vpc(node: Resource, vpc: bool) -> Result:
    if not vpc:
        return NagRuleCompliance.NOT_APPLICABLE
    has_vpc = bool(node.get("VpcConfig"))
    return NagRuleCompliance.COMPLIANT if has_vpc else NagRuleCompliance.NON_COMPLIANT


def _endpoint_config_kms(node: Resource, _vpc: bool) -> Result:
    serverless = all(_get(v, "ServerlessConfig") for v in node.get("ProductionVariants") or [])
    # Serverless variants have no ML storage volume to encrypt, and KmsKeyId is rejected
    # for them; data capture output still needs a key (checked by SM4's config).
    if serverless:
        return NagRuleCompliance.NOT_APPLICABLE
    has_key = bool(node.get("KmsKeyId"))
    return NagRuleCompliance.COMPLIANT if has_key else NagRuleCompliance.NON_COMPLIANT


def _endpoint_config_capture(node: Resource, _vpc: bool) -> Result:
    capture = node.get("DataCaptureConfig") or {}
    # An endpoint of inference components (scale_to_zero) is captured by the front door in
    # front of it (ADR 0033); a capture it does configure must still be encrypted.
    if not capture and _components_config(node):
        return NagRuleCompliance.NOT_APPLICABLE
    enabled = capture and _get(capture, "EnableCapture") is not False
    encrypted = bool(_get(capture, "KmsKeyId"))
    return NagRuleCompliance.COMPLIANT if enabled and encrypted else NagRuleCompliance.NON_COMPLIANT


def _components_config(node: Resource) -> bool:
    """Whether an endpoint config hosts inference components: a role of its own and instance
    variants that name no model (the components do)."""
    variants = node.get("ProductionVariants") or []
    return bool(node.get("ExecutionRoleArn")) and all(
        not _get(v, "ModelName") and not _get(v, "ServerlessConfig") for v in variants
    )


def _components_config_isolated(node: Resource, vpc: bool) -> Result:
    if not _components_config(node):
        return NagRuleCompliance.NOT_APPLICABLE
    isolated = _truthy(node.get("EnableNetworkIsolation"))
    in_vpc = not vpc or bool(node.get("VpcConfig"))
    return NagRuleCompliance.COMPLIANT if isolated and in_vpc else NagRuleCompliance.NON_COMPLIANT


def _component_guarded(node: Resource, _vpc: bool) -> Result:
    specification = node.get("Specification") or {}
    deployment = node.get("DeploymentConfig") or {}
    runs_a_model = bool(_get(specification, "ModelName")) and not _get(specification, "Container")
    rolls_back = bool(_get(deployment, "AutoRollbackConfiguration", "Alarms"))
    ok = runs_a_model and rolls_back
    return NagRuleCompliance.COMPLIANT if ok else NagRuleCompliance.NON_COMPLIANT


# --- pipeline definitions -------------------------------------------------------------------


def _definition(node: Resource) -> dict[str, Any]:
    body = node.get("PipelineDefinition", "PipelineDefinitionBody")
    if isinstance(body, dict) and "Fn::Sub" in body:
        sub = body["Fn::Sub"]
        body = sub[0] if isinstance(sub, list) else sub
    if not isinstance(body, str):
        raise ValueError("pipeline definition must be an inline body (or Fn::Sub of one)")
    definition: dict[str, Any] = json.loads(body)
    return definition


def _pipeline_jobs_encrypted(node: Resource, vpc: bool) -> Result:
    # The same rules as the CI check of a team's own definition (pipeline_rules.py), without
    # the project's context: keys present, inter-container encryption, (VPC mode) a VpcConfig,
    # and registration pending a person's approval.
    findings = [f.nag_id for f in check_definition(_definition(node), vpc=vpc)]
    return list(dict.fromkeys(findings)) or NagRuleCompliance.COMPLIANT


# --- monitoring -----------------------------------------------------------------------------

_MONITORING_OUTPUTS = {
    "AWS::SageMaker::DataQualityJobDefinition": "DataQualityJobOutputConfig",
    "AWS::SageMaker::ModelQualityJobDefinition": "ModelQualityJobOutputConfig",
    "AWS::SageMaker::ModelBiasJobDefinition": "ModelBiasJobOutputConfig",
    "AWS::SageMaker::ModelExplainabilityJobDefinition": "ModelExplainabilityJobOutputConfig",
}


def _monitoring_job(node: Resource, vpc: bool) -> Result:
    if node.type == "AWS::SageMaker::MonitoringSchedule":
        job = node.get("MonitoringScheduleConfig", "MonitoringJobDefinition")
        if job is None:  # refers to a separate job definition, which is checked itself
            return NagRuleCompliance.NOT_APPLICABLE
        network, resources = job.get("NetworkConfig"), job.get("MonitoringResources")
        output = job.get("MonitoringOutputConfig")
    else:
        network = node.get("NetworkConfig")
        resources = node.get("JobResources")
        output = node.get(_MONITORING_OUTPUTS[node.type])
    findings = []
    if not _truthy(_get(network, "EnableNetworkIsolation")):
        findings.append("NetworkIsolation")
    if not _truthy(_get(network, "EnableInterContainerTrafficEncryption")):
        findings.append("InterContainerTrafficEncryption")
    if vpc and not _get(network, "VpcConfig"):
        findings.append("VpcConfig")
    if not _get(resources, "ClusterConfig", "VolumeKmsKeyId"):
        findings.append("VolumeKmsKeyId")
    if not _get(output, "KmsKeyId"):
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


def _package_group_not_public(node: Resource, _vpc: bool) -> Result:
    policy = node.get("ModelPackageGroupPolicy")
    if isinstance(policy, str):
        policy = json.loads(policy)
    for statement in _get(policy, "Statement") or []:
        if statement.get("Effect") == "Allow" and _public_principal(statement.get("Principal")):
            return NagRuleCompliance.NON_COMPLIANT
    return NagRuleCompliance.COMPLIANT


def _bucket_versioned(node: Resource, _vpc: bool) -> Result:
    status = node.get("VersioningConfiguration", "Status")
    return NagRuleCompliance.COMPLIANT if status == "Enabled" else NagRuleCompliance.NON_COMPLIANT


def _bucket_tls_only(node: Resource, _vpc: bool) -> Result:
    """A bucket policy of the same template, on this bucket (by reference or by name), denies
    requests without TLS."""
    name = node.get("BucketName")
    names = [{"Ref": node.logical_id}, *([name] if name else [])]
    for other in (node.template.get("Resources") or {}).values():
        if other.get("Type") != "AWS::S3::BucketPolicy":
            continue
        if _get(other, "Properties", "Bucket") not in names:
            continue
        for s in _get(other, "Properties", "PolicyDocument", "Statement") or []:
            secure = _get(s, "Condition", "Bool", "aws:SecureTransport")
            if s.get("Effect") == "Deny" and str(secure).lower() == "false":
                return NagRuleCompliance.COMPLIANT
    return NagRuleCompliance.NON_COMPLIANT


def _log_group(node: Resource, _vpc: bool) -> Result:
    findings = []
    if not node.get("RetentionInDays"):
        findings.append("RetentionInDays")
    if not node.get("KmsKeyId"):
        findings.append("KmsKeyId")
    return findings or NagRuleCompliance.COMPLIANT


_BROAD_ACTION = re.compile(r"^(\*|(s3|sagemaker|kms):\*)$", re.IGNORECASE)


def _policy_documents(node: Resource) -> Iterator[Any]:
    if node.type == "AWS::IAM::Role":
        for policy in node.get("Policies") or []:
            yield _get(policy, "PolicyDocument")
    else:
        yield node.get("PolicyDocument")


def _iam_broad_actions(node: Resource, _vpc: bool) -> Result:
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


def _in_vpc(node: Resource, vpc: bool) -> Result:
    if not vpc:
        return NagRuleCompliance.NOT_APPLICABLE
    if node.type == "AWS::Lambda::Function":
        ok = bool(node.get("VpcConfig", "SubnetIds"))
    else:  # Glue job: runs in the VPC through a network connection
        ok = bool(node.get("Connections", "Connections"))
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
            " Fix: set DataCaptureConfig with EnableCapture, a destination and KmsKeyId."
            " (An endpoint of inference components may leave it out: its front door captures.)",
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


# What a failing rule's finding says without ``verbose`` (cdk-nag's words for the same case).
_ERROR_HINT = "This is generally caused by a parameter referencing an intrinsic function."


@jsii.implements(cdk.IPolicyValidationPlugin)
class MLOpsChecks:
    """The platform's own rule pack (rule ids ``MLOps-<suffix>``, see :data:`RULES`).

    ``vpc_mode`` turns on the rules that require VPC placement (SM2, VPC1 and the VPC parts of
    SM5 and SM6). Like every cdk-nag 3 pack, it checks the whole app it is synthesized in (every
    template aws-cdk-lib gives it), not only the stage it is registered on. ``verbose`` adds
    each rule's explanation, and a failing rule's error, to the findings' descriptions; every
    finding names its fix. ``scope`` is unused: it keeps the signature of the cdk-nag packs
    registered beside it (``pack(scope, verbose=...)``).
    """

    def __init__(
        self, scope: cdk.Stage | None = None, *, vpc_mode: bool = False, verbose: bool = False
    ) -> None:
        self._vpc_mode = vpc_mode
        self._verbose = verbose

    @property
    def name(self) -> str:
        return "MLOps"

    @property
    def rule_ids(self) -> list[str]:
        return [f"MLOps-{suffix}" for suffix in RULES]

    @property
    def version(self) -> str:
        return __version__

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        # (rule id, description, fix) -> the resources with that finding.
        findings: dict[tuple[str, str, str], list[cdk.PolicyViolatingResource]] = {}
        for path in context.template_paths:
            template = json.loads(Path(path).read_text())
            for logical_id, resource in (template.get("Resources") or {}).items():
                node = Resource(
                    logical_id, resource.get("Type", ""), resource.get("Properties") or {}, template
                )
                for suffix in _DISPATCH.get(node.type, ()):
                    rule = RULES[suffix]
                    for rule_name, description in self._findings(rule, node):
                        key = (rule_name, description, rule.explanation)
                        findings.setdefault(key, []).append(
                            cdk.PolicyViolatingResource(
                                resource_logical_id=logical_id,
                                template_path=path,
                                locations=["Properties"],
                            )
                        )
        violations = [
            cdk.PolicyViolation(
                rule_name=rule_name,
                description=description,
                fix=fix,
                severity="error",
                violating_resources=resources,
            )
            for (rule_name, description, fix), resources in findings.items()
        ]
        return cdk.PolicyValidationPluginReport(success=not violations, violations=violations)

    def _findings(self, rule: Rule, node: Resource) -> Iterator[tuple[str, str]]:
        """(rule id, description) of each finding of ``rule`` on ``node``: one for a
        non-compliant resource, one per entry of a list, one for a rule that fails."""
        rule_id = f"MLOps-{rule.suffix}"
        description = f"{rule.info} {rule.explanation}" if self._verbose else rule.info
        try:
            result = rule.check(node, self._vpc_mode)
        except Exception as err:  # a finding, never a pass
            detail = str(err) if self._verbose else _ERROR_HINT
            yield rule_id, f"Rule threw an error during validation. {detail}"
            return
        if isinstance(result, list):
            for finding in result:
                yield f"{rule_id}[{finding}]", description
        elif result == NagRuleCompliance.NON_COMPLIANT:
            yield rule_id, description
