"""`compile_query`: KQL text -> one SQL SELECT for a dialect, with Kusto output columns.

Invariant: the only exception that escapes is `KqlError`; any internal failure is reported as a
`KqlError` naming the position of the query's start rather than a stack trace.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlglot import exp
from sqlglot.errors import SqlglotError

from . import ast as A
from . import operators as _operators  # noqa: F401  (registers make-series, search, mv-apply, ...)
from . import relational as _relational  # noqa: F401  (registers join, mv-expand, parse, ...)
from . import sources as _sources  # noqa: F401  (registers table sources)
from .binder import Context, Rel, Scope, Typed
from .dialects import DIALECTS
from .errors import CompiledQuery, KqlError, OutputColumn
from .parse_ops import parse
from .planner import plan
from .prune import hint_unchanged, scan_needs
from .scalars import translate
from .sqlgen import generate, release
from .values import parse_datetime

KUSTO_TYPES = ("string", "int", "long", "real", "bool", "datetime", "timespan", "guid", "decimal", "dynamic")


def storage_type(kusto_type: str, dialect: str = "duckdb") -> str:
    """The SQL column type a store must use for `kusto_type` in `dialect`."""
    d = DIALECTS.get(dialect)
    if d is None:
        raise KqlError("UnsupportedOperator", f"Unknown dialect '{dialect}'")
    if kusto_type not in d.storage:
        raise KqlError("TypeMismatch", f"Unknown Kusto type '{kusto_type}'")
    return d.storage_type(kusto_type)


def compile_query(
    text: str,
    catalog: Mapping[str, Sequence[tuple[str, str]]],
    *,
    dialect: str = "duckdb",
    now: datetime | None = None,
    timespan: tuple[datetime, datetime] | None = None,
) -> CompiledQuery:
    d = DIALECTS.get(dialect)
    if d is None:
        raise KqlError("UnsupportedOperator", f"Unknown dialect '{dialect}'")
    now = now or datetime.now(UTC)
    if now.tzinfo is not None:
        now = now.astimezone(UTC)
    span = None
    if timespan is not None:
        span = (_naive(timespan[0]), _naive(timespan[1]))
    tables = {k: list(v) for k, v in catalog.items()}
    with _errors(dialect):
        script = parse(text)
    query_now = script.options.get("query_now")
    if isinstance(query_now, str):  # `set query_now = datetime(...)`: what now() and ago() mean
        stamp = parse_datetime(query_now)
        if stamp is not None:
            now = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    try:
        scans = scan_needs(script, tables)
    except RecursionError:
        scans = {}
    if not any(need is not None for need in scans.values()):
        return _compile(script, Context(d, tables, now, span), dialect)
    pruned = Context(d, tables, now, span, scans=scans)
    try:
        return _compile(script, pruned, dialect)
    except KqlError as e:
        if e.code != "UnknownColumn":  # the only errors that list columns (did-you-mean hints)
            raise
        if (
            e.unresolved is not None
            and not pruned.planned_union
            and hint_unchanged(e.unresolved, scans, tables)
        ):
            raise  # the unpruned compile would fail here with this very message
    # compiled again with every column, so the hint names the columns it would without pruning
    return _compile(script, Context(d, tables, now, span), dialect)


def _compile(script: A.Script, ctx: Context, dialect: str) -> CompiledQuery:
    ctx.plan_tabular = plan
    with _errors(dialect):
        for let in script.lets:
            _bind_let(ctx, let)
        rel = plan(ctx, script.query)
        top = rel.sql
        if ctx.ctes:
            top = exp.select(*[exp.column(n, quoted=True) for n, _ in rel.columns]).from_(
                top.subquery(ctx.fresh(), copy=False), copy=False
            )
            for name, cte in ctx.ctes:
                top = top.with_(exp.to_identifier(name, quoted=True), as_=cte, copy=False)
        # the tree is ours and used once: generate without sqlglot's defensive deep copy
        tree = cast(exp.Expression, top)  # a Query is an Expression; sqlglot's stubs type it apart
        sql = generate(tree, ctx.dialect.sqlglot_dialect)  # arithmetic operands parenthesized as printed
        release(tree)
    return CompiledQuery(
        sql, tuple(_output_column(n, t) for n, t in rel.columns), ctx.render, tuple(ctx.externals)
    )


_OUTPUT_COLUMNS: dict[tuple[str, str], OutputColumn] = {}  # immutable, and the same names recur


def _output_column(name: str, kusto_type: str) -> OutputColumn:
    column = _OUTPUT_COLUMNS.get((name, kusto_type))
    if column is None:
        if len(_OUTPUT_COLUMNS) >= 20_000:
            _OUTPUT_COLUMNS.clear()
        column = _OUTPUT_COLUMNS[name, kusto_type] = OutputColumn(name, kusto_type)
    return column


@contextmanager
def _errors(dialect: str) -> Iterator[None]:
    """Any internal failure as a `KqlError` rather than a stack trace."""
    try:
        yield
    except KqlError:
        raise
    except RecursionError:
        raise KqlError("SyntaxError", "The query is nested too deeply") from None
    except NotImplementedError as e:
        raise KqlError(
            "UnsupportedFunction", f"'{e or 'this function'}' is not supported by the {dialect} dialect yet"
        ) from None
    except (
        SqlglotError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        AssertionError,
        OverflowError,
    ) as e:
        raise KqlError(
            "UnsupportedOperator", f"The query could not be compiled: {type(e).__name__}: {e}"
        ) from None


def _naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _bind_let(ctx: Context, let: A.Let) -> None:
    value = let.value
    if isinstance(value, A.FunctionDef | A.Tabular):
        ctx.lets[let.name] = value
        return
    if isinstance(value, A.Name) and (
        value.name in ctx.catalog or isinstance(ctx.lets.get(value.name), A.Tabular | Rel)
    ):
        ctx.lets[let.name] = A.TableRef(value.pos, value.name)
        return
    called = ctx.lets.get(value.name) if isinstance(value, A.Call) else None
    if isinstance(value, A.Call) and isinstance(called, A.FunctionDef) and isinstance(called.body, A.Tabular):
        ctx.lets[let.name] = A.FunctionCallTable(value.pos, value.name, value.args)  # a table-valued call
        return
    if isinstance(value, A.Call) and value.name == "materialize" and len(value.args) == 1:
        arg = value.args[0]
        ctx.lets[let.name] = (
            arg.query if isinstance(arg, A.TabularArg) else A.TableRef(arg.pos, getattr(arg, "name", "?"))
        )
        return
    ctx.lets[let.name] = translate(value, Scope(ctx, {}))


def _bind_params(
    ctx: Context, fdef: A.FunctionDef, args: tuple[A.Expr, ...], pos: A.Pos, caller: Scope | None = None
) -> dict[str, Any]:
    """Bind a user function's parameters; scalar arguments are read in the `caller`'s scope (a call in
    `extend v = f(Column)` passes that row's Column), else as constants."""
    if len(args) > len(fdef.params):
        raise KqlError("SyntaxError", "Too many arguments to function", *pos)
    saved = dict(ctx.lets)
    bound: dict[str, Any] = {}
    for i, p in enumerate(fdef.params):
        if i < len(args):
            a = args[i]
            if p.type == "table":
                bound[p.name] = ctx.share(
                    plan(
                        ctx,
                        a.query
                        if isinstance(a, A.TabularArg)
                        else A.TableRef(a.pos, a.name)
                        if isinstance(a, A.Name)
                        else _fail(a),
                    )
                )
            else:
                bound[p.name] = translate(a, caller or Scope(ctx, {}))
        elif p.default is not None:
            bound[p.name] = translate(p.default, Scope(ctx, {}))
        else:
            raise KqlError("SyntaxError", f"Missing argument '{p.name}'", *pos)
    ctx.lets.update(bound)
    for let in fdef.lets:
        _bind_let(ctx, let)
    return saved


def _fail(a: A.Expr) -> A.Tabular:
    raise KqlError("TypeMismatch", "Expected a tabular argument", *a.pos)


def call_user_tabular(ctx: Context, t: A.FunctionCallTable) -> Rel:
    fdef = ctx.lets.get(t.name)
    if not isinstance(fdef, A.FunctionDef):
        raise KqlError("UnknownFunction", f"Unknown function or table: '{t.name}'", *t.pos)
    saved = _bind_params(ctx, fdef, t.args, t.pos)
    try:
        if not isinstance(fdef.body, A.Tabular):
            raise KqlError("TypeMismatch", f"Function '{t.name}' does not return a table", *t.pos)
        return plan(ctx, fdef.body)
    finally:
        ctx.lets.clear()
        ctx.lets.update(saved)


def call_user_scalar(call: A.Call, scope: Scope) -> Typed:
    ctx = scope.ctx
    fdef = ctx.lets.get(call.name)
    if isinstance(fdef, A.Tabular):
        rel = plan(ctx, fdef)
        q = (
            exp.select(exp.column(rel.columns[0][0], quoted=True))
            .from_(rel.sql.subquery(ctx.fresh(), copy=False), copy=False)
            .limit(1, copy=False)
        )
        return Typed(exp.Subquery(this=q), rel.columns[0][1])
    if not isinstance(fdef, A.FunctionDef):
        raise KqlError("UnknownFunction", f"Unknown function: '{call.name}'", *call.pos)
    saved = _bind_params(ctx, fdef, call.args, call.pos, scope)
    try:
        if isinstance(fdef.body, A.Tabular):
            rel = plan(ctx, fdef.body)
            q = (
                exp.select(exp.column(rel.columns[0][0], quoted=True))
                .from_(rel.sql.subquery(ctx.fresh(), copy=False), copy=False)
                .limit(1, copy=False)
            )
            return Typed(exp.Subquery(this=q), rel.columns[0][1])
        inner = Scope(ctx, scope.columns, scope.table, scope.sides, scope.row_context, scope.locals)
        return translate(fdef.body, inner)
    finally:
        ctx.lets.clear()
        ctx.lets.update(saved)
