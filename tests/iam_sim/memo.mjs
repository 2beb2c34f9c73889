// A module hook for simulate.mjs (node:module register): iam-utils'
// mostSpecificMatchingResourceTypePatterns answers each (resource, patterns) question once.
//
// Why: for every request, iam-simulate asks which of the action's resource types the resource
// ARN is (getResourceTypesForAction), and iam-utils answers by intersecting one automaton per ARN
// component with each type's pattern, from scratch: 40% of the simulator's time over the
// isolation suite's 45,000 requests, which ask far fewer distinct questions (a role's
// requests differ in the role, not in the action and the resource). The function is pure, its
// answer a function of its two arguments (strings, and a list of strings), so a remembered
// answer is the answer. Each caller gets its own copy of the list. tests/iam_sim/test_memo.py
// checks the remembered answers against the library's own function.
//
// The hook rewrites the library's module as it is loaded (ESM bindings cannot be replaced from
// outside); a release of iam-utils without the function as written here fails loudly instead of
// simulating without the memo.

export const TARGET = '/node_modules/@cloud-copilot/iam-utils/dist/esm/resourceTypes.js'
const DECLARATION = 'export function mostSpecificMatchingResourceTypePatterns('
const RENAMED = 'function mostSpecificMatchingResourceTypePatternsOnce('
const MEMO = `
const memoOfMostSpecificPatterns = new Map()
export function mostSpecificMatchingResourceTypePatterns(resourceString, resourcePatterns) {
    const key = JSON.stringify([resourceString, resourcePatterns])
    let answer = memoOfMostSpecificPatterns.get(key)
    if (answer === undefined) {
        answer = mostSpecificMatchingResourceTypePatternsOnce(resourceString, resourcePatterns)
        memoOfMostSpecificPatterns.set(key, answer)
    }
    return [...answer]
}
export { mostSpecificMatchingResourceTypePatternsOnce }
`

export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context)
  if (!url.endsWith(TARGET)) return loaded
  const source = String(loaded.source)
  if (source.split(DECLARATION).length !== 2) {
    throw new Error(`tests/iam_sim/memo.mjs: ${url} no longer declares "${DECLARATION}" once`)
  }
  return { ...loaded, source: source.replace(DECLARATION, RENAMED) + MEMO }
}
