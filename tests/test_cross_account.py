"""Promotion across accounts holds at run time (issue 15, ADR 0011), by offline IAM simulation.

A serving environment (staging, prod) takes an approved version from the development account:
its ``<prefix>-promote`` role describes the version in the development registry, reads the
version's sealed files from the development artifacts bucket and decrypts them, through S3,
with the development data key. Across accounts a request is allowed only if BOTH the caller's
identity policies (in the caller's account) AND the resource's policy (in the owner's account)
allow it; so each claim below is evaluated by ``@cloud-copilot/iam-simulate`` over the
SYNTHESIZED policies of every environment together (``tests/iam_sim.Estate``): each
environment's stacks resolved in its own account and region, each request carrying the
account that owns its resource (the simulator compares it with the caller's).

Configurations: config/example.yaml's topology with one project, churn: tooling 444444444444,
dev 111111111111, staging 222222222222, prod 333333333333, all eu-west-1
(``multi_account_synth``), and the same in one account (``single_account_synth``), where the
claims that do not rest on an account boundary hold too.

A claim is a list of requests that must all be allowed or all denied. ``test_mutation_*``
break the policies a claim rests on (copies in the test, never the product) and check that the
claim then fails: the simulation can tell a boundary that holds from one that is absent.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import Synthesized
from tests.iam_sim import (
    Decision,
    Estate,
    Request,
    Role,
    intrinsics_left,
    malformed,
    session_request,
    simulate,
)

PROJECT = "churn"
DEV = "dev"
SERVING = ("staging", "prod")
REGION = "eu-west-1"
ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}
TOOLING = "444444444444"
OUTSIDE = "999999999999"  # an account of none of the environments
SESSION = "cross-account-test"
RELEASE = "mlops-churn-release"  # the tooling account's release pipeline, its role and key alias
RELEASE_ROUTER = f"{RELEASE}-router"
SHA = "a" * 64
Context = tuple[tuple[str, Any], ...]
APPROVAL = "sagemaker:ModelApprovalStatus"
PENDING: Context = ((APPROVAL, "PendingManualApproval"),)
APPROVED: Context = ((APPROVAL, "Approved"),)
REJECTED: Context = ((APPROVAL, "Rejected"),)
# A create-if-absent write: CompleteMultipartUpload (or PutObject) with If-None-Match: *.
WRITE_ONCE: Context = (
    ("s3:ObjectCreationOperation", "CompleteMultipartUpload"),
    ("s3:if-none-match", "*"),
)
ANYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
# What the promotion grants are made of, on both sides (statement ids).
GRANTS = {
    "sagemaker:DescribeModelPackage": ("DescribeSourceVersions", "ReleaseReads"),
    "s3:GetObject": ("ReadSourceSealedFiles", "PromotionReadsSealedFiles"),
    "s3:GetObjectVersion": ("ReadSourceSealedFiles", "PromotionReadsSealedFiles"),
    "kms:Decrypt": ("DecryptSourceThroughS3", "PromotionDecryptsSealedFiles"),
}


@dataclass(frozen=True)
class Ask:
    """The role ``role`` (an ARN) requests ``action`` on ``resource``."""

    role: str
    action: str
    resource: str
    context: Context = ()


@dataclass
class CrossAccount:
    """One topology's environments, the requests of its claims and their decisions."""

    estate: Estate
    accounts: dict[str, str]  # environment -> account
    roles: dict[str, Role]  # by ARN: every environment's, and the outsiders below
    policies: dict[str, dict[str, Any]]
    claims: dict[str, tuple[bool, list[Ask]]] = field(default_factory=dict)
    decisions: dict[str, list[Decision]] = field(default_factory=dict)

    # -- names ---------------------------------------------------------------------------------

    @staticmethod
    def prefix(environment: str) -> str:
        return f"mlops-{environment}-{PROJECT}"

    def role(self, environment: str, suffix: str) -> str:
        arn = f"arn:aws:iam::{self.accounts[environment]}:role/{self.prefix(environment)}-{suffix}"
        assert arn in self.roles, f"no role {arn}"
        return arn

    def promoter(self, environment: str) -> str:
        return self.role(environment, "promote")

    def release_action(self, environment: str) -> str:
        return self.role(environment, "release-action")

    def tooling_role(self, name: str) -> str:
        arn = f"arn:aws:iam::{TOOLING}:role/{name}"
        assert arn in self.roles, f"no role {arn}"
        return arn

    def release_readers(self) -> list[str]:
        """Who describes the development versions besides promotion: the staging test (the
        version is still approved), production's open monitoring (its baseline) and the
        tooling account's release router (the newest approved version)."""
        return sorted([
            *(self.promoter(e) for e in SERVING),
            self.role("staging", "endpoint-test"),
            self.role("prod", "monitoring-run"),
            self.tooling_role(RELEASE_ROUTER),
        ])  # fmt: skip

    def release_key(self) -> str:
        """The release pipeline's artifact key (tooling account), by its alias."""
        inventory = self.estate.inventories["Tooling"]
        [arn] = [
            inventory.arn_of(stack, logical_id)
            for stack, logical_id, _ in inventory.resources_of_type("AWS::KMS::Key")
            if f"alias/{RELEASE}" in self.aliases(inventory.arn_of(stack, logical_id))
        ]
        return arn

    def endpoint_stack(self, environment: str, kind: str | None = None) -> str:
        kind = kind or ("prod" if environment == "prod" else "staging")
        account = self.accounts[environment]
        return (
            f"arn:aws:cloudformation:{REGION}:{account}:stack/"
            f"{self.prefix(environment)}-endpoint-{kind}/0a1b2c3d"
        )

    def function(self, environment: str, name: str) -> str:
        account = self.accounts[environment]
        return f"arn:aws:lambda:{REGION}:{account}:function:{self.prefix(environment)}-{name}"

    def roles_of(self, environment: str) -> list[str]:
        return sorted(self.estate.roles_of(environment))

    def bucket(self, environment: str, purpose: str) -> str:
        return f"arn:aws:s3:::{self.prefix(environment)}-{purpose}-{self.accounts[environment]}"

    def buckets(self, environment: str) -> list[str]:
        inventory = self.estate.inventories[environment]
        return [
            f"arn:aws:s3:::{inventory.name_of(stack, logical_id)}"
            for stack, logical_id, _ in inventory.resources_of_type("AWS::S3::Bucket")
        ]

    def sealed(self, environment: str, file: str = "model.tar.gz") -> str:
        return f"{self.bucket(environment, 'artifacts')}/sealed/{SHA}/{file}"

    def version(self, environment: str, number: int = 7) -> str:
        account = self.accounts[environment]
        return (
            f"arn:aws:sagemaker:{REGION}:{account}:model-package/"
            f"{self.prefix(environment)}-models/{number}"
        )

    def group(self, environment: str) -> str:
        account = self.accounts[environment]
        return (
            f"arn:aws:sagemaker:{REGION}:{account}:model-package-group/"
            f"{self.prefix(environment)}-models"
        )

    def key(self, environment: str, purpose: str) -> str:
        """The ARN of an environment's ``DataKey`` or ``OpsKey``."""
        inventory = self.estate.inventories[environment]
        [arn] = [
            inventory.arn_of(stack, logical_id)
            for stack, logical_id, _ in inventory.resources_of_type("AWS::KMS::Key")
            if logical_id.startswith(f"{purpose.title()}Key")
        ]
        return arn

    def aliases(self, key: str) -> list[str]:
        """The aliases the templates give ``key`` (what ``kms:ResourceAliases`` holds)."""
        found = []
        for inventory in self.estate.inventories.values():
            for stack, _, props in inventory.resources_of_type("AWS::KMS::Alias"):
                resolved = inventory.resolve(props, stack)
                if resolved["TargetKeyId"] in (key, key.rsplit("/", 1)[1]):
                    found.append(resolved["AliasName"])
        return sorted(found)

    def via(self, key: str, service: str | None = "s3", region: str = REGION) -> Context:
        """A request for ``key`` made by ``service`` for the caller (None: made directly)."""
        aliases: Context = (("kms:ResourceAliases", self.aliases(key)),)
        if service is None:
            return aliases
        return (
            ("aws:ViaAWSService", "true"),
            ("kms:ViaService", f"{service}.{region}.amazonaws.com"),
            *aliases,
        )

    # -- requests ------------------------------------------------------------------------------

    def policy_of(self, resource: str, policies: dict[str, dict[str, Any]]) -> str | None:
        """The resource policy that protects ``resource`` (an object: its bucket's; a model
        version: its group's), if there is one."""
        candidates = [resource]
        if resource.startswith("arn:aws:s3:::"):
            candidates.append(resource.split("/", 1)[0])
        if ":model-package/" in resource:
            candidates.append(
                resource.rsplit("/", 1)[0].replace(":model-package/", ":model-package-group/")
            )
        return next((c for c in candidates if c in policies), None)

    def request(
        self, ask: Ask, policies: dict[str, dict[str, Any]], same_account: bool = False
    ) -> Request:
        role = self.roles[ask.role]
        account = role.arn.split(":")[4]
        owner = account if same_account else self.estate.owner(ask.resource)
        return session_request(
            role,
            account,
            SESSION,
            action=ask.action,
            resource=ask.resource,
            context=ask.context,
            resource_policy=self.policy_of(ask.resource, policies),
            resource_account=owner,
        )

    def claim(self, key: str, allowed: bool, asks: Iterable[Ask]) -> None:
        assert key not in self.claims, key
        asks = list(asks)
        assert asks, key
        self.claims[key] = (allowed, asks)

    def run(
        self,
        keys: list[str],
        *,
        policies: dict[str, dict[str, Any]] | None = None,
        identities: dict[str, list[tuple[str, dict[str, Any]]]] | None = None,
        same_account: bool = False,
    ) -> dict[str, list[Decision]]:
        """The decisions of the claims ``keys``, over these policies (default: the synthesized
        ones); ``same_account`` evaluates every request as if the resource were the caller's."""
        policies = self.policies if policies is None else policies
        if identities is None:
            identities = {arn: list(role.policies) for arn, role in self.roles.items()}
        requests = [
            self.request(ask, policies, same_account) for k in keys for ask in self.claims[k][1]
        ]
        # Every request names its resource's account: the default account is never used.
        decisions = simulate(requests, identities, policies, TOOLING)
        found = {}
        for key in keys:
            count = len(self.claims[key][1])
            found[key], decisions = decisions[:count], decisions[count:]
        return found

    def evaluate(self) -> None:
        self.decisions = self.run(list(self.claims))

    def failures(self, key: str, decisions: dict[str, list[Decision]] | None = None) -> list[str]:
        allowed, asks = self.claims[key]
        found = (decisions or self.decisions)[key]
        wrong = []
        for ask, decision in zip(asks, found, strict=True):
            assert decision.result != "Error", decision.error
            assert not decision.ignored_context_keys, (ask.action, decision)
            if decision.allowed != allowed:
                reasons = json.dumps(decision.reasons)[:300]
                wrong.append(f"{ask.role}: {decision.result} {ask.action} {ask.resource} {reasons}")
        return wrong


