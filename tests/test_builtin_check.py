"""The built-in CloudFormation check's engine, started on a second thread (stacks/builtin_check.py).

app.py creates the engine while Python imports the platform. That is safe only if the imports
make no request to jsii (its channel to node carries one request at a time), and useful only if
the app then runs that plugin, with the same findings, instead of creating its own engine.

Both are checked in fresh processes with the check on (this session's runs with it off).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Records every request sent to jsii while the platform's modules are imported: every module of
# the construct library and of stacks/, after what app.py has imported when the engine starts.
IMPORTS = """
import importlib, json, pkgutil
import aws_cdk
from stacks import builtin_check
from jsii._kernel.providers import process
requests = []
send = process._NodeProcess.send
def recording(self, request, response_type):
    requests.append(f"{type(request).__name__} {getattr(request, 'fqn', '')} "
                    f"{getattr(request, 'property', getattr(request, 'method', ''))}")
    return send(self, request, response_type)
process._NodeProcess.send = recording
import mlops_constructs, stacks
import stacks.app_builder
for package in (mlops_constructs, stacks):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
print(json.dumps(requests))
"""

# Synthesizes one small app three times: with the check on as aws-cdk-lib runs it (its own
# engine); with the started engine registered as app.py does; and with it registered on an app
# whose own check is off (so only the registered plugin can report). Prints the three reports.
REPORTS = """
import json, sys
import aws_cdk as cdk
from stacks import builtin_check

def report(outdir, *, started, builtin=True):
    app = cdk.App(outdir=outdir, builtin_cloud_formation_validation=builtin)
    stack = cdk.Stack(app, "Checked")
    # Two findings: a property the type does not have, and a value of the wrong type.
    cdk.CfnResource(stack, "Topic", type="AWS::SNS::Topic",
                    properties={"TopicName": "t", "NoSuchProperty": "x"})
    cdk.CfnResource(stack, "Queue", type="AWS::SQS::Queue",
                    properties={"DelaySeconds": "soon"})
    if started:
        builtin_check.register(app)
    app.synth()
    return json.loads(open(f"{outdir}/validation-report.json").read())

own = report(sys.argv[1] + "/own", started=False)
builtin_check.start()
builtin_check.wait()
started = report(sys.argv[1] + "/started", started=True)
alone = report(sys.argv[1] + "/alone", started=True, builtin=False)
print(json.dumps({"own": own, "started": started, "alone": alone}))
"""


def _run(code: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "CDK_VALIDATION"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()[-1]


def test_importing_the_platform_calls_nothing_in_jsii() -> None:
    """A module-level aws-cdk-lib value (``lambda_.Runtime.PYTHON_3_14``, ``Duration``) would
    be a request sent while the engine's is in flight."""
    assert json.loads(_run(IMPORTS)) == []


def test_the_started_engine_is_the_one_that_checks(tmp_path: Path) -> None:
    reports = json.loads(_run(REPORTS, str(tmp_path)))
    own = reports["own"]["pluginReports"]
    assert [plugin["pluginName"] for plugin in own] == ["CloudFormation Validate"]
    assert sorted(
        (violation["ruleName"], construct["constructPath"])
        for violation in own[0]["violations"]
        for construct in violation["violatingConstructs"]
    ) == [("F3002", "Checked/Topic"), ("F3012", "Checked/Queue")]
    # The registered plugin checks (the app's own check is off there), and with the app's own
    # check on, it is run instead of a second engine (which would report twice).
    assert reports["alone"] == reports["own"]
    assert reports["started"] == reports["own"]
