"""Data layer: the encrypted data lake, its Glue catalog and its audit trail."""

from mlops_constructs.data.audit import AuditTrail
from mlops_constructs.data.catalog import (
    CuratedTable,
    DataCatalog,
    EtlSettings,
    IngestBatching,
    dqdl,
)
from mlops_constructs.data.lake import (
    AccessLogBucket,
    DataLake,
    DataLakeRef,
    LakeAccess,
    LakeLifecycle,
)

__all__ = [
    "AccessLogBucket",
    "AuditTrail",
    "CuratedTable",
    "DataCatalog",
    "DataLake",
    "DataLakeRef",
    "EtlSettings",
    "IngestBatching",
    "LakeAccess",
    "LakeLifecycle",
    "dqdl",
]