def outsiders(accounts: dict[str, str]) -> list[Role]:
    """Roles outside the platform, each with AdministratorAccess: the tooling account's
    administrator; in each serving account, an administrator and an impostor named like the
    platform's roles; and a role named exactly like a promotion role in an account of no
    environment."""
    found: dict[str, Role] = {}  # by ARN: in one account, one administrator
    # The tooling account's administrator (its pipeline's account).
    admin = f"arn:aws:iam::{TOOLING}:role/Administrator"
    found[admin] = Role("Administrator", admin, "outside", "Administrator", (),
                        (("AdministratorAccess", ANYTHING),))  # fmt: skip
    for environment in SERVING:
        account = accounts[environment]
        for where, name in (
            (account, "Administrator"),
            (account, f"mlops-{environment}-{PROJECT}-impostor"),
            (OUTSIDE, f"mlops-{environment}-{PROJECT}-promote"),
        ):
            arn = f"arn:aws:iam::{where}:role/{name}"
            found[arn] = Role(name, arn, "outside", name, (), (("AdministratorAccess", ANYTHING),))
    return list(found.values())


def impostors(t: CrossAccount) -> list[str]:
    return sorted(arn for arn, role in t.roles.items() if role.stack == "outside")


# -- the claims ----------------------------------------------------------------------------------


