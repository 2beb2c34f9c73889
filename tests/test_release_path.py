"""The release path of a delivered platform (issue 15, ADR 0011), as synthesized.

A version approved in the development registry is forwarded to the tooling account's release
bus; the router starts the project's release pipeline there, whose actions run in each serving
account as that account's ``<prefix>-release-action`` role: Promote -> Deploy (CloudFormation
with the account's guarded ``<prefix>-deploy-cfn``) -> Test, and a person approves before
production. Serving environments only serve (no catalog, no training, no deploy pipeline of
their own); the development environment serves nothing. Both topologies of config/example.yaml
(four accounts, one account) go through the same code. Who can do what along this path at run
time is proved by tests/test_cross_account.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import FAR_REGION, SECOND_PROJECT, Synthesized
from tests.templates import flat_arn

REGION = "eu-west-1"
TOOLING = "444444444444"
SERVING = {"staging": "staging", "prod": "prod"}  # environment -> the endpoint it serves
PIPELINE = "mlops-churn-release"


@pytest.fixture(scope="module", params=["multi_account_synth", "single_account_synth"])
def synth(request: pytest.FixtureRequest) -> Synthesized:
    result: Synthesized = request.getfixturevalue(request.param)
    return result


def _accounts(synth: Synthesized) -> dict[str, str]:
    return {name: stage.account for name, stage in synth.stages.items()}  # type: ignore[misc]


def _resources(template: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == type_]


def _release(synth: Synthesized) -> dict[str, Any]:
    return synth.template_json(synth.tooling.releases["churn"])


def _stage(synth: Synthesized, environment: str, part: str) -> dict[str, Any]:
    stack = getattr(synth.stages[environment].projects["churn"], part)
    assert stack is not None, (environment, part)
    return synth.template_json(stack)


def _role(template: dict[str, Any], name: str) -> dict[str, Any]:
    [role] = [r for r in _resources(template, "AWS::IAM::Role") if r.get("RoleName") == name]
    return role


def _statements(template: dict[str, Any], role_logical_prefix: str) -> dict[str, dict[str, Any]]:
    """The identity-policy statements (by Sid) of the role whose logical id starts so."""
    found = {}
    for lid, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Policy" or not lid.startswith(role_logical_prefix):
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            found[statement.get("Sid", json.dumps(statement["Action"]))] = statement
    return found


def test_the_tooling_wave_comes_first_and_holds_one_release_stack_per_project(
    synth: Synthesized,
) -> None:
    assert synth.tooling.account == TOOLING
    assert [s.stack_name for s in synth.tooling.stacks] == [PIPELINE]
    delivery = json.loads((synth.outdir / "Delivery.template.json").read_text())
    [pipeline] = _resources(delivery, "AWS::CodePipeline::Pipeline")
    waves = [s["Name"] for s in pipeline["Stages"]]
    assert waves[waves.index("Assets") + 1 :] == ["Tooling", "dev", "staging", "prod"]


def test_serving_environments_only_serve_and_development_serves_nothing(
    synth: Synthesized,
) -> None:
    for environment in SERVING:
        project = synth.stages[environment].projects["churn"]
        assert project.catalog is None and project.build is None
        assert project.deploy is not None and project.deploy.pipeline is None
        assert project.deploy.mode == "release"
        assert list(project.deploy.hostings) == [SERVING[environment]]
    dev = synth.stages["dev"].projects["churn"]
    assert dev.deploy is None and dev.build is not None and dev.catalog is not None


def test_the_release_pipeline_promotes_deploys_and_tests_in_each_serving_account(
    synth: Synthesized,
) -> None:
    accounts = _accounts(synth)
    [pipeline] = _resources(_release(synth), "AWS::CodePipeline::Pipeline")
    assert pipeline["Name"] == PIPELINE
    stages = {s["Name"]: s["Actions"] for s in pipeline["Stages"]}
    assert list(stages) == ["Source", "Staging", "ApproveProd", "Prod"]
    for environment, title in (("staging", "Staging"), ("prod", "Prod")):
        prefix, account = f"mlops-{environment}-churn", accounts[environment]
        actions = {a["Name"]: a for a in stages[title]}
        assert list(actions) == (["Promote", "Deploy", "Test"] if environment == "staging"
                                 else ["Promote", "Deploy"])  # fmt: skip
        for action in actions.values():
            assert action["RoleArn"] == f"arn:aws:iam::{account}:role/{prefix}-release-action"
        deploy = actions["Deploy"]["Configuration"]
        assert deploy["StackName"] == f"{prefix}-endpoint-{SERVING[environment]}"
        assert deploy["RoleArn"] == f"arn:aws:iam::{account}:role/{prefix}-deploy-cfn"
        overrides = json.loads(deploy["ParameterOverrides"])
        assert overrides["ModelDataUrl"] == f"#{{Promote{title}.model_data_url}}"
        assert overrides["ModelPackageArn"] == "#{variables.ModelPackageArn}"
        # The real-time production endpoint's volumes: this account's data key, as promoted.
        if environment == "prod":
            assert overrides["DataKeyArn"] == "#{PromoteProd.data_key_arn}"
        # Invoked by name, with the account's action role: the function of that account.
        assert actions["Promote"]["Configuration"]["FunctionName"] == f"{prefix}-promote"


def test_each_serving_account_trusts_exactly_the_tooling_pipeline(synth: Synthesized) -> None:
    accounts = _accounts(synth)
    pipeline_role = f"arn:aws:iam::{TOOLING}:role/{PIPELINE}"
    for environment, kind in SERVING.items():
        prefix, account = f"mlops-{environment}-churn", accounts[environment]
        deploy = _stage(synth, environment, "deploy")
        role = _role(deploy, f"{prefix}-release-action")
        [trust] = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Action"] == "sts:AssumeRole"
        assert flat_arn(trust["Principal"]["AWS"]) == f"arn:aws:iam::{TOOLING}:root"
        assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": pipeline_role}}
        statements = _statements(deploy, "ReleaseRole")
        assert sorted(statements) == [
            "DecryptReleaseArtifacts",
            "DeployEndpointStack",
            "InvokeReleaseFunctions",
            "PassDeploymentRole",
            "ReadReleaseArtifacts",
        ]
        assert flat_arn(statements["DeployEndpointStack"]["Resource"]) == (
            f"arn:aws:cloudformation:{REGION}:{account}:stack/{prefix}-endpoint-{kind}/*"
        )
        assert statements["PassDeploymentRole"]["Condition"] == {
            "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
        }
        assert statements["ReadReleaseArtifacts"]["Action"] == [
            "s3:GetObject",
            "s3:GetObjectVersion",
        ]
        assert flat_arn(statements["ReadReleaseArtifacts"]["Resource"]) == (
            f"arn:aws:s3:::{PIPELINE}-artifacts-{TOOLING}/*"
        )
        assert statements["DecryptReleaseArtifacts"]["Condition"]["ForAnyValue:StringEquals"] == {
            "kms:ResourceAliases": [f"alias/{PIPELINE}"]
        }


def test_approvals_reach_the_release_router_from_the_development_account_only(
    synth: Synthesized,
) -> None:
    dev = _accounts(synth)["dev"]
    forwarder = f"arn:aws:iam::{dev}:role/mlops-dev-churn-approval-forwarder"
    bus = f"arn:aws:events:{REGION}:{TOOLING}:event-bus/{PIPELINE}s"
    build = _stage(synth, "dev", "build")
    [rule] = [
        r for r in _resources(build, "AWS::Events::Rule")
        if r.get("Name") == "mlops-dev-churn-approval-forwarder"
    ]  # fmt: skip
    assert rule["EventPattern"]["detail"] == {
        "ModelPackageGroupName": ["mlops-dev-churn-models"],
        "ModelApprovalStatus": ["Approved", "Rejected"],
    }
    [target] = rule["Targets"]
    assert flat_arn(target["Arn"]) == bus
    release = _release(synth)
    [policy] = _resources(release, "AWS::Events::EventBusPolicy")
    statement = policy["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [forwarder]}}
    assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{dev}:root"]}
    [approved] = [r for r in _resources(release, "AWS::Events::Rule") if "EventBusName" in r]
    assert approved["EventPattern"]["account"] == [dev]
    [router] = [
        f for f in _resources(release, "AWS::Lambda::Function")
        if f["FunctionName"] == f"{PIPELINE}-router"
    ]  # fmt: skip
    assert router["Environment"]["Variables"] | {"DEPLOYED_PARAMETER": ""} == {
        "MODEL_PACKAGE_GROUP": "mlops-dev-churn-models",
        "DEPLOY_PIPELINE": PIPELINE,
        "DEPLOYED_PARAMETER": "",
        "SOURCE_ACCOUNT": dev,
        "PIPELINE_BASELINES": "off",
    }


def test_the_development_registry_admits_exactly_the_release_roles(synth: Synthesized) -> None:
    accounts = _accounts(synth)
    # Promotion in both; the staging test where staging is served; the open monitoring where a
    # real-time endpoint is watched (production: staging is serverless in the example).
    readers = sorted(
        f"arn:aws:iam::{accounts[e]}:role/mlops-{e}-churn-{suffix}"
        for e, suffixes in (("staging", ("promote", "endpoint-test")),
                            ("prod", ("promote", "monitoring-run")))
        for suffix in suffixes
    )  # fmt: skip
    router = f"arn:aws:iam::{TOOLING}:role/{PIPELINE}-router"
    [group] = _resources(_stage(synth, "dev", "data"), "AWS::SageMaker::ModelPackageGroup")
    reads, lists = group["ModelPackageGroupPolicy"]["Statement"]
    assert reads["Sid"] == "ReleaseReads" and reads["Action"] == ["sagemaker:DescribeModelPackage"]
    assert reads["Condition"] == {"ArnEquals": {"aws:PrincipalArn": sorted([*readers, router])}}
    assert lists["Sid"] == "ReleaseLists" and lists["Action"] == ["sagemaker:ListModelPackages"]
    assert lists["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [router]}}
    # On the group's versions (the model packages ListModelPackages acts on) and the group.
    registry = f"arn:aws:sagemaker:{REGION}:{accounts['dev']}"
    versions = f"{registry}:model-package/mlops-dev-churn-models/*"
    assert [flat_arn(r) for r in lists["Resource"]] == [
        f"{registry}:model-package-group/mlops-dev-churn-models",
        versions,
    ]
    assert [flat_arn(r) for r in reads["Resource"]] == [versions]
    # The serving environments' registries admit nobody from elsewhere.
    for environment in SERVING:
        [own] = _resources(_stage(synth, environment, "data"), "AWS::SageMaker::ModelPackageGroup")
        assert "ModelPackageGroupPolicy" not in own


def test_serving_endpoints_run_the_promoted_copy(synth: Synthesized) -> None:
    """The templates the release pipeline deploys (gathered in the tooling stack's asset) are
    the serving environments' own, in promoted mode."""
    for environment, kind in SERVING.items():
        deploy = synth.stages[environment].projects["churn"].deploy
        assert deploy is not None
        path = deploy.templates_dir / f"mlops-{environment}-churn-endpoint-{kind}.template.json"
        template = json.loads(path.read_text())
        # Shipped by the tooling account's pipeline, deployed (and priced: make cost) here.
        account = _accounts(synth)[environment]
        assert template["Metadata"]["DeploysTo"] == {"Account": account, "Region": REGION}
        assert "ModelDataUrl" in template["Parameters"]
        [model] = _resources(template, "AWS::SageMaker::Model")
        [container] = model.get("Containers") or [model["PrimaryContainer"]]
        assert container["ModelDataUrl"] == {"Ref": "ModelDataUrl"}
        assert "ModelPackageName" not in container
        # The monitoring of promoted versions reads their baselines from this account's copy.
        runs = [
            f for f in _resources(_stage(synth, environment, "deploy"), "AWS::Lambda::Function")
            if f["FunctionName"] == f"mlops-{environment}-churn-monitoring-run"
        ]  # fmt: skip
        # Production's real-time endpoint is watched; staging's serverless one captures nothing.
        assert len(runs) == (1 if environment == "prod" else 0)
        for run in runs:
            assert run["Environment"]["Variables"]["PROMOTED_BUCKET"] == (
                f"mlops-{environment}-churn-artifacts-{_accounts(synth)[environment]}"
            )


# --- VPC mode: the serving environments run their release functions in their own VPC ----------


def test_vpc_mode_release_functions_run_in_the_serving_vpcs(
    vpc_cross_region_synth: Synthesized,
) -> None:
    synth = vpc_cross_region_synth
    assert synth.violations() == []
    for environment, kind in SERVING.items():
        prefix = f"mlops-{environment}-churn"
        functions = {
            f["FunctionName"]: f
            for f in _resources(_stage(synth, environment, "deploy"), "AWS::Lambda::Function")
        }
        names = [f"{prefix}-promote", f"{prefix}-monitoring-run"]
        names += [f"{prefix}-endpoint-test"] if kind == "staging" else []
        for name in names:
            assert functions[name]["VpcConfig"]["SubnetIds"], name
        # The tooling account cannot name the stage's generated subnet and group ids: promote
        # reports them, and the Deploy action passes them to the endpoint template.
        variables = functions[f"{prefix}-promote"]["Environment"]["Variables"]
        assert {"SUBNET_IDS", "SECURITY_GROUP_ID"} <= set(variables)
    [pipeline] = _resources(_release(synth), "AWS::CodePipeline::Pipeline")
    for stage in pipeline["Stages"]:
        for action in stage["Actions"]:
            if action["Name"] == "Deploy":
                overrides = json.loads(action["Configuration"]["ParameterOverrides"])
                title = stage["Name"]
                assert overrides["SubnetIds"] == f"#{{Promote{title}.subnet_ids}}"
                assert overrides["SecurityGroupId"] == f"#{{Promote{title}.security_group_id}}"


def _interface_endpoints(synth: Synthesized, environment: str) -> set[str]:
    """The short names of an environment's interface endpoints (com.amazonaws.<region>.<name>)."""
    template = synth.template_json(synth.stages[environment].data)
    return {
        flat_arn(r["ServiceName"]).split(".", 3)[3]
        for r in _resources(template, "AWS::EC2::VPCEndpoint")
        if r.get("VpcEndpointType") == "Interface"
    }


def test_vpc_mode_each_account_pays_for_the_endpoints_it_uses(
    vpc_cross_region_synth: Synthesized,
) -> None:
    """Interface endpoints bill while idle: development trains (Glue, ECR, SSM, no
    CodePipeline: it deploys nothing); the serving accounts serve (no Glue, ECR or SSM)."""
    dev = _interface_endpoints(vpc_cross_region_synth, "dev")
    assert {"glue", "ecr.api", "ecr.dkr", "ssm", "sagemaker.api"} <= dev
    assert "codepipeline" not in dev
    for environment in SERVING:
        serving = _interface_endpoints(vpc_cross_region_synth, environment)
        assert {"sagemaker.api", "sagemaker.runtime", "codepipeline", "kms", "logs"} <= serving
        assert not serving & {"glue", "ecr.api", "ecr.dkr", "ssm"}, serving


def test_vpc_mode_only_the_promotion_roles_read_sealed_files_from_outside_development(
    vpc_cross_region_synth: Synthesized,
) -> None:
    """The development buckets refuse data access from outside their VPC endpoint; the
    artifacts bucket exempts exactly the serving accounts' promotion roles, which read the
    sealed files from their own VPC (by the offline IAM simulator)."""
    from tests.test_cross_account import DEV, Ask, drop_condition, load

    t = load(vpc_cross_region_synth)
    elsewhere = (("aws:SourceVpce", "vpce-0123456789abcdef0"),)
    promoters = [t.promoter(e) for e in SERVING]
    training = t.role(DEV, "sagemaker-pipeline")
    t.claim("promote", True, [Ask(r, "s3:GetObject", t.sealed(DEV), elsewhere) for r in promoters])
    t.claim("outside", False, [
        Ask(training, "s3:GetObject", t.sealed(DEV), elsewhere),
        *(Ask(r, "s3:GetObject", f"{t.bucket(DEV, 'curated')}/customers/part-0.csv", elsewhere)
          for r in promoters),
    ])  # fmt: skip
    decisions = t.run(["promote", "outside"])
    assert t.failures("promote", decisions) == []
    assert t.failures("outside", decisions) == []
    # Without the exemption, the promotion roles are refused like anyone outside the VPC.
    bucket = t.bucket(DEV, "artifacts")
    policies = dict(t.policies)
    policies[bucket] = drop_condition(
        t.policies[bucket], "OnlyThroughVpcEndpoint", "ArnNotEquals", "aws:PrincipalArn"
    )
    decisions = t.run(["promote"], policies=policies)
    assert len(t.failures("promote", decisions)) == len(promoters)


# --- Production in another region: both pipelines copy their artifacts to a replica there -----


def _stores(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Region"]: s["ArtifactStore"] for s in pipeline["ArtifactStores"]}


def _replica_policies(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The bucket and key policy statements of a replica stack that admit other roles."""
    statements = []
    for props in _resources(template, "AWS::S3::BucketPolicy"):
        statements += props["PolicyDocument"]["Statement"]
    for props in _resources(template, "AWS::KMS::Key"):
        statements += props["KeyPolicy"]["Statement"]
    return [s for s in statements if s["Effect"] == "Allow" and "aws:PrincipalArn" in
            json.dumps(s.get("Condition", {}))]  # fmt: skip


def test_cross_region_the_release_pipeline_acts_in_the_environments_region(
    vpc_cross_region_synth: Synthesized,
) -> None:
    synth = vpc_cross_region_synth
    accounts = _accounts(synth)
    release = _release(synth)
    [pipeline] = _resources(release, "AWS::CodePipeline::Pipeline")
    stores = _stores(pipeline)
    assert sorted(stores) == [FAR_REGION, REGION]
    far = stores[FAR_REGION]
    assert far["Location"] == f"{PIPELINE}-{FAR_REGION}-artifacts-{TOOLING}"
    assert flat_arn(far["EncryptionKey"]["Id"]) == (
        f"arn:aws:kms:{FAR_REGION}:{TOOLING}:alias/{PIPELINE}-{FAR_REGION}"
    )
    regions = {
        (stage["Name"], action["Name"]): action.get("Region")
        for stage in pipeline["Stages"]
        for action in stage["Actions"]
    }
    # Every serving action runs in the environments' region; the approval and source at home.
    assert {k: v for k, v in regions.items() if k[0] in ("Staging", "Prod")} == {
        (stage, action): FAR_REGION
        for stage, names in (("Staging", ("Promote", "Deploy", "Test")),
                             ("Prod", ("Promote", "Deploy")))
        for action in names
    }  # fmt: skip
    assert regions[("Source", "Templates")] is None
    # The replica (tooling account, the environments' region) admits exactly their roles.
    [replica] = [s for s in synth.tooling.stacks if s.stack_name == f"{PIPELINE}-{FAR_REGION}"]
    assert replica.region == FAR_REGION
    actions = sorted(
        f"arn:aws:iam::{accounts[e]}:role/mlops-{e}-churn-release-action" for e in SERVING
    )
    policies = _replica_policies(synth.template_json(replica))
    assert len(policies) == 2
    for statement in policies:
        assert statement["Condition"]["ArnEquals"] == {"aws:PrincipalArn": actions}
    # ... and each action role reads that replica, its key by alias.
    for environment in SERVING:
        statements = _statements(_stage(synth, environment, "deploy"), "ReleaseRole")
        assert flat_arn(statements["ReadReleaseArtifacts"]["Resource"]) == (
            f"arn:aws:s3:::{PIPELINE}-{FAR_REGION}-artifacts-{TOOLING}/*"
        )
        decrypt = statements["DecryptReleaseArtifacts"]["Condition"]
        assert decrypt["ForAnyValue:StringEquals"] == {
            "kms:ResourceAliases": [f"alias/{PIPELINE}-{FAR_REGION}"]
        }
        assert decrypt["StringEquals"] == {"kms:ViaService": f"s3.{FAR_REGION}.amazonaws.com"}


def test_cross_region_the_platform_pipeline_deploys_from_a_replica(
    vpc_cross_region_synth: Synthesized,
) -> None:
    synth = vpc_cross_region_synth
    accounts = _accounts(synth)
    delivery = json.loads((synth.outdir / "Delivery.template.json").read_text())
    [pipeline] = _resources(delivery, "AWS::CodePipeline::Pipeline")
    assert sorted(_stores(pipeline)) == [FAR_REGION, REGION]
    assert _stores(pipeline)[FAR_REGION]["Location"] == (
        f"mlops-delivery-{FAR_REGION}-artifacts-{TOOLING}"
    )
    replica = json.loads((synth.outdir / f"DeliveryReplica{FAR_REGION}.template.json").read_text())
    # Read by the bootstrap deploy roles of the accounts deployed there: the environments',
    # and the tooling account's (the release pipeline's replica).
    deployers = sorted(
        f"arn:aws:iam::{a}:role/cdk-hnb659fds-deploy-role-{a}-{FAR_REGION}"
        for a in (*accounts.values(), TOOLING)
    )
    policies = _replica_policies(replica)
    assert len(policies) == 2
    for statement in policies:
        assert statement["Condition"]["ArnEquals"] == {"aws:PrincipalArn": deployers}
    # The promotion reads the development registry by its ARN, in its region.
    [promote] = [
        f for f in _resources(_stage(synth, "prod", "deploy"), "AWS::Lambda::Function")
        if f["FunctionName"] == "mlops-prod-churn-promote"
    ]  # fmt: skip
    assert flat_arn(
        promote["Environment"]["Variables"]["SOURCE_MODEL_PACKAGE_GROUP_ARN"]
    ).startswith(f"arn:aws:sagemaker:{FAR_REGION}:")


def test_one_projects_release_roles_reach_nothing_of_another_project(
    vpc_cross_region_synth: Synthesized,
) -> None:
    """Across accounts, churn's promotion, staging-test, monitoring and release-action roles
    describe no version and read no sealed file of the other project, and the other way round;
    each project's own promotion still works (offline IAM simulator, both sides' policies)."""
    from tests.test_cross_account import DEV, Ask, load

    t = load(vpc_cross_region_synth)
    vpce = (("aws:SourceVpce", "vpce-0123456789abcdef0"),)

    def prefix(environment: str, project: str) -> str:
        return f"mlops-{environment}-{project}"

    def role(environment: str, project: str, suffix: str) -> str:
        account = t.accounts[environment]
        return f"arn:aws:iam::{account}:role/{prefix(environment, project)}-{suffix}"

    def sealed(project: str) -> str:
        bucket = f"{prefix(DEV, project)}-artifacts-{t.accounts[DEV]}"
        return f"arn:aws:s3:::{bucket}/sealed/{'a' * 64}/model.tar.gz"

    def version(project: str) -> str:
        return (
            f"arn:aws:sagemaker:{FAR_REGION}:{t.accounts[DEV]}:model-package/"
            f"{prefix(DEV, project)}-models/3"
        )

    projects = ("churn", SECOND_PROJECT)
    own, other = [], []
    for project in projects:
        twin = next(p for p in projects if p != project)
        roles = [role(e, project, s) for e in SERVING for s in ("promote", "release-action")]
        roles += [
            role("staging", project, "endpoint-test"),
            role("prod", project, "monitoring-run"),
        ]
        for r in roles:
            assert r in t.roles, r
            other += [Ask(r, "sagemaker:DescribeModelPackage", version(twin)),
                      Ask(r, "s3:GetObject", sealed(twin), vpce)]  # fmt: skip
        own += [Ask(role(e, project, "promote"), a, res, c) for e in SERVING
                for a, res, c in (("sagemaker:DescribeModelPackage", version(project), ()),
                                  ("s3:GetObject", sealed(project), vpce))]  # fmt: skip
    t.claim("own", True, own)
    t.claim("other", False, other)
    decisions = t.run(["own", "other"])
    assert t.failures("own", decisions) == []
    assert t.failures("other", decisions) == []


def _subscriptions(template: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(topic's logical id, protocol, endpoint) of every subscription."""
    return {
        (s["TopicArn"]["Ref"], s["Protocol"], s["Endpoint"])
        for s in _resources(template, "AWS::SNS::Subscription")
    }


def _topic(template: dict[str, Any], name: str) -> str:
    [logical_id] = [
        k for k, r in template["Resources"].items()
        if r["Type"] == "AWS::SNS::Topic" and r["Properties"].get("TopicName") == name
    ]  # fmt: skip
    return str(logical_id)


def test_the_configured_people_hear_of_alarms_and_approvals(synth: Synthesized) -> None:
    """config/example.yaml's notifications: alarms to the operators, what waits for a person
    to the approvers (each subscription confirmed by its recipient)."""
    ops, approvers = ("email", "ml-ops@example.com"), ("email", "ml-approvers@example.com")
    release = _release(synth)
    assert _subscriptions(release) == {
        (_topic(release, f"{PIPELINE}-alarms"), *ops),
        (_topic(release, f"{PIPELINE}-approvals"), *approvers),
    }
    build = _stage(synth, "dev", "build")
    assert _subscriptions(build) == {(_topic(build, "mlops-dev-churn-build-events"), *approvers)}
    for environment in ("dev", *SERVING):
        monitor = synth.template_json(synth.stages[environment].monitor)
        assert _subscriptions(monitor) == {(_topic(monitor, f"mlops-{environment}-alarms"), *ops)}
