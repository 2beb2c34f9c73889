// String.prototype.localeCompare without building a collator per call, for simulate.mjs:
// useFastLocaleCompare() installs fastLocaleCompare in this thread (a worker has its own).
//
// Why: iam-utils (matching a resource ARN against an action's resource types) and iam-policy
// (condition operators) compare case-insensitively with
// a.localeCompare(b, undefined, { sensitivity: 'accent' }), character by character. Given
// options, V8 builds a new ICU collator on every such call (about 8 µs; it caches only the
// option-less one), which was most of the simulator's time. ECMA-402 defines
// a.localeCompare(b, locales, options) as new Intl.Collator(locales, options).compare(a, b), so
// one collator per sensitivity, built once, answers alike. Only two strings compared in the
// default locale with no option but sensitivity set take the shortcut; any other call is the
// original's. tests/iam_sim/test_collation.py checks the two agree.

export const originalLocaleCompare = String.prototype.localeCompare
const collators = new Map()

export function fastLocaleCompare(that, locales, options) {
  const sensitivity =
    typeof this === 'string' && typeof that === 'string' && locales === undefined
      ? onlySensitivity(options)
      : undefined
  if (sensitivity === undefined) return originalLocaleCompare.call(this, that, locales, options)
  let collator = collators.get(sensitivity)
  if (collator === undefined) {
    collator = new Intl.Collator(undefined, { sensitivity })
    collators.set(sensitivity, collator)
  }
  return collator.compare(this, that)
}

// The sensitivity of options that set no other option Intl.Collator reads (ECMA-402
// InitializeCollator, in its order), else undefined.
function onlySensitivity(options) {
  if (typeof options !== 'object' || options === null) return undefined
  if (
    options.usage !== undefined ||
    options.localeMatcher !== undefined ||
    options.collation !== undefined ||
    options.numeric !== undefined ||
    options.caseFirst !== undefined
  ) {
    return undefined
  }
  const sensitivity = options.sensitivity
  if (typeof sensitivity !== 'string' || options.ignorePunctuation !== undefined) return undefined
  return sensitivity
}

export function useFastLocaleCompare() {
  String.prototype.localeCompare = fastLocaleCompare
}