def promotion(t: CrossAccount, role: str) -> list[Ask]:
    """What a promotion does in the development account: describe the version, read its sealed
    files (current and by version id), decrypt them through S3 with the development data key."""
    data_key = t.key(DEV, "data")
    return [
        Ask(role, "sagemaker:DescribeModelPackage", t.version(DEV)),
        Ask(role, "s3:GetObject", t.sealed(DEV)),
        Ask(role, "s3:GetObject", t.sealed(DEV, "inference.py")),
        Ask(role, "s3:GetObjectVersion", t.sealed(DEV)),
        Ask(role, "kms:Decrypt", data_key, t.via(data_key)),
    ]


def training_data(t: CrossAccount) -> list[str]:
    """Objects of the development account that are not a sealed version: every bucket's, and
    the artifacts bucket's prefixes."""
    artifacts, curated = t.bucket(DEV, "artifacts"), t.bucket(DEV, "curated")
    return [
        f"{curated}/customers/ingest_date=2026-12-01/part-0.csv",
        f"{curated}/ground-truth/prod/2026/12/01/00/l.jsonl",
        f"{t.bucket(DEV, 'raw')}/incoming/batch-1.csv",
        f"{artifacts}/models/pipelines-e1-Train/output/model.tar.gz",
        f"{artifacts}/pipelines/e1/data/train/train.csv",
        f"{artifacts}/pipelines/e1/evaluation/evaluation.json",
        f"{artifacts}/data-capture/prod/2026/12/01/00/c.jsonl",
        f"{artifacts}/ci/source/ml-project.zip",
        f"{artifacts}/sealed",  # not under sealed/
        f"{artifacts}/sealedx/{SHA}/model.tar.gz",
        *(f"{b}/any/object.bin" for b in t.buckets(DEV)),
    ]


