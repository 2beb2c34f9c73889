"""Release governance holds at run time (issue 13), by offline IAM simulation.

Each claim below is a request someone could make in the account, evaluated by
``@cloud-copilot/iam-simulate`` over the SYNTHESIZED policies (identity, bucket, key and model
package group policies, intrinsics resolved; ``tests/iam_sim``): who may register, approve and
release a model version, and what each persona may and may not do. "Every role" means every
role of the synthesized environment: the platform's own, every project's and every persona.

Configurations: the built-in default, config/example.yaml's first environment (three projects;
churn names its approvers and data scientists) and the VPC-mode app (``vpc_synth``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stacks.config import PlatformConfig
from tests.conftest import TEAM_PIPELINE, Synthesized, example_config
from tests.iam_sim import (
    Decision,
    Inventory,
    Request,
    Role,
    endpoint_stacks,
    session_request,
    simulate,
    stacks_of_assembly,
)

ROOT = Path(__file__).resolve().parent.parent
APPROVAL = "sagemaker:ModelApprovalStatus"
PENDING = ((APPROVAL, "PendingManualApproval"),)
APPROVED = ((APPROVAL, "Approved"),)
REJECTED = ((APPROVAL, "Rejected"),)
SESSION = "governance-test"
SSE_S3 = (("s3:x-amz-server-side-encryption", "AES256"),)
SSE_KMS = (("s3:x-amz-server-side-encryption", "aws:kms"),)
OTHER_KEY = "arn:aws:kms:eu-west-1:999999999999:key/00000000-0000-0000-0000-000000000000"
Context = tuple[tuple[str, str], ...]
# A create-if-absent write: CompleteMultipartUpload (or PutObject) with If-None-Match: *.
WRITE_ONCE = (("s3:ObjectCreationOperation", "CompleteMultipartUpload"), ("s3:if-none-match", "*"))


@dataclass(frozen=True)
class Ask:
    """``role`` (a name; "*" every role but ``exempt``) requests ``action`` on ``resource``."""

    role: str
    action: str
    resource: str
    context: Context = ()
    exempt: frozenset[str] = frozenset()
    optional: bool = False  # the role exists only with an option on (batch scoring)


@dataclass
class Governance:
    """Requests of one configuration's claims, evaluated by one node process."""

    inventory: Inventory
    roles: dict[str, Role]  # by name
    policies: dict[str, dict[str, Any]]
    # VPC mode: the S3 gateway endpoint people and jobs inside the VPC reach the lake through
    # (data producers upload from outside it).
    vpce: str | None = None
    # People and impostors outside the platform (never part of "every role").
    others: dict[str, Role] = field(default_factory=dict)
    claims: dict[str, tuple[bool, list[Request]]] = field(default_factory=dict)
    decisions: dict[str, list[Decision]] = field(default_factory=dict)

    def job_network(self, prefix: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The subnets and security groups the pipeline role's jobs must use (VPC mode)."""
        role = self.roles[f"{prefix}-sagemaker-pipeline"]
        for _, document in role.policies:
            for statement in document["Statement"]:
                vpc = statement.get("Condition", {}).get("ForAllValues:StringEquals")
                if statement.get("Sid") == "GuardedJobs" and vpc:
                    subnets, groups = (
                        vpc["sagemaker:VpcSubnets"],
                        vpc["sagemaker:VpcSecurityGroupIds"],
                    )
                    return tuple(subnets), tuple(groups)
        return (), ()

    def shared_key(self, purpose: str) -> str:
        """The ARN of the environment's ``DataKey`` or ``OpsKey``."""
        logical = f"{purpose.title()}Key"
        found = [
            self.inventory.resource(stack, logical_id).arn
            for stack, logical_id, _ in self.inventory.resources_of_type("AWS::KMS::Key")
            if logical_id.startswith(logical)
        ]
        assert len(found) == 1, found
        return found[0]

    def policy_of(self, resource: str) -> str | None:
        """The resource policy that protects ``resource`` (an object: its bucket's; a model
        version: its group's), if there is one."""
        candidates = [resource]
        if resource.startswith("arn:aws:s3:::"):
            candidates.append(resource.split("/", 1)[0])
        version = re.fullmatch(r"(arn:aws:sagemaker:[^:]+:\d+):model-package/([^/]+)/\d+", resource)
        if version:
            candidates.append(f"{version[1]}:model-package-group/{version[2]}")
        return next((c for c in candidates if c in self.policies), None)

    def request(self, role: Role, ask: Ask) -> Request:
        account = self.inventory.account
        # Data producers upload from outside the VPC; SageMaker runs MLflow servers outside it.
        outside = role.name.endswith(("-mlflow",)) or "-data-producer" in role.name
        inside = self.vpce and ask.action.startswith("s3:") and not outside
        vpc = (("aws:SourceVpce", self.vpce),) if inside and self.vpce else ()
        return session_request(
            role,
            account,
            SESSION,
            action=ask.action,
            resource=ask.resource,
            context=vpc + ask.context,
            resource_policy=self.policy_of(ask.resource),
        )

    def claim(self, key: str, allowed: bool, asks: Iterable[Ask]) -> None:
        assert key not in self.claims, key
        requests = []
        for ask in asks:
            if ask.role == "*":
                roles = [r for n, r in sorted(self.roles.items()) if n not in ask.exempt]
            else:
                known = {**self.roles, **self.others}
                if ask.optional and ask.role not in known:
                    continue
                assert ask.role in known, f"no role {ask.role}"
                roles = [known[ask.role]]
            requests += [self.request(role, ask) for role in roles]
        assert requests, key
        self.claims[key] = (allowed, requests)

    def evaluate(self) -> None:
        keys = list(self.claims)
        requests = [r for k in keys for r in self.claims[k][1]]
        everyone = [*self.roles.values(), *self.others.values()]
        identity = {role.arn: list(role.policies) for role in everyone}
        decisions = simulate(requests, identity, self.policies, self.inventory.account)
        for key in keys:
            count = len(self.claims[key][1])
            self.decisions[key], decisions = decisions[:count], decisions[count:]

    def failures(self, key: str) -> list[str]:
        allowed, requests = self.claims[key]
        wrong = []
        for request, decision in zip(requests, self.decisions[key], strict=True):
            assert decision.result != "Error", decision.error
            assert not decision.ignored_context_keys, (request.action, decision)
            if decision.allowed != allowed:
                role = request.principal.split("/")[1]
                reasons = json.dumps(decision.reasons)[:400]
                wrong.append(
                    f"{role}: {decision.result} {request.action} {request.resource} {reasons}"
                )
        return wrong


def load(synth: Synthesized) -> Governance:
    assembly = stacks_of_assembly(synth.outdir)
    first = assembly[0]
    # One environment: the example's first (its other stages are other accounts).
    stacks = [s for s in assembly if (s.account, s.region) == (first.account, first.region)]
    inventory = Inventory(stacks + endpoint_stacks(synth.outdir, first.account, first.region))
    roles = {role.name: role for role in inventory.roles().values()}
    endpoints = [
        inventory.vpc_endpoint_id(stack, logical_id)
        for stack, logical_id, props in inventory.resources_of_type("AWS::EC2::VPCEndpoint")
        if props.get("VpcEndpointType", "Gateway") == "Gateway" and "S3" in logical_id
    ]
    assert len(endpoints) <= 1, endpoints
    vpce = endpoints[0] if endpoints else None
    g = Governance(inventory, roles, inventory.resource_policies(), vpce=vpce)
    account, region = inventory.account, inventory.region
    anything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    for name in (ADMINISTRATOR, IMPOSTOR, f"cdk-hnb659fds-cfn-exec-role-{account}-{region}"):
        g.others[name] = Role(name, f"arn:aws:iam::{account}:role/{name}", "outside", name, (),
                              (("AdministratorAccess", anything),))  # fmt: skip
    return g


# An account administrator (AdministratorAccess), and a role anyone allowed to create roles
# could make with a platform-like name.
ADMINISTRATOR = "Administrator"
IMPOSTOR = "mlops-dev-churn-impostor"


def auditor_claims(g: Governance) -> list[tuple[str, bool, list[Ask]]]:
    """The environment's auditor reads the trail, roles and registries; no data, no change."""
    account, region = g.inventory.account, g.inventory.region
    auditor, logs = "mlops-dev-auditor", f"arn:aws:s3:::mlops-dev-logs-{account}"
    project = "mlops-dev-churn"
    return [
        ("the auditor reads the audit trail, the roles and the registries", True, [
            Ask(auditor, "s3:GetObject", f"{logs}/cloudtrail/AWSLogs/{account}/x.json.gz"),
            Ask(auditor, "kms:Decrypt", g.shared_key("ops"), VIA_S3(region)),
            Ask(auditor, "cloudtrail:LookupEvents", "*"),
            Ask(auditor, "iam:GetRolePolicy", f"arn:aws:iam::{account}:role/{project}-approver"),
            Ask(auditor, "sagemaker:DescribeModelPackage",
                f"arn:aws:sagemaker:{region}:{account}:model-package/{project}-models/1"),
        ]),
        ("the auditor reads no data and changes nothing", False, [
            Ask(auditor, "s3:GetObject", f"arn:aws:s3:::{project}-curated-{account}/t/p.csv"),
            Ask(auditor, "s3:GetObject",
                f"arn:aws:s3:::{project}-artifacts-{account}/data-capture/prod/c.jsonl"),
            Ask(auditor, "s3:PutObject", f"{logs}/cloudtrail/AWSLogs/{account}/x.json.gz"),
            Ask(auditor, "kms:Decrypt", g.shared_key("data"), VIA_S3(region)),
            Ask(auditor, "sagemaker:UpdateModelPackage",
                f"arn:aws:sagemaker:{region}:{account}:model-package/{project}-models/1",
                (("sagemaker:ModelApprovalStatus", "Approved"),)),
            Ask(auditor, "cloudtrail:StopLogging",
                f"arn:aws:cloudtrail:{region}:{account}:trail/mlops-dev-data-lake"),
        ]),
    ]  # fmt: skip


def VIA_S3(region: str) -> Context:
    return (("aws:ViaAWSService", "true"), ("kms:ViaService", f"s3.{region}.amazonaws.com"))


AUDITOR_CLAIMS = [
    "the auditor reads the audit trail, the roles and the registries",
    "the auditor reads no data and changes nothing",
]


def key_claims(g: Governance) -> list[tuple[str, bool, list[Ask]]]:
    """What must hold for the environment's keys."""
    keys = [g.shared_key("data"), g.shared_key("ops")]
    deployer = f"cdk-hnb659fds-cfn-exec-role-{g.inventory.account}-{g.inventory.region}"
    aws = (("kms:GrantIsForAWSResource", "true"),)
    return [
        ("an administrator can neither use the keys nor grant itself nor rewrite their policy",
         False, [Ask(ADMINISTRATOR, a, k) for k in keys
                 for a in ("kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant",
                           "kms:PutKeyPolicy")]),
        ("an administrator still administers the keys", True,
         [Ask(ADMINISTRATOR, a, k) for k in keys
          for a in ("kms:DescribeKey", "kms:EnableKeyRotation", "kms:ScheduleKeyDeletion")]),
        ("a role named like the platform's is no key user", False,
         [Ask(IMPOSTOR, a, k) for k in keys for a in ("kms:Decrypt", "kms:GenerateDataKey")]),
        ("the deployment role may change the key policy", True,
         [Ask(deployer, "kms:PutKeyPolicy", k) for k in keys]),
        ("no role creates a grant for anything but an AWS resource", False,
         [Ask("*", "kms:CreateGrant", k) for k in keys]),
        ("the pipeline and deploy roles create grants for AWS resources", True,
         [Ask(f"mlops-dev-churn-{r}", "kms:CreateGrant", keys[0], aws)
          for r in ("sagemaker-pipeline", "deploy-cfn")]),
    ]  # fmt: skip


KEY_CLAIMS = [
    "an administrator can neither use the keys nor grant itself nor rewrite their policy",
    "an administrator still administers the keys",
    "a role named like the platform's is no key user",
    "the deployment role may change the key policy",
    "no role creates a grant for anything but an AWS resource",
    "the pipeline and deploy roles create grants for AWS resources",
]


@dataclass(frozen=True)
class Project:
    """A project of a configuration under test: where its resources are."""

    prefix: str
    account: str
    region: str
    table: str
    isolated: bool = True  # jobs must be network-isolated (no Clarify model baselines)
    # VPC mode: the subnets and security groups jobs must use.
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    tunes: bool = False  # build.tuning: a tuning job replaces the training job
    imports: bool = False  # build.model_import: models trained elsewhere (ADR 0021)
    tracks: bool = False  # the standard pipelines' Track step (ADR 0023; not a team's own)
    mlflow: bool = False  # build.experiments.mlflow: the project's MLflow tracking server

    def arn(self, service: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}"

    @property
    def via_s3(self) -> Context:
        """A key request S3 makes for the caller (SSE-KMS)."""
        return (
            ("aws:ViaAWSService", "true"),
            ("kms:ViaService", f"s3.{self.region}.amazonaws.com"),
        )

    def bucket(self, purpose: str) -> str:
        return f"arn:aws:s3:::{self.prefix}-{purpose}-{self.account}"


Claim = tuple[str, bool, list[Ask]]  # (what, allowed, requests)


def project_claims(p: Project) -> list[Claim]:
    """What must hold for one project, as requests that must all be allowed or all denied."""
    sm = p.arn("sagemaker")
    version = f"{sm}:model-package/{p.prefix}-models/7"
    raw, curated, artifacts = (p.bucket(b) for b in ("raw", "curated", "artifacts"))
    deploy = f"{p.arn('codepipeline')}:{p.prefix}-deploy"
    gate = f"{deploy}/Approve/ApproveProduction"
    training = f"{sm}:pipeline/{p.prefix}-training"
    bus = f"{p.arn('events')}:event-bus/{p.prefix}-requests"
    approver, scientist, producer, operator = (
        f"{p.prefix}-{persona}"
        for persona in ("approver", "data-scientist", "data-producer", "operator")
    )
    personas = (approver, scientist, producer, operator)
    update, register = "sagemaker:UpdateModelPackage", "sagemaker:CreateModelPackage"
    table = f"{curated}/{p.table}/ingest_date=2026-12-01/part-0.csv"
    sealer, sealed = f"{p.prefix}-fingerprint", f"{artifacts}/sealed/{'a' * 64}/model.tar.gz"
    return [
        # No self-approval: a version registers pending a person, whoever asks.
        ("the pipeline registers versions pending approval", True,
         [Ask(f"{p.prefix}-sagemaker-pipeline", register, version, PENDING)]),
        ("no role registers an approved version", False, [Ask("*", register, version, APPROVED)]),
        ("no role registers a version without naming its status", False,
         [Ask("*", register, version)]),
        # Separation of duties: only the approver approves, the version and production.
        ("only the approver approves or rejects a version", False,
         [Ask("*", update, version, c, frozenset({approver})) for c in (APPROVED, REJECTED)]),
        ("the approver approves and rejects versions", True,
         [Ask(approver, update, version, c) for c in (APPROVED, REJECTED)]),
        ("the approver cannot reset a version or edit its metadata", False,
         [Ask(approver, update, version, c) for c in (
             PENDING, (),
             (*APPROVED, ("sagemaker:CustomerMetadataProperties/ModelArtifactSha256", "0" * 64)),
             (*APPROVED, ("sagemaker:CustomerMetadataProperties/GateMetricValue", "0.99")),
             (*APPROVED, ("sagemaker:CustomerMetadataPropertiesToRemove", "ModelArtifactVersion")),
         )]),
        ("only the approver approves production", False,
         [Ask("*", "codepipeline:PutApprovalResult", gate, exempt=frozenset({approver}))]),
        ("the approver approves production", True,
         [Ask(approver, "codepipeline:PutApprovalResult", gate)]),
        ("only the router starts the deploy pipeline", False,
         [Ask("*", "codepipeline:StartPipelineExecution", deploy,
              exempt=frozenset({f"{p.prefix}-deploy-router"}))]),
        # Personas: what each may do...
        ("the approver reads evaluation reports and versions", True, [
            Ask(approver, "s3:GetObject", f"{artifacts}/pipelines/e1/evaluation/evaluation.json"),
            Ask(approver, "sagemaker:DescribeModelPackage", version),
        ]),
        ("the data scientist reads curated data and results, publishes code", True, [
            Ask(scientist, "s3:GetObject", table),
            Ask(scientist, "s3:GetObject", f"{artifacts}/pipelines/e1/model/model.tar.gz"),
            Ask(scientist, "s3:PutObject", f"{artifacts}/ci/source/ml-project.zip"),
            Ask(scientist, "sagemaker:DescribePipelineExecution", f"{training}/execution/e1"),
            Ask(scientist, "kms:GenerateDataKey", "data key", p.via_s3),
        ]),
        ("the data producer writes raw data and ground truth", True, [
            Ask(producer, "s3:PutObject", f"{raw}/incoming/batch-1.csv"),
            Ask(producer, "s3:PutObject", f"{curated}/ground-truth/prod/2026/12/01/00/l.jsonl"),
            Ask(producer, "kms:GenerateDataKey", "data key", p.via_s3),
        ]),
        ("the operator reads pipelines, versions and alarms", True, [
            Ask(operator, "codepipeline:GetPipelineState", deploy),
            Ask(operator, "sagemaker:ListPipelineExecutions", training),
            Ask(operator, "sagemaker:DescribeModelPackage", version),
            Ask(operator, "cloudwatch:DescribeAlarms",
                f"{p.arn('cloudwatch')}:alarm:{p.prefix}-prod-drift-data"),
        ]),
        # ... and what none of them may.
        ("no persona starts training or a release, or changes production", False, [
            *(Ask(r, "codepipeline:StartPipelineExecution", deploy) for r in personas),
            *(Ask(r, "sagemaker:StartPipelineExecution", training) for r in personas),
            *(Ask(r, "sagemaker:UpdateEndpoint", f"{sm}:endpoint/{p.prefix}-prod")
              for r in personas),
        ]),
        ("only the monitors read captured traffic and ground truth", False, [
            Ask("*", "s3:GetObject", f"{artifacts}/data-capture/prod/2026/12/01/00/c.jsonl",
                exempt=monitors(p.prefix)),
            Ask("*", "s3:GetObject", f"{curated}/ground-truth/prod/2026/12/01/00/l.jsonl",
                exempt=monitors(p.prefix)),
        ]),
        ("CI, which runs the team's installs with internet access, reads no data", False, [
            Ask(f"{p.prefix}-{ci}", "s3:GetObject", obj)
            for ci in ("ml-build", "ml-cicd")
            for obj in (table, f"{artifacts}/pipelines/e1/data/train/train.csv",
                        f"{artifacts}/data-capture/prod/c.jsonl",
                        f"{curated}/ground-truth/prod/l.jsonl", f"{raw}/incoming/batch-1.csv")
        ]),
        ("CI reads the code and its pipeline's artifacts", True, [
            Ask(f"{p.prefix}-ml-build", "s3:GetObject", f"{artifacts}/ci/source/ml-project.zip"),
            Ask(f"{p.prefix}-ml-cicd", "s3:GetObject", f"{artifacts}/ci/source/ml-project.zip"),
        ]),
        ("no persona reads captured traffic or ground truth", False, [
            *(Ask(r, "s3:GetObject", f"{artifacts}/data-capture/prod/capture.jsonl")
              for r in personas),
            *(Ask(r, "s3:GetObject", f"{curated}/ground-truth/prod/labels.jsonl")
              for r in personas),
        ]),
        ("no persona overwrites or deletes results or data", False, [
            *(Ask(r, "s3:PutObject", f"{artifacts}/pipelines/e1/model/model.tar.gz")
              for r in personas),
            *(Ask(r, "s3:DeleteObject", f"{raw}/incoming/batch-1.csv") for r in personas),
            Ask(producer, "s3:PutObject", table),
        ]),
        ("only the data scientist reads the curated table", False, [
            Ask(r, "s3:GetObject", table) for r in (approver, producer, operator)
        ]),
        # Manual requests (retraining, batch runs): the project's bus, its operators only.
        ("only the operator requests retraining and batch runs", False, [
            Ask("*", "events:PutEvents", bus, exempt=frozenset({operator})),
            Ask(ADMINISTRATOR, "events:PutEvents", bus),
        ]),
        ("the operator requests retraining and batch runs", True,
         [Ask(operator, "events:PutEvents", bus)]),
        # A version's files: written by the training pipeline only.
        ("only the training pipeline writes a version's files", False, [
            Ask("*", a, obj, exempt=frozenset({f"{p.prefix}-sagemaker-pipeline"}))
            for a in ("s3:PutObject", "s3:DeleteObject")
            for obj in (f"{artifacts}/models/pipelines-e1-Train/output/model.tar.gz",
                        f"{artifacts}/pipelines/e1/baselines/monitoring/statistics.json")
        ] + [Ask(ADMINISTRATOR, "s3:PutObject",
                 f"{artifacts}/models/pipelines-e1-Train/output/model.tar.gz")]),
        ("the training pipeline writes a version's files", True, [
            Ask(f"{p.prefix}-sagemaker-pipeline", "s3:PutObject",
                f"{artifacts}/models/pipelines-e1-Train/output/model.tar.gz"),
            Ask(f"{p.prefix}-sagemaker-pipeline", "s3:PutObject",
                f"{artifacts}/pipelines/e1/evaluation/evaluation.json"),
        ]),
        # The files a version is registered with: sealed write-once by its Fingerprint step.
        ("the fingerprint step seals a version's files, write-once", True, [
            Ask(sealer, "s3:PutObject", sealed, (("s3:ObjectCreationOperation", op),))
            for op in ("CreateMultipartUpload", "UploadPartCopy")
        ] + [Ask(sealer, "s3:PutObject", sealed, WRITE_ONCE)]),
        ("nobody overwrites or deletes a sealed file, not even the sealer", False, [
            Ask("*", "s3:PutObject", sealed, WRITE_ONCE, exempt=frozenset({sealer})),
            Ask(ADMINISTRATOR, "s3:PutObject", sealed, WRITE_ONCE),
            *(Ask(r, "s3:PutObject", sealed, (("s3:ObjectCreationOperation", op),))
              for r in (sealer, ADMINISTRATOR)
              for op in ("PutObject", "CompleteMultipartUpload", "CopyObject")),
            Ask(sealer, "s3:PutObject", sealed),
            # nor retags it, or puts a retention or legal hold on it
            *(Ask(sealer, a, sealed) for a in ("s3:PutObjectTagging", "s3:PutObjectRetention",
                                               "s3:PutObjectLegalHold")),
            Ask("*", "s3:DeleteObject", sealed),
            Ask(ADMINISTRATOR, "s3:DeleteObject", sealed),
        ]),
        ("endpoints read sealed models, not a run's outputs", True, [
            Ask(f"{p.prefix}-{stage}-endpoint", "s3:GetObject", sealed)
            for stage in ("staging", "prod")
        ]),
        ("endpoints read no unsealed model", False, [
            Ask(f"{p.prefix}-{stage}-endpoint", "s3:GetObject",
                f"{artifacts}/models/pipelines-e1-Train/output/model.tar.gz")
            for stage in ("staging", "prod")
        ]),
        # The deploy pipeline's artifact store: a release cannot be swapped while it waits.
        ("only the deploy pipeline writes its artifact store", False, [
            Ask("*", a, f"{p.bucket('releases')}/{p.prefix[:20]}/Templates/abc.zip",
                exempt=frozenset({f"{p.prefix}-deploy-pipeline"}))
            for a in ("s3:PutObject", "s3:DeleteObject")
        ] + [Ask(ADMINISTRATOR, "s3:PutObject",
                 f"{p.bucket('releases')}/{p.prefix[:20]}/Templates/abc.zip")]),
        ("the deploy pipeline writes its artifact store", True, [
            Ask(f"{p.prefix}-deploy-pipeline", "s3:PutObject",
                f"{p.bucket('releases')}/{p.prefix[:20]}/Templates/abc.zip")
        ]),
        # Buckets refuse objects not encrypted with the data key, and never lose a version.
        ("objects encrypted otherwise than with the data key are refused", False, [
            Ask(producer, "s3:PutObject", f"{raw}/incoming/batch-1.csv", c)
            for c in (SSE_S3, (("s3:x-amz-server-side-encryption", "aws:kms"),),
                      (*SSE_KMS, ("s3:x-amz-server-side-encryption-aws-kms-key-id", OTHER_KEY)))
        ]),
        ("objects encrypted with the data key, or by the bucket's default, are accepted", True, [
            Ask(producer, "s3:PutObject", f"{raw}/incoming/batch-1.csv", c)
            for c in ((), (*SSE_KMS, ("s3:x-amz-server-side-encryption-aws-kms-key-id", "data key")))
        ]),
        ("no role deletes an object version", False, [
            Ask("*", "s3:DeleteObjectVersion", f"{artifacts}/pipelines/e1/model/model.tar.gz"),
            Ask(ADMINISTRATOR, "s3:DeleteObjectVersion", f"{raw}/incoming/batch-1.csv"),
        ]),
        # Guardrails at run time: jobs created directly with the pipeline's role meet them.
        *job_claims(p),
        *endpoint_claims(p),
        *import_claims(p),
        *tracking_claims(p),
        *mlflow_claims(p),
        ("the data producer reads nothing back", False, [
            Ask(producer, "s3:GetObject", f"{raw}/incoming/batch-1.csv"),
            Ask(producer, "s3:GetObject", f"{curated}/ground-truth/prod/2026/12/01/00/l.jsonl"),
        ]),
    ]  # fmt: skip


def import_claims(p: Project) -> list[Claim]:
    """Bring your own model (ADR 0021): data scientists upload, only the import function
    starts the import pipeline, and that function reads imports and starts nothing else."""
    if not p.imports:
        return []
    sm, artifacts = p.arn("sagemaker"), p.bucket("artifacts")
    imports, training = f"{sm}:pipeline/{p.prefix}-import", f"{sm}:pipeline/{p.prefix}-training"
    function, pipeline_role = f"{p.prefix}-model-import", f"{p.prefix}-sagemaker-pipeline"
    function_arn = f"{p.arn('lambda')}:function:{function}"
    model, manifest = (f"{artifacts}/imports/m1/{f}" for f in ("model.tar.gz", "import.json"))
    scientist = f"{p.prefix}-data-scientist"
    others = [f"{p.prefix}-{r}" for r in ("approver", "data-producer", "operator")]
    parameter = f"{p.arn('ssm')}:parameter/{p.prefix}/ml/code-version"
    return [
        ("the data scientist uploads a model and its manifest, and follows the import", True, [
            Ask(scientist, "s3:PutObject", model), Ask(scientist, "s3:PutObject", manifest),
            Ask(scientist, "kms:GenerateDataKey", "data key", p.via_s3),
            Ask(scientist, "sagemaker:ListPipelineExecutions", imports),
            Ask(scientist, "sagemaker:DescribePipelineExecution", f"{imports}/execution/e1"),
        ]),
        ("no other persona uploads an import, and nobody starts one by hand", False, [
            *(Ask(r, "s3:PutObject", manifest) for r in others),
            Ask("*", "sagemaker:StartPipelineExecution", imports, exempt=frozenset({function})),
        ]),
        ("the import function starts the import and reads imports and the code version", True, [
            Ask(function, "sagemaker:StartPipelineExecution", imports),
            Ask(function, "s3:GetObject", model), Ask(function, "s3:GetObject", manifest),
            Ask(function, "kms:Decrypt", "data key", p.via_s3),
            Ask(function, "ssm:GetParameter", parameter),
        ]),
        ("the import function starts no training, reads no data and writes nothing", False, [
            Ask(function, "sagemaker:StartPipelineExecution", training),
            Ask(function, "s3:GetObject", f"{p.bucket('curated')}/{p.table}/part-0.csv"),
            Ask(function, "s3:GetObject", f"{artifacts}/pipelines/e1/model/model.tar.gz"),
            Ask(function, "s3:PutObject", model),
            Ask(function, "sagemaker:CreateModelPackage",
                f"{sm}:model-package/{p.prefix}-models/7", PENDING),
        ]),
        ("only the pipeline role runs the import's check step", False, [
            Ask("*", "lambda:InvokeFunction", function_arn, exempt=frozenset({pipeline_role})),
        ]),
        ("the pipeline role checks, reads and packages the import", True, [
            Ask(pipeline_role, "lambda:InvokeFunction", function_arn),
            Ask(pipeline_role, "s3:GetObject", model),
            Ask(pipeline_role, "s3:PutObject", f"{artifacts}/pipelines/e1/model/model.tar.gz"),
        ]),
    ]  # fmt: skip


def tracking_claims(p: Project) -> list[Claim]:
    """Experiment tracking (ADR 0023): only the tracking function writes the project's run
    records (trial components <prefix>-<execution id>, joined to trials <pipeline>-<id>), and
    reads only the runs' evaluation reports; the data scientist and operator read the
    project's experiments, trials and records by name, and nobody another project's."""
    if not p.tracks:
        return []
    sm, artifacts = p.arn("sagemaker"), p.bucket("artifacts")
    function, pipeline_role = f"{p.prefix}-experiment-tracking", f"{p.prefix}-sagemaker-pipeline"
    function_arn = f"{p.arn('lambda')}:function:{function}"
    record, other = f"{sm}:experiment-trial-component/{p.prefix}-e1", "mlops-dev-other"
    pipelines = ["training", *(["import"] if p.imports else [])]
    trials = [f"{sm}:experiment-trial/{p.prefix}-{name}-e1" for name in pipelines]
    experiments = [f"{sm}:experiment/{p.prefix}-{name}" for name in pipelines]
    report = f"{artifacts}/pipelines/e1/evaluation/evaluation.json"
    readers = [f"{p.prefix}-{r}" for r in ("data-scientist", "operator")]
    personas = [
        f"{p.prefix}-{r}" for r in ("approver", "data-scientist", "data-producer", "operator")
    ]
    writes = ("sagemaker:CreateTrialComponent", "sagemaker:UpdateTrialComponent")
    return [
        ("the tracking function records the run and reads its evaluation report", True, [
            *(Ask(function, a, record) for a in (*writes, "sagemaker:DescribeTrialComponent",
                                                  "sagemaker:AssociateTrialComponent")),
            *(Ask(function, "sagemaker:AssociateTrialComponent", t) for t in trials),
            Ask(function, "s3:GetObject", report),
            Ask(function, "kms:Decrypt", "data key", p.via_s3),
        ]),
        ("nobody but the tracking function writes the project's run records", False, [
            *(Ask("*", a, record, exempt=frozenset({function})) for a in writes),
            *(Ask("*", "sagemaker:AssociateTrialComponent", t, exempt=frozenset({function}))
              for t in trials),
            Ask("*", "sagemaker:DeleteTrialComponent", record),
        ]),
        ("the tracking function reads no data, writes no file and no other project's record",
         False, [
            Ask(function, "s3:GetObject", f"{p.bucket('curated')}/{p.table}/part-0.csv"),
            Ask(function, "s3:GetObject", f"{artifacts}/pipelines/e1/model/model.tar.gz"),
            Ask(function, "s3:GetObject", f"{artifacts}/pipelines/e1/data/train/train.csv"),
            Ask(function, "s3:PutObject", report),
            Ask(function, "sagemaker:CreateTrialComponent",
                f"{sm}:experiment-trial-component/{other}-e1"),
            Ask(function, "sagemaker:AssociateTrialComponent",
                f"{sm}:experiment-trial/{other}-training-e1"),
            Ask(function, "sagemaker:CreateModelPackage",
                f"{sm}:model-package/{p.prefix}-models/7", PENDING),
        ]),
        ("only the pipeline role runs the Track step", False, [
            Ask("*", "lambda:InvokeFunction", function_arn, exempt=frozenset({pipeline_role})),
        ]),
        ("the pipeline role runs the Track step", True,
         [Ask(pipeline_role, "lambda:InvokeFunction", function_arn)]),
        ("the data scientist and operator read the project's experiments, trials and records",
         True, [
            *(Ask(r, "sagemaker:DescribeExperiment", e) for r in readers for e in experiments),
            *(Ask(r, "sagemaker:DescribeTrial", t) for r in readers for t in trials),
            *(Ask(r, "sagemaker:DescribeTrialComponent", record) for r in readers),
        ]),
        ("no persona reads another project's runs, searches every project's, or writes one",
         False, [
            *(Ask(r, "sagemaker:DescribeTrialComponent",
                  f"{sm}:experiment-trial-component/{other}-e1") for r in personas),
            *(Ask(r, "sagemaker:DescribeTrial", f"{sm}:experiment-trial/{other}-training-e1")
              for r in personas),
            *(Ask(r, "sagemaker:Search", "*") for r in personas),
            *(Ask(r, a, record) for r in personas for a in writes),
        ]),
    ]  # fmt: skip


def mlflow_claims(p: Project) -> list[Claim]:
    """The project's MLflow tracking server (ADR 0023): runs written by the tracking function
    only, read by the project's data scientist only; its own role reaches mlflow/ only, from
    outside the VPC (SageMaker runs the server)."""
    if not p.mlflow:
        return []
    sm, artifacts = p.arn("sagemaker"), p.bucket("artifacts")
    server = f"{sm}:mlflow-tracking-server/{p.prefix}-mlflow"
    other = f"{sm}:mlflow-tracking-server/mlops-dev-other-mlflow"
    function, scientist, store = (
        f"{p.prefix}-{r}" for r in ("experiment-tracking", "data-scientist", "mlflow")
    )
    others = [f"{p.prefix}-{r}" for r in ("approver", "data-producer", "operator")]
    writes = (
        "sagemaker-mlflow:CreateRun",
        "sagemaker-mlflow:LogBatch",
        "sagemaker-mlflow:UpdateRun",
    )
    artifact = f"{artifacts}/mlflow/1/0a1b/artifacts/model.pkl"
    return [
        ("the tracking function logs runs to the project's MLflow server", True, [
            Ask(function, a, server) for a in (*writes, "sagemaker-mlflow:CreateExperiment",
                                               "sagemaker-mlflow:GetExperimentByName",
                                               "sagemaker-mlflow:SearchRuns")
        ]),
        ("nobody but the tracking function writes runs to the project's MLflow server", False, [
            *(Ask("*", a, server, exempt=frozenset({function})) for a in writes),
            *(Ask(function, a, server) for a in ("sagemaker-mlflow:DeleteRun",
                                                 "sagemaker-mlflow:DeleteExperiment",
                                                 "sagemaker-mlflow:CreateRegisteredModel")),
            Ask(function, "sagemaker-mlflow:CreateRun", other),
        ]),
        ("the data scientist opens and reads the project's MLflow server", True, [
            Ask(scientist, "sagemaker:CreatePresignedMlflowTrackingServerUrl", server),
            Ask(scientist, "sagemaker-mlflow:AccessUI", "*"),
            *(Ask(scientist, a, server) for a in ("sagemaker-mlflow:GetRun",
                                                  "sagemaker-mlflow:SearchRuns",
                                                  "sagemaker-mlflow:GetMetricHistory",
                                                  "sagemaker-mlflow:ListArtifacts")),
        ]),
        ("no persona reads another project's MLflow server, nor another persona this one",
         False, [
            Ask(scientist, "sagemaker-mlflow:GetRun", other),
            Ask(scientist, "sagemaker:CreatePresignedMlflowTrackingServerUrl", other),
            *(Ask(r, "sagemaker:CreatePresignedMlflowTrackingServerUrl", server) for r in others),
            *(Ask(r, "sagemaker-mlflow:SearchRuns", server) for r in others),
        ]),
        ("the MLflow server's role keeps its artifacts under mlflow/, from outside the VPC",
         True, [
            Ask(store, "s3:PutObject", artifact),
            Ask(store, "s3:GetObject", artifact),
            Ask(store, "s3:ListBucket", artifacts, (("s3:prefix", "mlflow/1/"),)),
            Ask(store, "kms:GenerateDataKey", "data key", p.via_s3),
        ]),
        ("the MLflow server's role reads nothing else", False, [
            Ask(store, "s3:GetObject", f"{artifacts}/pipelines/e1/model/model.tar.gz"),
            Ask(store, "s3:GetObject", f"{artifacts}/sealed/{'a' * 64}/model.tar.gz"),
            Ask(store, "s3:GetObject", f"{p.bucket('curated')}/{p.table}/part-0.csv"),
            Ask(store, "s3:ListBucket", artifacts, (("s3:prefix", "pipelines/"),)),
            Ask(store, "s3:DeleteObject", artifact),
            Ask(store, "kms:Decrypt", "data key"),
        ]),
    ]  # fmt: skip


def endpoint_claims(p: Project) -> list[Claim]:
    """The deploy role creates the real-time production model isolated (in the VPC in VPC
    mode) and its endpoint config with the data key, as the template does; nothing else."""
    sm, role = p.arn("sagemaker"), f"{p.prefix}-deploy-cfn"
    model = f"{sm}:model/{p.prefix}-endpoint-prod-Model-0a1b2c3d4e5f"
    config = f"{sm}:endpoint-config/{p.prefix}-endpoint-prod-Config-0a1b2c3d4e5f"
    isolated: dict[str, Any] = {"sagemaker:NetworkIsolation": "true"}
    if p.subnets:
        isolated["sagemaker:VpcSubnets"] = list(p.subnets)
        isolated["sagemaker:VpcSecurityGroupIds"] = list(p.security_groups)
    keyed = {"sagemaker:VolumeKmsKeyArn": "data key"}
    bad_models = [{**isolated, "sagemaker:NetworkIsolation": "false"}, {}]
    if p.subnets:
        bad_models.append({"sagemaker:NetworkIsolation": "true"})
    batch = f"{sm}:model/{p.prefix}-batch-v7"
    claims: list[Claim] = [
        ("the deploy role creates production's model and config as templated", True, [
            Ask(role, "sagemaker:CreateModel", model, tuple(isolated.items())),
            Ask(role, "sagemaker:CreateEndpointConfig", config, tuple(keyed.items())),
        ]),
        ("the deploy role creates no production model unisolated, no config without the key",
         False, [
            *(Ask(role, "sagemaker:CreateModel", model, tuple(b.items())) for b in bad_models),
            Ask(role, "sagemaker:CreateEndpointConfig", config),
            Ask(role, "sagemaker:CreateEndpointConfig", config,
                (("sagemaker:VolumeKmsKeyArn", OTHER_KEY),)),
        ]),
        # Batch scoring's model (when the role exists) and the pipeline's Clarify shadow model.
        ("no model is created unisolated by batch scoring or the pipeline", False, [
            Ask(r, "sagemaker:CreateModel", m, tuple(b.items()), optional=True)
            for r, m in ((f"{p.prefix}-batch-scoring", batch),
                         (f"{p.prefix}-sagemaker-pipeline",
                          f"{sm}:model/pipelines-e1-ShadowModel-CreateModel"))
            for b in bad_models
        ]),
    ]  # fmt: skip
    if not p.isolated:
        # Clarify's shadow endpoint (model baselines on): its config names no key (Clarify
        # offers none), so the instance type is what IAM holds it to.
        pipeline = f"{p.prefix}-sagemaker-pipeline"
        shadow = f"{sm}:endpoint-config/{p.prefix}-clarify-endpoint-1a2b3c"
        claims += [
            ("the pipeline's Clarify creates its shadow endpoint config", True, [
                Ask(pipeline, "sagemaker:CreateEndpointConfig", shadow,
                    (("sagemaker:InstanceTypes", ["ml.m5.large"]),))  # type: ignore[arg-type]
            ]),
            ("no shadow endpoint config of another instance type, or of none", False, [
                Ask(pipeline, "sagemaker:CreateEndpointConfig", shadow,
                    (("sagemaker:InstanceTypes", ["ml.p4d.24xlarge"]),)),  # type: ignore[arg-type]
                Ask(pipeline, "sagemaker:CreateEndpointConfig", shadow),
            ]),
        ]  # fmt: skip
    return claims


def job_claims(p: Project) -> list[Claim]:
    """Jobs the pipeline role creates carry isolation, encryption, the data key (and the VPC)."""
    sm = p.arn("sagemaker")
    role = f"{p.prefix}-sagemaker-pipeline"
    jobs = [
        ("sagemaker:CreateTrainingJob", f"{sm}:training-job/pipelines-e1-Train"),
        ("sagemaker:CreateProcessingJob", f"{sm}:processing-job/pipelines-e1-Evaluate"),
    ]
    tuning = ("sagemaker:CreateHyperParameterTuningJob", f"{sm}:hyper-parameter-tuning-job/e1")
    if p.tunes:
        jobs.append(tuning)
    good: dict[str, Any] = {
        "sagemaker:NetworkIsolation": "true",
        "sagemaker:InterContainerTrafficEncryption": "true",
        "sagemaker:VolumeKmsKeyArn": "data key",
        "sagemaker:OutputKmsKeyArn": "data key",
    }
    if p.subnets:
        good["sagemaker:VpcSubnets"] = list(p.subnets)
        good["sagemaker:VpcSecurityGroupIds"] = list(p.security_groups)
    bad = [
        {k: v for k, v in good.items() if k != "sagemaker:VolumeKmsKeyArn"},
        {**good, "sagemaker:OutputKmsKeyArn": OTHER_KEY},
        {**good, "sagemaker:InterContainerTrafficEncryption": "false"},
    ]
    if p.isolated:
        bad.append({**good, "sagemaker:NetworkIsolation": "false"})
    if p.subnets:
        bad.append({k: v for k, v in good.items() if not k.startswith("sagemaker:Vpc")})
        bad.append({**good, "sagemaker:VpcSubnets": [*p.subnets, "subnet-0123456789abcdef0"]})
    return [
        ("the pipeline creates jobs as its definition does", True,
         [Ask(role, a, r, tuple(good.items())) for a, r in jobs]),
        ("the pipeline's role creates no job without isolation, encryption, the key or the VPC",
         False, [Ask(role, a, r, tuple(b.items())) for a, r in jobs for b in bad]),
        # A project that does not tune creates no tuning job, however it is asked.
        ("only a tuning project's pipeline creates tuning jobs", p.tunes,
         [Ask(role, *tuning, tuple(good.items()))]),
    ]  # fmt: skip


def monitors(prefix: str) -> frozenset[str]:
    """The roles that read captured traffic and ground truth (open monitoring, Model Monitor)."""
    return frozenset(
        {f"{prefix}-monitoring-pipeline"}
        | {f"{prefix}-{t}-monitor" for t in ("staging", "prod", "batch")}
    )


CLAIM_NAMES = [name for name, _, _ in project_claims(Project("p", "1", "r", "t"))]
EXAMPLE = example_config()


def projects_of(config: PlatformConfig, g: Governance | None = None) -> list[Project]:
    env = config.environments[0]
    projects = []
    for project in config.projects:
        prefix = config.prefix(env.name, project.name)
        subnets, groups = g.job_network(prefix) if g else ((), ())
        projects.append(
            Project(
                prefix,
                env.resolved_account(),
                env.resolved_region(),
                project.dataset.table_name,
                isolated=not project.build.model_baselines,
                subnets=subnets,
                security_groups=groups,
                tunes=project.build.tuning.enabled,
                imports=project.build.model_import.enabled,
                tracks=project.build.enabled and not project.build.custom,
                mlflow=project.build.experiments.mlflow.enabled,
            )
        )
    return projects


def evaluate(synth: Synthesized) -> Governance:
    config = next(iter(synth.stages.values())).config
    g = load(synth)
    for name, allowed, asks in key_claims(g):
        g.claim(f"keys: {name}", allowed, asks)
    for name, allowed, asks in auditor_claims(g):
        g.claim(f"auditor: {name}", allowed, asks)
    key = g.shared_key("data")
    for project in projects_of(config, g):
        for name, allowed, asks in project_claims(project):
            g.claim(
                f"{project.prefix}: {name}",
                allowed,
                [Ask(a.role, a.action, key if a.resource == "data key" else a.resource,
                     tuple((k, key if v == "data key" else v) for k, v in a.context),
                     a.exempt, a.optional) for a in asks],
            )  # fmt: skip
    g.evaluate()
    return g


@pytest.fixture(scope="module")
def example(example_synth: Synthesized) -> Governance:
    return evaluate(example_synth)


@pytest.fixture(scope="module")
def default(default_synth: Synthesized) -> Governance:
    return evaluate(default_synth)


@pytest.mark.parametrize("claim", CLAIM_NAMES)
def test_default(default: Governance, claim: str) -> None:
    wrong = default.failures(f"mlops-dev-churn: {claim}")
    assert not wrong, "\n  ".join(wrong)


@pytest.fixture(scope="module")
def vpc(vpc_synth: Synthesized) -> Governance:
    g = evaluate(vpc_synth)
    subnets, groups = g.job_network("mlops-dev-churn")
    assert len(subnets) >= 2 and len(groups) == 1  # the VPC claims are exercised
    assert g.vpce is not None
    return g


@pytest.mark.parametrize("claim", CLAIM_NAMES)
@pytest.mark.parametrize("project", [p.prefix for p in projects_of(EXAMPLE)])
def test_example(example: Governance, project: str, claim: str) -> None:
    wrong = example.failures(f"{project}: {claim}")
    assert not wrong, "\n  ".join(wrong)


@pytest.mark.parametrize("claim", CLAIM_NAMES)
@pytest.mark.parametrize("project", ["churn", TEAM_PIPELINE])
def test_vpc_mode(vpc: Governance, project: str, claim: str) -> None:
    """Both of vpc_synth's projects; the second builds its own pipeline definition (ADR 0016):
    its role and its guardrails are the standard ones."""
    wrong = vpc.failures(f"mlops-dev-{project}: {claim}")
    assert not wrong, "\n  ".join(wrong)


@pytest.mark.parametrize("claim", KEY_CLAIMS)
def test_keys(example: Governance, default: Governance, vpc: Governance, claim: str) -> None:
    for g in (example, default, vpc):
        wrong = g.failures(f"keys: {claim}")
        assert not wrong, "\n  ".join(wrong)


@pytest.mark.parametrize("claim", AUDITOR_CLAIMS)
def test_auditor(example: Governance, default: Governance, vpc: Governance, claim: str) -> None:
    for g in (example, default, vpc):
        wrong = g.failures(f"auditor: {claim}")
        assert not wrong, "\n  ".join(wrong)


# Claims made only of projects with Clarify's model baselines on (the example's churn).
SHADOW_CLAIMS = [
    name
    for name, _, _ in endpoint_claims(Project("p", "1", "r", "t", isolated=False))
    if name not in CLAIM_NAMES
]


@pytest.mark.parametrize("claim", SHADOW_CLAIMS)
def test_clarify_shadow_endpoint(example: Governance, claim: str) -> None:
    shadowed = [p.prefix for p in projects_of(EXAMPLE) if not p.isolated]
    assert shadowed == ["mlops-dev-churn"]
    for prefix in shadowed:
        wrong = example.failures(f"{prefix}: {claim}")
        assert not wrong, "\n  ".join(wrong)


# Claims made only of projects that import models (ADR 0021): the example's demand and fraud,
# and vpc_synth's churn (VPC mode, every baseline option).
IMPORT_CLAIMS = [
    name
    for name, _, _ in import_claims(Project("p", "1", "r", "t", imports=True))
    if name not in CLAIM_NAMES
]


@pytest.mark.parametrize("claim", IMPORT_CLAIMS)
def test_model_import(example: Governance, vpc: Governance, claim: str) -> None:
    importing = [p.prefix for p in projects_of(EXAMPLE) if p.imports]
    assert importing == ["mlops-dev-demand", "mlops-dev-fraud"]
    for g, prefixes in ((example, importing), (vpc, ["mlops-dev-churn"])):
        for prefix in prefixes:
            wrong = g.failures(f"{prefix}: {claim}")
            assert not wrong, "\n  ".join(wrong)


# Claims made only of projects whose standard pipelines record their runs (ADR 0023): every
# project of the three configurations but vpc_synth's TEAM_PIPELINE; and of those with an MLflow
# server: vpc_synth's churn.
TRACKING_CLAIMS = [
    name
    for name, _, _ in tracking_claims(Project("p", "1", "r", "t", tracks=True))
    if name not in CLAIM_NAMES
]
MLFLOW_CLAIMS = [name for name, _, _ in mlflow_claims(Project("p", "1", "r", "t", mlflow=True))]


@pytest.mark.parametrize("claim", TRACKING_CLAIMS)
def test_experiment_tracking(
    example: Governance, default: Governance, vpc: Governance, claim: str
) -> None:
    tracking = [p.prefix for p in projects_of(EXAMPLE) if p.tracks]
    assert len(tracking) == 3
    vpc_prefixes = ["mlops-dev-churn", f"mlops-dev-{TEAM_PIPELINE}"]
    assert f"{vpc_prefixes[1]}: {claim}" not in vpc.claims  # a team's pipeline has no Track
    for g, prefixes in (
        (example, tracking),
        (default, ["mlops-dev-churn"]),
        (vpc, vpc_prefixes[:1]),
    ):
        for prefix in prefixes:
            wrong = g.failures(f"{prefix}: {claim}")
            assert not wrong, "\n  ".join(wrong)


@pytest.mark.parametrize("claim", MLFLOW_CLAIMS)
def test_mlflow(vpc: Governance, claim: str) -> None:
    wrong = vpc.failures(f"mlops-dev-churn: {claim}")
    assert not wrong, "\n  ".join(wrong)
