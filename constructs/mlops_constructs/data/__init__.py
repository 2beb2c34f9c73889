"""Data layer: the encrypted data lake, its Glue catalog and its audit trail."""

from mlops_constructs.data.audit import AuditTrail
from mlops_constructs.data.catalog import (
    CuratedTable,
    DataCatalog,
    EtlSettings,
    GlueNetwork,
    dqdl,
)
from mlops_constructs.data.lake import DataLake, DataLakeRef, LakeAccess, LakeLifecycle

__all__ = [
    "AuditTrail",
    "CuratedTable",
    "DataCatalog",
    "DataLake",
    "DataLakeRef",
    "EtlSettings",
    "GlueNetwork",
    "LakeAccess",
    "LakeLifecycle",
    "dqdl",
]