PROMOTES = "the promotion roles describe a development version, read and decrypt its sealed files"
NO_TRAINING_DATA = "the promotion roles read no training data of the development account"
DECRYPT = "the promotion roles decrypt with the development key only through S3, in its region"
KEY_USE = "the promotion roles use the development keys for nothing else"
NO_WRITES = "the promotion roles write or delete nothing in the development buckets"
NO_VERSIONS = "the promotion roles change, approve or register no model version"
OTHER_ROLES = (
    "no other role of the serving environments reads a development version's sealed files, and "
    "none but the staging test and the monitoring describes one"
)
TOOLING_ROLES = (
    "no role of the tooling account reads a development version's sealed files, and none but "
    "the release router describes one"
)
RELEASE_READS = (
    "the staging test, production's monitoring and the release router describe a development "
    "version"
)
RELEASE_ASSUMES = "the tooling release pipeline acts in each serving account as its action role"
RELEASE_ASSUMES_ONLY = (
    "no other tooling role assumes the action roles, and the pipeline assumes no other role of "
    "the serving accounts"
)
IMPOSTORS_ASSUME = "no administrator or impostor of another account assumes an action role"
RELEASE_ACTS = (
    "an action role invokes the promotion and the staging test, deploys its endpoint stack "
    "through the guarded deployment role and reads the release templates"
)
RELEASE_ACTS_ONLY = (
    "an action role deploys no other stack, passes no other role, invokes no other function and "
    "writes nothing in the tooling or development account"
)
IMPOSTORS = "no impostor describes a development version or reads its sealed files"
IMPOSTORS_DECRYPT = "no impostor decrypts with the development data key"
ONE_ACCOUNT = (
    "in one account, an administrator describes the development versions and reads their "
    "sealed files"
)
DEV_WRITES = (
    "no role of the development environment writes or deletes a serving environment's sealed file"
)
DEV_READS = (
    "no role of the development environment reads a serving environment's captures or ground truth"
)
# Where each claim is checked: in both topologies, or only in the one it is about (the
# impostors are kept out by the account boundary; in one account there is none to keep them).
WHERE = {
    PROMOTES: "both", NO_TRAINING_DATA: "both", DECRYPT: "both", KEY_USE: "both",
    NO_WRITES: "both", NO_VERSIONS: "both", OTHER_ROLES: "both", TOOLING_ROLES: "both",
    RELEASE_READS: "both", RELEASE_ASSUMES: "both", RELEASE_ASSUMES_ONLY: "both",
    IMPOSTORS_ASSUME: "multi", RELEASE_ACTS: "both", RELEASE_ACTS_ONLY: "both",
    IMPOSTORS: "multi", IMPOSTORS_DECRYPT: "both", ONE_ACCOUNT: "single", DEV_WRITES: "both",
    DEV_READS: "both",
}  # fmt: skip
CASES = [(name, c) for c, where in WHERE.items() for name in ("multi", "single")
         if where in ("both", name)]  # fmt: skip


# fmt: off
def release_claims(t: CrossAccount) -> dict[str, tuple[bool, list[Ask]]]:
    """The release path's claims (ADR 0011): who acts in the serving accounts, and how far."""
    actions = {e: t.release_action(e) for e in SERVING}
    pipeline = t.tooling_role(RELEASE)
    readers = [r for r in t.release_readers() if r not in (t.promoter(e) for e in SERVING)]
    key = t.release_key()
    artifacts = f"arn:aws:s3:::{RELEASE}-artifacts-{TOOLING}/{RELEASE}/Templates/abc123"
    tooling = [r for r in t.roles_of("Tooling") if r != pipeline]
    serving_roles = [r for e in SERVING for r in t.roles_of(e) if r not in actions.values()]
    pass_to = (("iam:PassedToService", "cloudformation.amazonaws.com"),)
    acts = []
    for e, role in actions.items():
        functions = [t.function(e, "promote"), *([t.function(e, "endpoint-test")]
                                                 if e == "staging" else [])]
        acts += [Ask(role, "lambda:InvokeFunction", f) for f in functions]
        acts += [Ask(role, a, t.endpoint_stack(e)) for a in (
            "cloudformation:CreateStack", "cloudformation:UpdateStack",
            "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents")]
        acts += [Ask(role, "iam:PassRole", t.role(e, "deploy-cfn"), pass_to),
                 Ask(role, "s3:GetObject", artifacts),
                 Ask(role, "kms:Decrypt", key, t.via(key))]
    beyond = []
    for e, role in actions.items():
        other = "prod" if e == "staging" else "staging"
        account = t.accounts[e]
        stacks = f"arn:aws:cloudformation:{REGION}:{account}:stack"
        beyond += [Ask(role, a, s) for a in ("cloudformation:UpdateStack",
                                             "cloudformation:CreateStack")
                   for s in (f"{stacks}/{t.prefix(e)}-data/1", f"{stacks}/{t.prefix(e)}-deploy/1",
                             t.endpoint_stack(e, other))]
        beyond += [Ask(role, "cloudformation:DeleteStack", t.endpoint_stack(e))]
        beyond += [Ask(role, "iam:PassRole", r, c) for r in serving_roles
                   if r.split(":")[4] == account and not r.endswith("-deploy-cfn")
                   for c in (pass_to, (("iam:PassedToService", "sagemaker.amazonaws.com"),))]
        beyond += [Ask(role, "iam:PassRole", t.role(e, "deploy-cfn"),
                       (("iam:PassedToService", "lambda.amazonaws.com"),))]
        beyond += [Ask(role, "lambda:InvokeFunction", t.function(e, f))
                   for f in ("monitoring-run", "front-door")]
        beyond += [Ask(role, "lambda:UpdateFunctionCode", t.function(e, "promote"))]
        beyond += [Ask(role, a, o, c) for o in (artifacts, t.sealed(DEV), t.sealed(e))
                   for a, c in (("s3:PutObject", ()), ("s3:PutObject", WRITE_ONCE),
                                ("s3:DeleteObject", ()))]
        beyond += [Ask(role, "s3:GetObject", t.sealed(DEV)),
                   Ask(role, "kms:Decrypt", key, t.via(key, None)),
                   Ask(role, "kms:Encrypt", key, t.via(key)),
                   Ask(role, "sagemaker:CreateEndpoint",
                       f"arn:aws:sagemaker:{REGION}:{account}:endpoint/{t.prefix(e)}-{e}"),
                   Ask(role, "sagemaker:UpdateModelPackage", t.version(DEV), APPROVED),
                   Ask(role, "iam:CreateRole", f"arn:aws:iam::{account}:role/anything")]
    return {
        # (sagemaker:ListModelPackages has no resource type: the simulator cannot evaluate the
        # router's cross-account list; its policy statements are asserted in test_release_path.)
        RELEASE_READS: (True, [
            Ask(r, "sagemaker:DescribeModelPackage", t.version(DEV)) for r in readers
        ]),
        RELEASE_ASSUMES: (True, [Ask(pipeline, "sts:AssumeRole", a) for a in actions.values()]),
        RELEASE_ASSUMES_ONLY: (False, [
            *(Ask(r, "sts:AssumeRole", a) for r in tooling for a in actions.values()),
            *(Ask(pipeline, "sts:AssumeRole", r) for r in serving_roles),
        ]),
        IMPOSTORS_ASSUME: (False, [
            Ask(o, "sts:AssumeRole", a) for o in impostors(t) for a in actions.values()
        ]),
        RELEASE_ACTS: (True, acts),
        RELEASE_ACTS_ONLY: (False, beyond),
    }
