"""Helpers shared by the function families: argument checking and translation.

Invariant: `args()` validates the argument count against the function's arity before any SQL is
built, raising `KqlError("SyntaxError")` at the call's position.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import ast as A
from ..binder import Scope, Typed
from ..errors import KqlError

ScalarFn = Callable[[A.Call, Scope], Typed]


def args(call: A.Call, scope: Scope, lo: int, hi: int | None = None) -> list[Typed]:
    from ..scalars import translate

    hi = lo if hi is None else hi
    if not lo <= len(call.args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise KqlError(
            "SyntaxError", f"Function '{call.name}' expects {want} arguments, got {len(call.args)}", *call.pos
        )
    return [translate(a, scope) for a in call.args]


def as_string(t: Typed, scope: Scope) -> Typed:
    if t.type == "string":
        return t
    return Typed(scope.ctx.dialect.to_string(t.sql, t.type), "string", t.is_agg)


def literal_str(call: A.Call, i: int) -> str:
    a = call.args[i]
    if isinstance(a, A.Literal) and isinstance(a.value, str):
        return a.value
    raise KqlError("TypeMismatch", f"Argument {i + 1} of '{call.name}' must be a string literal", *a.pos)


def literal_int(call: A.Call, i: int) -> int:
    a = call.args[i]
    if isinstance(a, A.Literal) and isinstance(a.value, int) and not isinstance(a.value, bool):
        return a.value
    raise KqlError("TypeMismatch", f"Argument {i + 1} of '{call.name}' must be an integer literal", *a.pos)


def agg_flag(*ts: Typed) -> bool:
    return any(t.is_agg for t in ts)
