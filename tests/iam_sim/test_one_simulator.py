"""One simulator process answers a whole test process (ADR 0028): a question's decisions are
the same whatever it was asked before, as a simulator started for that question alone answers
them. The earlier question gives the same role and resource other policies, so an answer that
reused anything of it would differ."""

from __future__ import annotations

from typing import Any

from tests.iam_sim import Decision, Request, new_simulator, simulate

ACCOUNT = "111111111111"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/team-a"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/team-a/session"
BUCKET = "arn:aws:s3:::team-a-data"


def _policy(effect: str, action: str, principal: Any = None) -> dict[str, Any]:
    statement = {"Effect": effect, "Action": action, "Resource": f"{BUCKET}/*"}
    if principal is not None:
        statement["Principal"] = principal
    return {"Version": "2012-10-17", "Statement": [statement]}


# Before: the role may do anything to the objects, and so may the bucket policy let it.
BEFORE = (
    {ROLE: [("everything", _policy("Allow", "s3:*"))]},
    {"bucket": _policy("Allow", "s3:*", {"AWS": ROLE})},
)
# After: the role may only read, and the bucket policy denies every write.
AFTER = (
    {ROLE: [("read", _policy("Allow", "s3:GetObject"))]},
    {"bucket": _policy("Deny", "s3:PutObject", "*")},
)


def _requests() -> list[Request]:
    return [
        Request(SESSION, action, f"{BUCKET}/{key}", identity=ROLE, resource_policy="bucket")
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
        for key in ("a.csv", "b/c.csv")
    ]


def _results(decisions: list[Decision]) -> list[str]:
    return [d.result for d in decisions]


def test_a_question_is_answered_as_by_a_simulator_of_its_own() -> None:
    before = simulate(_requests(), *BEFORE, ACCOUNT)
    shared = simulate(_requests(), *AFTER, ACCOUNT)
    alone = simulate(_requests(), *AFTER, ACCOUNT, simulator=new_simulator())
    assert shared == alone
    assert _results(before) == ["Allowed"] * 6
    assert _results(shared) == ["Allowed"] * 2 + ["ExplicitlyDenied"] * 2 + ["ImplicitlyDenied"] * 2
