"""`translate(searchList, replacementList, text)`: character-for-character replacement.

Invariant (Kusto semantics): the i-th character of `searchList` becomes the i-th character of
`replacementList`; a shorter `replacementList` repeats its last character, an empty one deletes the
searched characters, extra replacement characters are ignored. The lists must be string literals,
so the mapping is fixed at compile time and both engines run their own `translate` on lists of
equal length (or an empty replacement, which both read as deletion).
"""

from __future__ import annotations

from .. import ast as A
from ..binder import Scope, Typed
from ..dialects.base import fn, lit
from .base import ScalarFn, args, as_string, literal_str


def kusto_translation(search: str, replacement: str) -> tuple[str, str]:
    """The (from, to) pair of equal length (or to = '') that applies Kusto's mapping rules."""
    if not replacement:
        return search, ""
    padded = replacement[: len(search)] + replacement[-1] * max(0, len(search) - len(replacement))
    return search, padded


def _translate(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 3)
    src, dst = kusto_translation(literal_str(call, 0), literal_str(call, 1))
    text = as_string(vals[2], scope)
    return Typed(fn("translate", text.sql, lit(src), lit(dst)), "string", text.is_agg)


CHARMAP: dict[str, ScalarFn] = {"translate": _translate}
