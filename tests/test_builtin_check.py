"""The built-in CloudFormation check's engine, started on a second thread (stacks/builtin_check.py).

app.py creates the engine while Python imports the platform. That is safe only if those imports
make no request to jsii (its channel to node carries one request at a time), and useful only if
the app then runs that plugin instead of creating its own engine.

One fresh process with the check on (this session runs with it off) does what app.py does,
recording any request the imports send (and not sending it: the channel stays usable), then
synthesizes a small app with two schema errors twice: with the app's own check on, and off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import json, sys, threading
import aws_cdk as cdk
from jsii._kernel.providers import process
from stacks import builtin_check

requests = []
send = process._NodeProcess.send

class ImportTimeRequest(Exception):
    pass

def refusing(self, request, response_type):
    if threading.current_thread() is threading.main_thread():
        requests.append(f"{type(request).__name__} {getattr(request, 'fqn', '')} "
                        f"{getattr(request, 'property', getattr(request, 'method', ''))}")
        raise ImportTimeRequest(requests[-1])
    return send(self, request, response_type)

# As app.py: the engine starts, the platform is imported meanwhile.
process._NodeProcess.send = refusing
builtin_check.start()
try:
    import stacks.app_builder
except ImportTimeRequest:
    pass
builtin_check.wait()
process._NodeProcess.send = send

def report(outdir, *, builtin):
    app = cdk.App(outdir=outdir, builtin_cloud_formation_validation=builtin)
    stack = cdk.Stack(app, "Checked")
    cdk.CfnResource(stack, "Topic", type="AWS::SNS::Topic",
                    properties={"TopicName": "t", "NoSuchProperty": "x"})
    cdk.CfnResource(stack, "Queue", type="AWS::SQS::Queue", properties={"DelaySeconds": "soon"})
    builtin_check.register(app)
    app.synth()
    return json.loads(open(f"{outdir}/validation-report.json").read())

print(json.dumps({
    "requests": requests,
    "started": report(sys.argv[1] + "/started", builtin=True),
    "alone": report(sys.argv[1] + "/alone", builtin=False),
}))
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "CDK_VALIDATION"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(tmp_path_factory.mktemp("check"))],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return output


def test_importing_the_platform_calls_nothing_in_jsii(run: dict[str, Any]) -> None:
    """A module-level aws-cdk-lib value (``lambda_.Runtime.PYTHON_3_14``, ``Duration``) would
    be a request sent while the engine's is in flight."""
    assert run["requests"] == []


def _findings(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted(
        (plugin["pluginName"], violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    )


def test_the_started_engine_is_the_one_that_checks(run: dict[str, Any]) -> None:
    """aws-cdk-lib's default rules find both errors; with the app's own check on, the
    registered plugin runs instead of a second engine (which would report twice); with it off,
    the registered plugin still reports (so it is the one that ran)."""
    expected = [
        ("CloudFormation Validate", "F3002", "Checked/Topic"),
        ("CloudFormation Validate", "F3012", "Checked/Queue"),
    ]
    assert _findings(run["started"]) == expected
    assert len(run["started"]["pluginReports"]) == 1
    assert run["alone"] == run["started"]
