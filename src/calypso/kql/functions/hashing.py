"""`hash(source [, mod])`: a 64-bit hash of a value, optionally reduced modulo `mod`.

Invariant: the value hashed is `tostring(source)`, so equal values always hash equally within one
engine. On ClickHouse the hash is xxHash64 as in Kusto, so string hashes equal Azure's
(`hash("World") == 1846988464401551951`); DuckDB has no xxHash64 and uses its own stable 64-bit
hash, so its values differ from Azure's (never across runs). With `mod` the result is in
`[0, mod)`; a null source gives null.
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..errors import KqlError
from .base import ScalarFn, agg_flag, args, as_string


def _hash(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 1, 2)
    text = as_string(vals[0], scope)
    h = scope.ctx.dialect.hash64(text.sql)
    if len(vals) == 2:
        m = vals[1]
        if m.type not in ("int", "long"):
            raise KqlError("TypeMismatch", "hash() expects an integer modulo", *call.args[1].pos)
        inner = exp.Mod(this=exp.Paren(this=h), expression=m.sql)
        h = exp.Mod(
            this=exp.Paren(this=exp.Add(this=inner, expression=m.sql.copy())), expression=m.sql.copy()
        )
    return Typed(
        exp.Case(
            ifs=[exp.If(this=exp.Is(this=text.sql.copy(), expression=exp.Null()), true=exp.Null())], default=h
        ),
        "long",
        agg_flag(*vals),
    )


HASHING: dict[str, ScalarFn] = {"hash": _hash}