# fmt: on


# fmt: off
def claims(t: CrossAccount) -> dict[str, tuple[bool, list[Ask]]]:
    """Every claim: (whether its requests must be allowed, the requests)."""
    promoters = [t.promoter(e) for e in SERVING]
    data_key, ops_key = t.key(DEV, "data"), t.key(DEV, "ops")
    dev_objects = [*training_data(t), t.sealed(DEV)]
    others = [r for e in SERVING for r in t.roles_of(e) if r not in promoters]
    tooling = [r for e in t.estate.inventories if e not in (DEV, *SERVING) for r in t.roles_of(e)]
    dev_roles = t.roles_of(DEV)

    def describes(ask: Ask) -> bool:
        """A release reader's description of a version (RELEASE_READS)."""
        return ask.action == "sagemaker:DescribeModelPackage" and ask.role in readers

    readers = t.release_readers()

    def promotion_by(callers: list[str], decrypt: bool = True) -> list[Ask]:
        return [Ask(c, a.action, a.resource, a.context) for c in callers
                for a in promotion(t, promoters[0]) if decrypt or a.action != "kms:Decrypt"]

    return {
        PROMOTES: (True, [a for r in promoters for a in promotion(t, r)]),
        NO_TRAINING_DATA: (False, [
            Ask(r, a, obj) for r in promoters for obj in training_data(t)
            for a in ("s3:GetObject", "s3:GetObjectVersion")
        ] + [Ask(r, "s3:ListBucket", b) for r in promoters for b in t.buckets(DEV)]),
        DECRYPT: (False, [
            Ask(r, "kms:Decrypt", data_key, c) for r in promoters
            for c in (t.via(data_key, None), t.via(data_key, "sagemaker"),
                      t.via(data_key, "s3", "us-east-1"), t.via(data_key, "secretsmanager"))
        ] + [Ask(r, "kms:Decrypt", ops_key, t.via(ops_key)) for r in promoters]),
        KEY_USE: (False, [
            Ask(r, a, k, t.via(k)) for r in promoters for k in (data_key, ops_key)
            for a in ("kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom",
                      "kms:ReEncryptTo", "kms:CreateGrant", "kms:DescribeKey",
                      "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey")
        ]),
        NO_WRITES: (False, [
            *(Ask(r, "s3:PutObject", obj, c) for r in promoters for obj in dev_objects
              for c in ((), WRITE_ONCE)),
            *(Ask(r, a, obj) for r in promoters for obj in dev_objects
              for a in ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging",
                        "s3:PutObjectAcl", "s3:RestoreObject")),
            *(Ask(r, a, b) for r in promoters for b in t.buckets(DEV)
              for a in ("s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:DeleteBucket",
                        "s3:PutLifecycleConfiguration")),
        ]),
        NO_VERSIONS: (False, [
            *(Ask(r, "sagemaker:UpdateModelPackage", t.version(DEV), c) for r in promoters
              for c in (APPROVED, REJECTED, PENDING, ())),
            *(Ask(r, a, t.version(DEV)) for r in promoters
              for a in ("sagemaker:DeleteModelPackage", "sagemaker:AddTags")),
            # In the development registry, and in the serving environments' own accounts.
            *(Ask(r, "sagemaker:CreateModelPackage", v, c) for r in promoters
              for v in (t.version(DEV), *(t.version(e) for e in SERVING))
              for c in (PENDING, APPROVED)),
            *(Ask(r, a, t.group(DEV)) for r in promoters
              for a in ("sagemaker:PutModelPackageGroupPolicy",
                        "sagemaker:DeleteModelPackageGroup", "sagemaker:CreateModelPackageGroup")),
        ]),
        OTHER_ROLES: (False, [a for a in promotion_by(others) if not describes(a)]),
        TOOLING_ROLES: (False, [a for a in promotion_by(tooling) if not describes(a)]),
        **release_claims(t),
        # Administrators and impostors of the serving accounts, a promotion role's name in an
        # account of no environment: all with AdministratorAccess.
        IMPOSTORS: (False, promotion_by(impostors(t), decrypt=False)),
        IMPOSTORS_DECRYPT: (False, [
            Ask(o, "kms:Decrypt", data_key, c) for o in impostors(t)
            for c in (t.via(data_key), t.via(data_key, None))
        ]),
        # Without an account boundary an administrator's own policy suffices (the key's
        # policy still keeps it out: IMPOSTORS_DECRYPT).
        ONE_ACCOUNT: (True, promotion_by(
            [o for o in impostors(t) if o.split(":")[4] != OUTSIDE], decrypt=False)),
        DEV_WRITES: (False, [
            *(Ask(r, "s3:PutObject", t.sealed(e), c) for r in dev_roles for e in SERVING
              for c in ((), WRITE_ONCE,
                        (("s3:ObjectCreationOperation", "CreateMultipartUpload"),))),
            *(Ask(r, a, t.sealed(e)) for r in dev_roles for e in SERVING
              for a in ("s3:DeleteObject", "s3:PutObjectTagging")),
        ]),
        # Production data never flows back to development (ADR 0011).
        DEV_READS: (False, [
            Ask(r, "s3:GetObject", obj) for r in dev_roles for e in SERVING
            for obj in (f"{t.bucket(e, 'artifacts')}/data-capture/prod/2026/12/01/00/c.jsonl",
                        f"{t.bucket(e, 'curated')}/ground-truth/prod/2026/12/01/00/l.jsonl")
        ]),
    }
