// Evaluates many IAM requests offline with @cloud-copilot/iam-simulate (AGPL-3.0-or-later, a
// test-only dev dependency), in one node process and one thread (two worker threads took 40-60%
// more CPU for the same decisions, and the test suite keeps both cores busy). One process serves
// a whole test process (tests/workers.py): node's start and the library's load and warm-up cost
// about 0.6 s of CPU, and the suite asks about 30 times.
//
// stdin:  one question per line, each a JSON object (until stdin ends):
//         {"requests": [{"principal", "identity"?, "action", "resource", "resourceAccount",
//                        "context"?, "resourcePolicy"?}],
//          "identityPolicies": {"<key>": [{"name", "policy"}]},
//          "resourcePolicies": {"<key>": <policy document>},
//          "boundaryPolicies": {"<policy ARN>": <policy document>}}
//   "identity" names the caller's entry of "identityPolicies" (default: the principal),
//   "resourcePolicy" the entry of "resourcePolicies" protecting the resource (default: none)
//   and "boundary" the caller's permissions boundary in "boundaryPolicies" (default: none).
//   Each question is answered on its own: nothing of one question's policies is used for the
//   next (what the shortcuts below remember depends on an ARN or a string alone).
// stdout: one line per question, a JSON array, one object per request, in order:
//          {"result": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | "Error",
//           "reasons": [{"policyType", "policyIdentifier"?, "statementIndex"?, "statementId"?,
//                        "denialType"?}],
//           "error"?: "...", "ignoredContextKeys"?: [...]}
//   reasons are the granting statements of an allowed request, the denying statements (or the
//   policy types that denied implicitly) of a denied one.
//
// Speed, same decisions: every request still goes through runSimulation as it is; what this
// script saves is work that the library repeats per request with the same outcome. Each policy
// document is validated once (iam-policy's ValidatedPolicy, which runSimulation takes instead of
// validating again), String.prototype.localeCompare reuses one collator per sensitivity
// instead of building one per call (collation.mjs), and the resource types an ARN can be are
// found once per ARN and action's types (memo.mjs).
import { register } from 'node:module'
import { createInterface } from 'node:readline'
import { useFastLocaleCompare } from './collation.mjs'

// Before the library loads: its resource-type matching remembers its answers (memo.mjs).
register('./memo.mjs', import.meta.url)
const { getDenialReasons, getGrantReasons, runSimulation } = await import(
  '@cloud-copilot/iam-simulate'
)
// Declared in package.json at the version iam-simulate itself depends on (one copy installed).
const { createValidatedPolicy, validateIdentityPolicy, validateResourcePolicy } = await import(
  '@cloud-copilot/iam-policy'
)

// Before any request: most of the library's time went into building collators (collation.mjs).
useFastLocaleCompare()

// runSimulation validates each policy it is given on every call, unless it is given a
// ValidatedPolicy, whose errors it reuses: validate each document once, with the validator
// runSimulation would use (identity policies and permissions boundaries as identity policies).
// runSimulation names a resource policy after its "name", which a ValidatedPolicy lacks and a
// valid policy document too (a top-level key but Version, Statement and Id is a validation
// error, and an invalid policy is reported, not loaded): the same name, undefined. Anything not
// an object is passed on as it came.
function validatedOnce(validate) {
  const validated = new WeakMap()
  return (document) => {
    if (typeof document !== 'object' || document === null) return document
    if (!validated.has(document)) validated.set(document, createValidatedPolicy(document, validate))
    return validated.get(document)
  }
}

const asIdentityPolicy = validatedOnce(validateIdentityPolicy)
const asResourcePolicy = validatedOnce(validateResourcePolicy)
// The caller's identity policies ([{name, policy}]), each list mapped once.
const identityLists = new WeakMap()

function identityPoliciesOf(list) {
  if (list === undefined || list === null) return []
  if (!identityLists.has(list)) {
    identityLists.set(
      list,
      list.map(({ name, policy }) => ({ name, policy: asIdentityPolicy(policy) }))
    )
  }
  return identityLists.get(list)
}

async function evaluate(request, identityPolicies, resourcePolicies, boundaryPolicies) {
  const key = request.resourcePolicy
  const resourcePolicy = key === undefined || key === null ? undefined : resourcePolicies[key]
  if (key && resourcePolicy === undefined) {
    return { result: 'Error', reasons: [], error: `no resource policy ${key}` }
  }
  const boundary = request.boundary ? boundaryPolicies?.[request.boundary] : undefined
  if (request.boundary && boundary === undefined) {
    return { result: 'Error', reasons: [], error: `no boundary policy ${request.boundary}` }
  }
  const identity = request.identity ?? request.principal
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.resourceAccount },
      contextVariables: request.context ?? {}
    },
    identityPolicies: identityPoliciesOf(identityPolicies[identity]),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: asResourcePolicy(resourcePolicy),
    ...(boundary
      ? { permissionBoundaryPolicies: [{ name: request.boundary, policy: asIdentityPolicy(boundary) }] }
      : {})
  }
  const response = await runSimulation(simulation, { simulationMode: 'Strict' })
  if (response.resultType === 'error') {
    return { result: 'Error', reasons: [], error: JSON.stringify(response.errors) }
  }
  if (response.resultType !== 'single') {
    // A wildcard in the requested resource: every request here names one concrete resource.
    return { result: 'Error', reasons: [], error: `wildcard resource ${request.resource}` }
  }
  const analysis = response.result.analysis
  const reasons = analysis.result === 'Allowed' ? getGrantReasons(analysis) : getDenialReasons(analysis)
  const decision = { result: response.overallResult, reasons }
  const ignored = response.result.ignoredContextKeys ?? []
  if (ignored.length > 0) decision.ignoredContextKeys = ignored
  return decision
}

async function evaluateAll({ requests, identityPolicies, resourcePolicies, boundaryPolicies }) {
  const decisions = []
  for (const request of requests) {
    try {
      decisions.push(await evaluate(request, identityPolicies, resourcePolicies, boundaryPolicies))
    } catch (error) {
      decisions.push({ result: 'Error', reasons: [], error: String(error?.stack ?? error) })
    }
  }
  return decisions
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (line.trim() === '') continue
  process.stdout.write(JSON.stringify(await evaluateAll(JSON.parse(line))) + '\n')
}
