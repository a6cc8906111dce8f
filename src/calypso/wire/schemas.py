"""Azure's standard table schemas (column names and Kusto types), the facts users' queries rely on.

`tables.json` is the list of standard tables Calypso fills; every table also has `TenantId`. Custom
tables (`*_CL`) start from `CUSTOM_BASE_COLUMNS` and grow as data arrives.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

KUSTO_TYPES = ("string", "int", "long", "real", "bool", "datetime", "timespan", "guid", "decimal", "dynamic")

# Columns every table has, whatever its source (Azure fills them on ingestion).
COMMON_COLUMNS: tuple[tuple[str, str], ...] = (
    ("TenantId", "string"),
    ("TimeGenerated", "datetime"),
    ("Type", "string"),
    ("_ResourceId", "string"),
    ("SourceSystem", "string"),
)

CUSTOM_BASE_COLUMNS: tuple[tuple[str, str], ...] = (*COMMON_COLUMNS, ("Computer", "string"))

Schema = tuple[tuple[str, str], ...]


@cache
def standard_tables() -> dict[str, Schema]:
    """Standard table name -> ordered (column, kusto type) pairs, `TenantId` included."""
    raw = json.loads(resources.files("calypso.wire").joinpath("tables.json").read_text("utf-8"))
    tables: dict[str, Schema] = {}
    for name, columns in raw.items():
        cols = [(c, t) for c, t in columns]
        present = {c for c, _ in cols}
        for c, t in COMMON_COLUMNS:
            if c not in present:
                cols.append((c, t))
        tables[name] = tuple(cols)
    return tables


def is_custom_table(name: str) -> bool:
    return name.endswith("_CL")


def column_types(schema: Schema) -> dict[str, str]:
    return dict(schema)