# fmt: on


def load(synth: Synthesized) -> CrossAccount:
    accounts = {}
    for name, stage in synth.stages.items():
        assert stage.account is not None, name
        accounts[name] = stage.account
    estate = Estate.of_assembly(synth.outdir)
    roles = estate.roles()
    for role in outsiders(accounts):
        assert role.arn not in roles, role.arn
        roles[role.arn] = role
    # An AssumeRole request's resource policy is the role's trust policy.
    policies = {**estate.resource_policies(), **estate.trust_policies()}
    return CrossAccount(estate, accounts, roles, policies)


def evaluate(synth: Synthesized, name: str) -> CrossAccount:
    t = load(synth)
    built = claims(t)
    assert list(built) == list(WHERE)
    for claim, (allowed, asks) in built.items():
        if WHERE[claim] in ("both", name):
            t.claim(claim, allowed, asks)
    t.evaluate()
    return t


@pytest.fixture(scope="module")
def multi(multi_account_synth: Synthesized) -> CrossAccount:
    return evaluate(multi_account_synth, "multi")


@pytest.fixture(scope="module")
def single(single_account_synth: Synthesized) -> CrossAccount:
    return evaluate(single_account_synth, "single")


@pytest.fixture
def topology(request: pytest.FixtureRequest) -> CrossAccount:
    name = request.node.callspec.params["name"]
    t: CrossAccount = request.getfixturevalue(name)
    return t


@pytest.mark.parametrize(("name", "claim"), CASES)
def test_claim(topology: CrossAccount, name: str, claim: str) -> None:
    wrong = topology.failures(claim)
    assert not wrong, f"{len(wrong)} of {len(topology.claims[claim][1])}:\n  " + "\n  ".join(
        wrong[:30]
    )


# -- the harness ---------------------------------------------------------------------------------


def test_every_claim_is_evaluated(multi: CrossAccount, single: CrossAccount) -> None:
    """Every claim is built and simulated, in each topology it applies to."""
    for name, t in (("multi", multi), ("single", single)):
        assert list(t.claims) == [c for n, c in CASES if n == name]
        assert [len(d) for d in t.decisions.values()] == [len(a) for _, a in t.claims.values()]


