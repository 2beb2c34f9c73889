"""Resource names that code outside CDK needs too (tools, handlers): no aws_cdk import here."""

from __future__ import annotations


def bucket_name(prefix: str, purpose: str, account: str) -> str:
    """``<prefix>-<purpose>-<account>``: every platform bucket's name (globally unique)."""
    return f"{prefix}-{purpose}-{account}"


def delivery_prefix(platform_name: str) -> str:
    """The prefix of the tooling account's delivery stack resources (its buckets, key)."""
    return f"{platform_name}-delivery"
