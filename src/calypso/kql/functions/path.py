"""`parse_path`: a file path or URL split into Kusto's property bag.

Invariant: the result is a JSON object with exactly Kusto's keys — Scheme, RootPath, DirectoryPath,
DirectoryName, Filename, Extension, AlternateDataStreamName — each a string (empty when absent), for
Windows (`C:\\dir\\f.txt`, `\\\\host\\share\\f`) and Unix (`/dir/f`) paths and `scheme://` URLs.
Built only from the dialect's regex and JSON hooks, so every dialect gets the same answer.
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..dialects.base import lit
from .base import ScalarFn, args, as_string

# key -> regexes (group 1 of each, concatenated; at most one matches a given path). RE2 syntax:
# no look-around, so each alternative is its own pattern. Separators are / or \.
_PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Scheme", (r"^([A-Za-z][A-Za-z0-9+.-]*)://",)),
    ("RootPath", (r"^[A-Za-z][A-Za-z0-9+.-]*://([^/]+)", r"^([A-Za-z]:)", r"^(\\\\[^\\/]+\\[^\\/]+)")),
    ("DirectoryPath", (r"^(.*)[\\/][^\\/]*$",)),
    ("DirectoryName", (r"([^\\/]*)[\\/][^\\/]*$",)),
    ("Filename", (r"([^\\/:]*)(?::[^\\/]*)?$",)),
    ("Extension", (r"\.([^.\\/:]*)(?::[^\\/]*)?$",)),
    ("AlternateDataStreamName", (r"[^\\/]:([^\\/:]+)$",)),
)


def _parse_path(call: A.Call, scope: Scope) -> Typed:
    (v,) = args(call, scope, 1)
    d = scope.ctx.dialect
    s = as_string(v, scope).sql
    pairs: list[tuple[exp.Expression, exp.Expression]] = []
    for key, patterns in _PARTS:
        found = [exp.Coalesce(this=d.regex_extract(s, lit(p), 1), expressions=[lit("")]) for p in patterns]
        pairs.append((lit(key), found[0] if len(found) == 1 else d.concat(*found)))
    return Typed(d.json_object(pairs), "dynamic", v.is_agg)


PATH: dict[str, ScalarFn] = {"parse_path": _parse_path}