@pytest.mark.parametrize("name", ["multi", "single"])
def test_each_environment_is_resolved_in_its_own_account(topology: CrossAccount, name: str) -> None:
    """Dev, staging, prod and the tooling stack, each an inventory of its own account and
    region, every policy resolved to concrete, well-formed ARNs."""
    accounts = {e: i.account for e, i in topology.estate.inventories.items()}
    expected = ACCOUNTS if name == "multi" else dict.fromkeys(ACCOUNTS, TOOLING)
    assert accounts == {**expected, f"aws://{TOOLING}/{REGION}": TOOLING, "Tooling": TOOLING}
    assert {i.region for i in topology.estate.inventories.values()} == {REGION}
    for environment, inventory in topology.estate.inventories.items():
        for stack in inventory.stacks:
            # The tooling stage's release stack, and the serving environments' endpoint
            # templates its pipeline deploys (its asset: no role, no resource policy).
            prefixes = {
                "Tooling": ("mlops-churn-release", "mlops-staging-churn-endpoint-",
                            "mlops-prod-churn-endpoint-"),
            }.get(environment, ("mlops-delivery" if "//" in environment
                                else f"mlops-{environment}-",))  # fmt: skip
            assert stack.name.startswith(prefixes), (environment, stack.name)
        # The role names, hence the ARNs, the other accounts' policies name.
        for arn in topology.estate.roles_of(environment):
            assert arn.startswith(f"arn:aws:iam::{inventory.account}:role/")
    documents = [d for r in topology.estate.roles().values() for _, d in r.policies]
    documents += list(topology.policies.values())
    assert not [intrinsics_left(d) for d in documents if intrinsics_left(d)]
    # CDK Pipelines' self-mutation role assumes the bootstrap roles of any partition (arn:*:).
    bad = [b for d in documents for b in malformed(d) if not b.startswith("arn:*:iam::")]
    assert bad == []


