"""The simulator's localeCompare shortcut (collation.mjs) answers as the original: every pair of
a set of strings (case, accents, combining marks, ligatures, the Turkish i, ARN separators and
wildcards, the condition operators iam-policy compares), under every sensitivity, and under
locales and options the shortcut leaves to the original."""

from __future__ import annotations

import json
from pathlib import Path

from tests.iam_sim import node_module_result

COLLATION = (Path(__file__).resolve().parent / "collation.mjs").as_uri()

SCRIPT = """
import { fastLocaleCompare, originalLocaleCompare } from %s
// a acute, A acute, a umlaut, a and a combining acute, sharp s, the ff ligature, dotless i and
// capital dotted I.
const strings = ['', ' ', '\\u00a0', 'a', 'A', '\\u00e1', '\\u00c1', '\\u00e4', 'a\\u0301', 'b',
  'z', 'Z', '0', '9', ':', '/', '-', '_', '.', '*', '?', '$', '{', '}', '\\u00df', 'ss', 'SS',
  '\\ufb00', 'ff', '\\u0131', 'I', 'i', '\\u0130',
  'IfExists', 'ifexists', 'IFEXISTS', 'ForAllValues', 'forallvalues', 'ForAnyValue',
  'StringEqualsIgnoreCase', 'arn:aws:s3:::bucket/key', 'arn:aws:S3:::Bucket/Key',
  'arn:aws:sagemaker:eu-west-1:111111111111:model-package-group/team-a']
const sensitivities = ['base', 'accent', 'case', 'variant']
const options = [undefined, {}, ...sensitivities.map((sensitivity) => ({ sensitivity })),
  { sensitivity: 'accent', numeric: true }, { sensitivity: 'base', caseFirst: 'upper' }]
let checked = 0
const mismatches = []
for (const locales of [undefined, 'en', 'tr', 'de-u-co-phonebk']) {
  for (const option of options) {
    for (const a of strings) {
      for (const b of strings) {
        const fast = fastLocaleCompare.call(a, b, locales, option)
        const original = originalLocaleCompare.call(a, b, locales, option)
        checked++
        if (fast !== original) mismatches.push({ a, b, locales, option, fast, original })
      }
    }
  }
}
process.stdout.write(JSON.stringify({ checked, mismatches }))
"""


def test_fast_locale_compare_answers_as_the_original() -> None:
    result = node_module_result(SCRIPT % json.dumps(COLLATION))
    assert result["checked"] > 10_000
    assert result["mismatches"] == []
