"""SQL text of a compiled tree: sqlglot's generator for the dialect, with a fast path for the
quoted identifiers, plain columns, literals, function calls, aliases, SELECTs and subqueries that
make up most of a compiled query's nodes.

Invariant: the text is exactly what sqlglot's generator for the dialect prints. The fast path only
covers nodes, outside pretty printing and without comments, whose text depends on nothing but their
name or value and the text of their children: a quoted identifier, a column made only of such
identifiers, a literal, an unqualified call, an alias to such an identifier, a SELECT made only of the
clauses in `_SIMPLE_SELECT`, a subquery with only its alias. Any other node, and any part of a column
that is not such an identifier, goes through sqlglot's own methods (the tests compare both on every
corpus query). The one node of our own, `Spliced` (a template printed once, see
`functions.template`), prints its stored text.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, ClassVar

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.generator import Generator

_MAX_NAMES = 20_000  # quoted names remembered per dialect (table and column names repeat across queries)


class Spliced(exp.Expression):
    """SQL text printed once (a template's), with argument trees put into its holes.

    `parts` alternates text and argument indexes; an argument that is not a single operand is
    printed in parentheses, so it binds as the operand it stands for.
    """

    arg_types: ClassVar[dict[str, bool]] = {"parts": True, "expressions": False}


class ColumnList(exp.Expression):
    """`"t"."a", "t"."b", ...` (or `"t"."a" AS "x", ...` with `aliases`): columns of the FROM alias
    `table` (or unqualified, without a table), as one node.

    Wide tables have hundreds of columns; one node instead of two or three per column makes
    building, copying and printing a scan cost little more than its text.
    """

    arg_types: ClassVar[dict[str, bool]] = {"table": False, "names": True, "aliases": False}


def column_items(items: Sequence[tuple[str, str, str | None] | exp.Expression]) -> list[exp.Expression]:
    """SELECT items from `(table, column, alias or None)` triples and expressions: each run of
    triples over one table (all aliased, or none) as one `ColumnList`."""
    out: list[exp.Expression] = []
    run: tuple[str, list[str], list[str | None]] | None = None

    def flush() -> None:
        if run is not None:
            aliased = run[2][0] is not None
            out.append(
                ColumnList(table=run[0], names=tuple(run[1]), aliases=tuple(run[2]) if aliased else None)
            )

    for item in items:
        if isinstance(item, tuple):
            if run is not None and run[0] == item[0] and (run[2][0] is None) == (item[2] is None):
                run[1].append(item[1])
                run[2].append(item[2])
                continue
            flush()
            run = (item[0], [item[1]], [item[2]])
        else:
            flush()
            run = None
            out.append(item)
    flush()
    return out


_COLUMN_PARTS = {"this", "table"}


def input_column(e: exp.Expression, table: str | None, name: str) -> tuple[str, str, str] | None:
    """`(table, column, name)`, an item for `column_items`, when `e` is a plain quoted column of the
    FROM alias `table` (printed `"table"."column" AS "name"` either way)."""
    if type(e) is not exp.Column or table is None or e.args.keys() != _COLUMN_PARTS:
        return None
    this, qualifier = e.args["this"], e.args["table"]
    if not _plain_quoted(this) or not _plain_quoted(qualifier) or qualifier.this != table:
        return None
    return (table, this.this, name) if type(this.this) is str else None


_OPERANDS = (exp.Column, exp.Literal, exp.Paren, exp.Null, exp.Boolean, exp.Anonymous)


def _spliced_sql(gen: Generator, e: Spliced) -> str:
    texts = []
    for a in e.expressions:
        text = gen.sql(a)
        texts.append(text if isinstance(a, _OPERANDS) else f"({text})")
    return "".join(p if type(p) is str else texts[p] for p in e.args["parts"])


def _plain_quoted(node: object) -> bool:
    return type(node) is exp.Identifier and node.args.get("quoted") is True and not node.comments


# a SELECT made of these alone prints them in this order (sqlglot's `query_modifiers` checks twenty
# more clauses, and LIMIT/FETCH spellings, on every SELECT)
_SELECT_PARTS = ("where", "group", "having", "order", "limit", "offset")
_SIMPLE_SELECT = frozenset({"expressions", "distinct", "from_", "joins", "with_", *_SELECT_PARTS})
_SUBQUERY = frozenset({"this", "alias"})
_COLUMN = ("this", "table")
_SIMPLE_TYPE = ("this", "nested", "nullable")  # a cast type made of these alone prints the same each time
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg)


def _parenthesized(handler: Any) -> Any:
    """`handler` printing an arithmetic node whose binary operands are first put in parentheses.

    sqlglot prints `Sub(a, Add(b, c))` as `a - b + c`; the compiler builds trees, not text, so every
    binary operand of an arithmetic node gets explicit parentheses, as it is printed.
    """

    def sql(gen: Generator, expression: exp.Expression) -> str:
        args = expression.args
        for key in ("this", "expression"):
            child = args.get(key)
            if isinstance(child, exp.Binary) and not isinstance(child, exp.Dot):
                expression.set(key, exp.Paren(this=child))
        return str(handler(gen, expression))

    return sql


@cache
def _generator(sqlglot_dialect: str, fast: bool = True) -> tuple[Dialect, type[Generator]]:
    """The dialect and its generator class: sqlglot's, printing our own nodes (`Spliced`,
    `ColumnList`) and arithmetic operands in parentheses; with `fast`, also the fast paths."""
    dialect = Dialect.get_or_raise(sqlglot_dialect)
    base: Any = dialect.generator_class
    quoted: dict[str, str] = {}
    types: dict[tuple[Any, ...], str] = {}  # simple cast target types, printed once
    strings: dict[str, str] = {}  # string literals, quoted and escaped
    calls: dict[str, str] = {}  # function names as the dialect prints them (upper-cased or not)
    printing = base(dialect=dialect)._dispatch  # how the dialect prints each node type

    class Plain(base):
        TRANSFORMS: ClassVar[dict[type[exp.Expression], Any]] = {
            **base.TRANSFORMS,
            Spliced: _spliced_sql,
            ColumnList: lambda self, e: self.column_list_sql(e),
            **{t: _parenthesized(printing[t]) for t in _ARITHMETIC},
        }

        def quoted_name(self, name: str) -> str:
            return str(self.identifier_sql(exp.Identifier(this=name, quoted=True)))

        def column_list_sql(self, expression: ColumnList) -> str:
            table = expression.args.get("table")
            prefix = f"{self.quoted_name(table)}." if table is not None else ""
            names, aliases = expression.args["names"], expression.args.get("aliases")
            if aliases is None:
                return ", ".join(f"{prefix}{self.quoted_name(n)}" for n in names)
            return ", ".join(
                f"{prefix}{self.quoted_name(n)} AS {self.quoted_name(a)}"
                for n, a in zip(names, aliases, strict=True)
            )

    Plain.__name__ = f"Plain{base.__name__}"
    if not fast:
        return dialect, Plain

    class Fast(Plain):
        def sql(self, expression: Any, key: str | None = None, comment: bool = True) -> str:
            # sqlglot's dispatch, without its per-node comment call (a node here rarely has comments)
            if key is not None and isinstance(expression, exp.Expression):
                expression, comment = expression.args.get(key), True
                if not expression:
                    return ""
            if isinstance(expression, exp.Expression):
                handler = dispatch.get(expression.__class__)
                if handler is not None:
                    text: str = handler(self, expression)
                    if comment and expression.comments and self.comments:
                        text = self.maybe_comment(text, expression)
                    return text
            return str(super().sql(expression, None, comment))

        def select_sql(self, expression: exp.Select) -> str:
            args = expression.args
            if (
                self.pretty
                or expression.comments
                or any(v and k not in _SIMPLE_SELECT for k, v in args.items())
                or isinstance(args.get("limit"), exp.Fetch)
            ):
                return str(super().select_sql(expression))
            sql = self.sql
            distinct = sql(expression, "distinct")
            items = expression.expressions
            texts = [sql(e, comment=False) for e in items]
            if all(texts) and not any(e.comments for e in items):
                listed = ", ".join(texts)  # what `expressions` joins when no item is empty or commented
            else:
                listed = self.expressions(expression)
            parts = [
                "SELECT",
                f" {distinct}" if distinct else "",
                f" {listed}" if listed else "",
                sql(expression, "from_", comment=False),
            ]
            parts.extend(sql(join) for join in args.get("joins") or ())
            parts.extend(sql(expression, key) for key in _SELECT_PARTS)
            return str(self.prepend_ctes(expression, "".join(parts)))

        def subquery_sql(self, expression: exp.Subquery, sep: str = " AS ") -> str:
            # `(query) AS alias`; with anything else on it (sample, pivots, modifiers) sqlglot's method
            if (
                self.pretty
                or expression.comments
                or any(v and k not in _SUBQUERY for k, v in expression.args.items())
            ):
                return str(super().subquery_sql(expression, sep))
            alias = self.sql(expression, "alias")
            return (
                f"({self.sql(expression, 'this')}){sep}{alias}"
                if alias
                else f"({self.sql(expression, 'this')})"
            )

        def datatype_sql(self, expression: exp.DataType) -> str:
            args, parent = expression.args, expression.parent
            if not isinstance(parent, exp.Cast) or any(v for k, v in args.items() if k not in _SIMPLE_TYPE):
                return str(super().datatype_sql(expression))
            key = (type(parent), args.get("this"), args.get("nested"), args.get("nullable"))
            text = types.get(key)
            if text is None:
                text = types[key] = str(super().datatype_sql(expression))
            return text

        def quoted_name(self, name: str) -> str:
            text = quoted.get(name)
            if text is None:
                text = self.identifier_sql(exp.Identifier(this=name, quoted=True))
            return text

        def literal_sql(self, expression: exp.Literal) -> str:
            args = expression.args
            text = args.get("this")
            if self.pretty or type(text) is not str or not args.get("is_string"):
                return str(super().literal_sql(expression))
            printed = strings.get(text)
            if printed is None:
                if len(strings) >= _MAX_NAMES:
                    strings.clear()
                printed = strings[text] = str(super().literal_sql(expression))
            return printed

        def anonymous_sql(self, expression: exp.Anonymous) -> str:
            args = expression.args
            name = args.get("this")
            if self.pretty or type(name) is not str or not name or type(expression.parent) is exp.Dot:
                return str(super().anonymous_sql(expression))
            text = calls.get(name)
            if text is None:
                if len(calls) >= _MAX_NAMES:
                    calls.clear()
                text = calls[name] = self.normalize_func(name)
            sql = self.sql
            inner = ", ".join(
                [sql(a) for a in args.get("expressions") or () if a is not None and type(a) is not bool]
            )
            return f"{text}({inner})"

        def alias_sql(self, expression: exp.Alias) -> str:
            name = expression.args.get("alias")
            if self.pretty or name is None or not _plain_quoted(name) or type(name.this) is not str:
                return str(super().alias_sql(expression))
            return f"{self.sql(expression.args.get('this'))} AS {self.quoted_name(name.this)}"

        def identifier_sql(self, expression: exp.Identifier) -> str:
            if self.pretty or not _plain_quoted(expression) or type(expression.this) is not str:
                return str(super().identifier_sql(expression))
            text = quoted.get(expression.this)
            if text is None:
                if len(quoted) >= _MAX_NAMES:
                    quoted.clear()
                text = quoted[expression.this] = str(super().identifier_sql(expression))
            return text

        def column_sql(self, expression: exp.Column) -> str:
            args = expression.args
            this, table = args.get("this"), args.get("table")
            others = len(args) > (2 if "table" in args else 1)  # parts besides `this` and `table`
            if self.pretty or not this or (others and any(v for k, v in args.items() if k not in _COLUMN)):
                return str(super().column_sql(expression))
            text = quoted.get(this.this) if _plain_quoted(this) else None
            if text is None:
                text = self.sql(this)
            if not table:
                return text
            prefix = quoted.get(table.this) if _plain_quoted(table) else None
            return f"{prefix or self.sql(table)}.{text}"

    Fast.__name__ = f"Fast{base.__name__}"
    dispatch = Fast(dialect=dialect)._dispatch
    return dialect, Fast


def generate(tree: exp.Expression, sqlglot_dialect: str, *, fast: bool = True) -> str:
    """`tree` as SQL text in `sqlglot_dialect`, generated in place (the tree is the caller's to spend);
    `fast=False` prints it without the fast paths (the text is the same: the tests compare them)."""
    dialect, generator = _generator(sqlglot_dialect, fast)
    return str(generator(dialect=dialect).generate(tree, copy=False))


def release(tree: exp.Expression) -> None:
    """Unlink a spent tree's nodes from their parents, so reference counting frees it at once.

    Child and parent point at each other; left linked, every compiled tree waits for the cyclic
    garbage collector, and the trees that outlive a young collection make the full collections
    (tens of milliseconds each) more frequent and longer.
    """
    stack = [tree]
    while stack:
        node = stack.pop()
        node.parent = None
        for v in node.args.values():
            if isinstance(v, exp.Expression):
                stack.append(v)
            elif type(v) is list:
                stack.extend(x for x in v if isinstance(x, exp.Expression))