@pytest.mark.parametrize("name", ["multi", "single"])
def test_the_development_policies_admit_the_promotion_roles(
    topology: CrossAccount, name: str
) -> None:
    """The resource policies the claims rest on are the development environment's, and name
    the promotion roles this topology has."""
    t = topology
    promoters = sorted(t.promoter(e) for e in SERVING)
    for resource, sid in (
        (t.group(DEV), "ReleaseReads"),
        (t.bucket(DEV, "artifacts"), "PromotionReadsSealedFiles"),
        (t.key(DEV, "data"), "PromotionDecryptsSealedFiles"),
    ):
        [statement] = [s for s in t.policies[resource]["Statement"] if s.get("Sid") == sid]
        expected = t.release_readers() if sid == "ReleaseReads" else promoters
        assert sorted(statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == expected
    assert t.aliases(t.key(DEV, "data")) == ["alias/mlops-dev-data"]


def test_cross_account_grants_come_from_both_sides(multi: CrossAccount) -> None:
    """Across accounts, each allowed promotion request is granted by the promotion role's
    identity policy AND the development resource's policy, by the statements meant for it
    (and, the roles carrying the landing zone's boundary, allowed by the boundary too)."""
    key = PROMOTES
    for ask, decision in zip(multi.claims[key][1], multi.decisions[key], strict=True):
        assert decision.allowed
        identity, resource = GRANTS[ask.action]
        granted = {(r["policyType"], r.get("statementId")) for r in decision.reasons}
        assert granted == {
            ("identity", identity),
            ("resource", resource),
            ("pb", "WhatTheRolesOwnPoliciesGrant"),
        }, (ask, granted)


# -- mutations: break what a claim rests on, and the claim fails -------------------------------


def drop_condition(document: dict[str, Any], sid: str, operator: str, key: str) -> dict[str, Any]:
    """A copy of ``document`` whose statement ``sid`` no longer tests ``key``."""
    document = copy.deepcopy(document)
    [statement] = [s for s in document["Statement"] if s.get("Sid") == sid]
    del statement["Condition"][operator][key]
    if not statement["Condition"][operator]:
        del statement["Condition"][operator]
    if not statement["Condition"]:
        del statement["Condition"]
    return document


def identities(t: CrossAccount) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    return {arn: copy.deepcopy(list(role.policies)) for arn, role in t.roles.items()}


def failing_actions(t: CrossAccount, key: str, decisions: dict[str, list[Decision]]) -> set[str]:
    return {line.split(" ")[2] for line in t.failures(key, decisions)}


def test_mutation_registry_without_principal_arn(multi: CrossAccount) -> None:
    """Without its aws:PrincipalArn condition, the registry's policy admits the serving
    accounts: their administrators and impostors then describe development versions."""
    t = multi
    policies = dict(t.policies)
    policies[t.group(DEV)] = drop_condition(
        t.policies[t.group(DEV)], "ReleaseReads", "ArnEquals", "aws:PrincipalArn"
    )
    decisions = t.run([IMPOSTORS], policies=policies)
    assert failing_actions(t, IMPOSTORS, decisions) == {"sagemaker:DescribeModelPackage"}
    # ... but not the promotion role's name in an account the policy does not name.
    assert not any(OUTSIDE in line for line in t.failures(IMPOSTORS, decisions))


def test_mutation_action_role_trusting_the_tooling_account(multi: CrossAccount) -> None:
    """Without its aws:PrincipalArn condition, an action role's trust admits the whole tooling
    account: its administrator then acts in the serving account."""
    t = multi
    policies = dict(t.policies)
    for environment in SERVING:
        role = t.release_action(environment)
        trust = copy.deepcopy(t.policies[role])
        for statement in trust["Statement"]:
            del statement["Condition"]
        policies[role] = trust
    decisions = t.run([IMPOSTORS_ASSUME], policies=policies)
    assert {line.split(":")[4] for line in t.failures(IMPOSTORS_ASSUME, decisions)} == {TOOLING}


def test_mutation_bucket_without_principal_arn(multi: CrossAccount) -> None:
    """Without its aws:PrincipalArn condition, the artifacts bucket's promotion statement lets
    a serving account's administrator read the development sealed files."""
    t = multi
    bucket = t.bucket(DEV, "artifacts")
    policies = dict(t.policies)
    policies[bucket] = drop_condition(
        t.policies[bucket], "PromotionReadsSealedFiles", "ArnEquals", "aws:PrincipalArn"
    )
    decisions = t.run([IMPOSTORS], policies=policies)
    assert failing_actions(t, IMPOSTORS, decisions) == {"s3:GetObject", "s3:GetObjectVersion"}


def test_mutation_decrypt_needs_both_sides(multi: CrossAccount) -> None:
    """Through S3 only is written on both sides, and across accounts both must allow: without
    kms:ViaService in the key policy alone, or in the promotion roles' policy alone, the claim
    still holds; without it in both, the roles decrypt with the data key directly and through
    any service."""
    t = multi
    key = t.key(DEV, "data")
    policies = dict(t.policies)
    policies[key] = drop_condition(
        t.policies[key], "PromotionDecryptsSealedFiles", "StringEquals", "kms:ViaService"
    )
    loose = identities(t)
    for environment in SERVING:
        promoter = t.promoter(environment)
        loose[promoter] = [
            (name, drop_condition(document, "DecryptSourceThroughS3", "StringEquals",
                                  "kms:ViaService"))
            if any(s.get("Sid") == "DecryptSourceThroughS3" for s in document["Statement"])
            else (name, document)
            for name, document in loose[promoter]
        ]  # fmt: skip
    assert not t.failures(DECRYPT, t.run([DECRYPT], policies=policies))
    assert not t.failures(DECRYPT, t.run([DECRYPT], identities=loose))
    wrong = t.failures(DECRYPT, t.run([DECRYPT], policies=policies, identities=loose))
    # The data key directly and through any service: allowed now (the ops key is still kept
    # out, by the alias condition and by its own key policy).
    assert wrong and {line.split(" ")[2] for line in wrong} == {"kms:Decrypt"}
    assert all(t.key(DEV, "data") in line for line in wrong)


def test_mutation_the_resource_side_holds_alone(multi: CrossAccount) -> None:
    """With AdministratorAccess on the promotion roles, the development account still keeps
    them out of its training data, its buckets' writes and its key (its policies admit
    nothing more). The control: evaluated as if the resources were in the caller's account,
    most of those reads are allowed (the bucket policies' own denies keep out captures and
    ground truth), and so is what the impostors ask."""
    t = multi
    admin = identities(t)
    for environment in SERVING:
        admin[t.promoter(environment)] = [("AdministratorAccess", ANYTHING)]
    keys = [NO_TRAINING_DATA, DECRYPT, NO_WRITES]
    decisions = t.run(keys, identities=admin)
    for key in keys:
        assert not t.failures(key, decisions), key
    same = t.run([NO_TRAINING_DATA, IMPOSTORS], identities=admin, same_account=True)
    assert len(t.failures(NO_TRAINING_DATA, same)) > len(t.claims[NO_TRAINING_DATA][1]) // 2
    assert t.failures(IMPOSTORS, same)


def test_mutation_serving_sealed_files_rest_on_three_layers(multi: CrossAccount) -> None:
    """The development roles write no serving sealed file: with AdministratorAccess they are
    still kept out (the serving bucket admits no other account); with the serving bucket
    admitting the development account too, its sealed-file denies keep them out; only without
    those denies are the writes allowed."""
    t = multi
    key = DEV_WRITES
    admin = identities(t)
    for arn in t.roles_of(DEV):
        admin[arn] = [("AdministratorAccess", ANYTHING)]
    assert not t.failures(key, t.run([key], identities=admin))
    admitting = dict(t.policies)
    for environment in SERVING:
        bucket = t.bucket(environment, "artifacts")
        document = copy.deepcopy(t.policies[bucket])
        document["Statement"].append({
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{t.accounts[DEV]}:root"},
            "Action": "s3:*",
            "Resource": f"{bucket}/sealed/*",
        })  # fmt: skip
        admitting[bucket] = document
    assert not t.failures(key, t.run([key], policies=admitting, identities=admin))
    open_ = dict(admitting)
    for environment in SERVING:
        bucket = t.bucket(environment, "artifacts")
        document = copy.deepcopy(admitting[bucket])
        document["Statement"] = [
            s for s in document["Statement"] if not s.get("Sid", "").startswith("SealedVersions")
        ]
        open_[bucket] = document
    wrong = t.failures(key, t.run([key], policies=open_, identities=admin))
    asks = t.claims[key][1]
    assert len(wrong) == len(asks), f"{len(wrong)} of {len(asks)}"
