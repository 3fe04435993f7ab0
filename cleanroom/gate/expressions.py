"""The column rules, applied to one expression in one context.

``check_expr`` returns the kind of the value an expression computes (see ``model.K``) and
records a violation wherever a user_key, metric or banned column flows where it may not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlglot import exp

from cleanroom.errors import Violation
from cleanroom.gate.functions import (
    COUNT_AGGREGATES,
    PER_USER_AGGREGATES,
    SAFE_AGGREGATES,
    SCALAR_FUNCTIONS,
    WINDOW_FUNCTIONS,
    function_key,
    unwrap_nulls,
)
from cleanroom.gate.model import K, Mode, Rel, widest
from cleanroom.gate.scope import Scope, at

_CONSTANTS = (exp.Literal, exp.Null, exp.Boolean, exp.DataType, exp.Var, exp.Interval, exp.Star,
              exp.CurrentDate, exp.CurrentTimestamp, exp.Placeholder)
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ,
                exp.NullSafeNEQ, exp.Like, exp.ILike, exp.SimilarTo, exp.Between, exp.RegexpLike,
                exp.Glob)
_LOGIC = (exp.And, exp.Or, exp.Not, exp.Xor)
_METRIC_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div)
_ARITHMETIC = (*_METRIC_ARITHMETIC, exp.IntDiv, exp.Mod, exp.Pow, exp.DPipe, exp.BitwiseAnd,
               exp.BitwiseOr, exp.BitwiseXor)
_NUMERIC_TYPES = {"DOUBLE", "FLOAT", "DECIMAL", "BIGINT", "INT", "INTEGER", "HUGEINT", "REAL"}

SubqueryHook = Callable[[exp.Expr], Rel]


@dataclass(frozen=True)
class Ctx:
    """Where an expression stands: the SELECT's mode and what its position allows."""

    mode: Mode
    cond: bool = False  # a boolean condition (WHERE, ON, HAVING, FILTER, CASE WHEN)
    group_keys: frozenset[str] = frozenset()  # canonical SQL of group keys (ANONYMIZING)
    uid_in_case: bool = False  # inside COUNT(DISTINCT ...): CASE may yield a user_key
    in_aggregate: bool = False


@dataclass
class ExpressionRules:
    scope: Scope
    subquery: SubqueryHook
    problems: list[Violation] = field(default_factory=list)
    supports: list[exp.Expr] = field(default_factory=list)  # per-aggregate people counts
    aggregates: list[tuple[exp.Expr, str]] = field(default_factory=list)

    def fail(self, code: str, node: exp.Expr, detail: str | None = None) -> K:
        self.problems.append(at(code, node, detail))
        return K.CONST

    # -- entry point -------------------------------------------------------------------
    def check(self, node: exp.Expr, ctx: Ctx) -> K:
        if ctx.mode is Mode.ANONYMIZING and not ctx.in_aggregate and ctx.group_keys:
            if canonical(node, self.scope) in ctx.group_keys:
                return K.SAFE  # a group key: checked where GROUP BY was analysed
        for kinds, handler in self._handlers():
            if isinstance(node, kinds):
                return handler(node, ctx)
        return self.fail("unsupported_syntax", node, type(node).__name__)

    def _handlers(self) -> tuple[tuple[type | tuple[type, ...], Callable[..., K]], ...]:
        return (
            (exp.Column, self._column),
            (_CONSTANTS, lambda n, c: K.CONST),
            ((exp.Paren, exp.Alias), lambda n, c: self.check(n.this, c)),
            (exp.Filter, self._aggregate),
            (exp.Window, self._window),
            ((exp.Subquery, exp.Select, exp.SetOperation), self._scalar_subquery),
            (exp.In, self._in),
            (exp.Exists, lambda n, c: self.fail("subquery_predicate", n, "EXISTS")),
            (exp.Is, self._is),
            (_COMPARISONS, self._comparison),
            (_LOGIC, self._logic),
            ((exp.Case, exp.If), self._case),
            ((exp.Cast, exp.TryCast), self._cast),
            (exp.Neg, self._arithmetic),
            (_ARITHMETIC, self._arithmetic),
            (exp.Bracket, self._bracket),
            (exp.Func, self._function),
        )

    # -- leaves ------------------------------------------------------------------------
    def _column(self, col: exp.Column, ctx: Ctx) -> K:
        if isinstance(col.this, exp.Star):
            return self.fail("columns_expression", col, "t.* inside an expression")
        found = self.scope.resolve(col)
        if isinstance(found, Violation):
            alias = self.scope.aliases.get(col.name) if not col.table else None
            if alias is not None and ctx.mode is not Mode.ROW:
                return self.check(alias, ctx)
            self.problems.append(found)
            return K.CONST
        kind = found[1]
        if kind is K.BANNED:
            return self.fail("banned_column", col, col.name)
        if ctx.mode is Mode.ANONYMIZING and not ctx.in_aggregate:
            return self.fail("not_grouped", col, col.name)
        if ctx.mode is Mode.ANON:
            return K.SAFE
        return kind

    # -- aggregates --------------------------------------------------------------------
    def _aggregate(self, node: exp.Expr, ctx: Ctx) -> K:
        func, condition = (node.this, node.expression) if isinstance(node, exp.Filter) else (node, None)
        func = unwrap_nulls(func)
        key = function_key(func)
        if ctx.in_aggregate:
            return self.fail("unsupported_syntax", node, "nested aggregate")
        if ctx.mode is Mode.ROW:
            return self.fail("aggregate_in_where", node, key)
        inner = replace(ctx, in_aggregate=True, mode=Mode.ROW, group_keys=frozenset())
        if ctx.mode is Mode.ANON:
            inner = replace(inner, mode=Mode.ANON)
        if condition is not None:
            self.check(condition.this if isinstance(condition, exp.Where) else condition,
                       replace(inner, cond=True))
        if ctx.mode is Mode.ANONYMIZING:
            return self._anonymizing_aggregate(func, key, condition, inner)
        allowed = PER_USER_AGGREGATES if ctx.mode in (Mode.PER_USER, Mode.ANON) else SAFE_AGGREGATES
        if key not in allowed:
            return self.fail("function_not_allowed", func, key.removeprefix("Anonymous:"))
        kinds = [self._aggregate_arg(a, inner, func) for a in _arguments(func)]
        if ctx.mode is Mode.ANON:
            return K.SAFE
        return K.DIM if key in COUNT_AGGREGATES else widest(kinds)

    def _aggregate_arg(self, arg: exp.Expr, ctx: Ctx, func: exp.Expr) -> K:
        counting = function_key(func) in COUNT_AGGREGATES
        kind = self.check(arg, replace(ctx, uid_in_case=counting))
        if kind is K.UID and not counting:
            return self.fail("user_key_aggregate", func, function_key(func))
        return K.DIM if kind is K.UID else kind

    def _anonymizing_aggregate(self, func: exp.Expr, key: str, condition: exp.Expr | None,
                               ctx: Ctx) -> K:
        if key not in SAFE_AGGREGATES:
            if key in PER_USER_AGGREGATES or key.startswith("Anonymous:"):
                return self.fail("member_aggregate", func, key.removeprefix("Anonymous:"))
            return self.fail("function_not_allowed", func, key)
        args = _arguments(func)
        distinct = isinstance(func.this, exp.Distinct)
        if distinct and key not in COUNT_AGGREGATES:
            return self.fail("distinct_aggregate", func, key)
        kinds = [self._aggregate_arg(a, ctx, func) for a in args]
        if key not in COUNT_AGGREGATES and K.UID not in kinds:
            self._record_support(args, condition)
        elif condition is not None:
            self._record_support([], condition)
        self.aggregates.append((func, key))
        return K.SAFE

    def _record_support(self, args: list[exp.Expr], condition: exp.Expr | None) -> None:
        """People behind one aggregate: those whose argument is not NULL and pass its FILTER."""
        parts = [exp.Not(this=exp.Is(this=_qualify(a, self.scope), expression=exp.Null()))
                 for a in args if not isinstance(a, _CONSTANTS)]
        if condition is not None:
            cond = condition.this if isinstance(condition, exp.Where) else condition
            parts.append(exp.Paren(this=_qualify(cond, self.scope)))
        if parts:
            self.supports.append(exp.and_(*parts))

    # -- windows and subqueries --------------------------------------------------------
    def _window(self, node: exp.Window, ctx: Ctx) -> K:
        func = unwrap_nulls(node.this)
        key = function_key(func)
        if key not in WINDOW_FUNCTIONS | PER_USER_AGGREGATES:
            return self.fail("function_not_allowed", func, key.removeprefix("Anonymous:"))
        bearing_rows = ctx.mode in (Mode.ROW, Mode.PER_USER) and self.scope.bearing
        if bearing_rows and not self._partitioned_by_user(node, ctx):
            return self.fail("cross_user_window", node)
        inner = ctx if not bearing_rows else replace(ctx, mode=Mode.ROW)
        for part in (node.args.get("partition_by") or []):
            self.check(part, replace(inner, cond=True)) if not bearing_rows else None
        order = node.args.get("order")
        for ordered in (order.expressions if order else []):
            if self.check(ordered.this, inner) is K.UID:
                self.fail("user_key_compare", ordered, "ORDER BY user_key in a window")
        if key in PER_USER_AGGREGATES and not bearing_rows:
            kinds = [self.check(a, replace(ctx, in_aggregate=False)) for a in _arguments(func)]
            return K.SAFE if ctx.mode is not Mode.ROW else widest(kinds)
        kinds = [self.check(a, inner) for a in _arguments(func)]
        if K.UID in kinds:
            return self.fail("user_key_transform", func, key)
        if ctx.mode in (Mode.ANONYMIZING, Mode.ANON):
            return K.SAFE
        return K.DIM if key in WINDOW_FUNCTIONS - {"Lag", "Lead", "FirstValue", "LastValue",
                                                   "NthValue"} else widest(kinds)

    def _partitioned_by_user(self, node: exp.Window, ctx: Ctx) -> bool:
        parts = node.args.get("partition_by") or []
        kinds = [self.check(p, replace(ctx, mode=Mode.ROW, cond=True)) for p in parts]
        return K.UID in kinds

    def _scalar_subquery(self, node: exp.Expr, ctx: Ctx) -> K:
        rel = self.subquery(node)
        if rel.bearing or len(rel.columns) != 1:
            return self.fail("scalar_subquery", node)
        return K.SAFE

    def _in(self, node: exp.In, ctx: Ctx) -> K:
        left = self.check(node.this, replace(ctx, cond=True))
        query = node.args.get("query")
        if query is not None:
            rel = self.subquery(query)
            uid_list = rel.bearing and len(rel.columns) == 1 and rel.columns[0][1] is K.UID
            if left is K.UID and uid_list:
                return K.DIM
            if left is not K.UID and not rel.bearing and len(rel.columns) == 1:
                return K.DIM
            return self.fail("subquery_predicate", node, "IN (subquery)")
        if node.args.get("unnest") or node.args.get("field"):
            return self.fail("unsupported_syntax", node, "IN UNNEST")
        kinds = [self.check(e, ctx) for e in node.expressions]
        if left is K.UID or K.UID in kinds:
            return self.fail("user_key_compare", node, "IN (...)")
        return self._condition_kind([left, *kinds], node, ctx)

    # -- operators ---------------------------------------------------------------------
    def _is(self, node: exp.Is, ctx: Ctx) -> K:
        kind = self.check(node.this, replace(ctx, cond=True))
        if not isinstance(node.expression, (exp.Null, exp.Boolean)):
            return self.fail("unsupported_syntax", node, "IS with a value")
        return K.DIM if kind in (K.UID, K.MET) else kind

    def _comparison(self, node: exp.Expr, ctx: Ctx) -> K:
        operands = [v for k, v in node.args.items() if isinstance(v, exp.Expr) and k != "escape"]
        kinds = [self.check(o, replace(ctx, cond=True)) for o in operands]
        if K.UID in kinds:
            if isinstance(node, exp.EQ) and kinds == [K.UID, K.UID]:
                return K.DIM
            return self.fail("user_key_compare", node, node.key.upper())
        return self._condition_kind(kinds, node, ctx)

    def _condition_kind(self, kinds: list[K], node: exp.Expr, ctx: Ctx) -> K:
        if K.MET in kinds and not ctx.cond:
            return self.fail("metric_transform", node, "a comparison used as a value")
        kind = widest(kinds)
        return K.DIM if kind is K.MET else kind

    def _logic(self, node: exp.Expr, ctx: Ctx) -> K:
        kinds = [self.check(c, replace(ctx, cond=True)) for c in _operands(node)]
        return self._condition_kind(kinds, node, ctx)

    def _case(self, node: exp.Expr, ctx: Ctx) -> K:
        pairs, default = _case_parts(node)
        value_ctx = replace(ctx, cond=False)
        if isinstance(node, exp.Case) and node.this is not None:
            if self.check(node.this, value_ctx) in (K.UID, K.MET):
                return self.fail("metric_transform", node, "CASE on a value")
        kinds: list[K] = []
        for when, then in pairs:
            self.check(when, replace(ctx, cond=True))
            kinds.append(self.check(then, value_ctx))
        default_kind = None if _is_null(default) else self.check(default, value_ctx)
        if K.UID in kinds or default_kind is K.UID:
            if ctx.uid_in_case and default_kind is None and set(kinds) <= {K.UID, K.CONST}:
                return K.UID
            return self.fail("user_key_transform", node, "CASE yielding user_key")
        if K.MET in kinds and default_kind is not None:
            return self.fail("metric_case_default", node)
        return widest(kinds + ([default_kind] if default_kind else []))

    def _cast(self, node: exp.Expr, ctx: Ctx) -> K:
        kind = self.check(node.this, ctx)
        if kind is K.UID:
            return self.fail("user_key_transform", node, "CAST")
        target = node.args["to"].this.value if isinstance(node.args.get("to"), exp.DataType) else ""
        if kind is K.MET and str(target).upper() not in _NUMERIC_TYPES:
            return self.fail("metric_transform", node, f"CAST to {target}")
        return kind

    def _arithmetic(self, node: exp.Expr, ctx: Ctx) -> K:
        kinds = [self.check(o, replace(ctx, cond=False)) for o in _operands(node)]
        if K.UID in kinds:
            return self.fail("user_key_transform", node, node.key)
        if K.MET in kinds:
            mixes_dim = K.DIM in kinds and not _is_date_shift(node)
            if not isinstance(node, _METRIC_ARITHMETIC) or mixes_dim:
                return self.fail("metric_transform", node, node.key)
        return widest(kinds)

    def _bracket(self, node: exp.Bracket, ctx: Ctx) -> K:
        kinds = [self.check(node.this, ctx)] + [self.check(e, ctx) for e in node.expressions]
        if K.UID in kinds or K.MET in kinds:
            return self.fail("metric_transform" if K.MET in kinds else "user_key_transform", node)
        return widest(kinds)

    def _function(self, node: exp.Func, ctx: Ctx) -> K:
        key = function_key(node)
        if key in SAFE_AGGREGATES | PER_USER_AGGREGATES:
            return self._aggregate(node, ctx)
        if key not in SCALAR_FUNCTIONS:
            return self.fail("function_not_allowed", node, key.removeprefix("Anonymous:"))
        kinds = [self.check(a, replace(ctx, cond=False)) for a in _arguments(node)]
        if K.UID in kinds:
            return self.fail("user_key_transform", node, key.removeprefix("Anonymous:"))
        if K.MET in kinds:
            return self.fail("metric_transform", node, key.removeprefix("Anonymous:"))
        return widest(kinds)


# -- helpers -----------------------------------------------------------------------------
def _arguments(func: exp.Expr) -> list[exp.Expr]:
    args: list[exp.Expr] = []
    for key, value in func.args.items():
        if key in ("order",) and isinstance(value, exp.Order):
            args.extend(o.this for o in value.expressions)
            continue
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, exp.Distinct):
                args.extend(v.expressions)
            elif isinstance(v, exp.Order):
                args.append(v.this)
                args.extend(o.this for o in v.expressions)
            elif isinstance(v, exp.Expr):
                args.append(v)
    return args


def _operands(node: exp.Expr) -> list[exp.Expr]:
    return [v for v in (node.args.get("this"), node.args.get("expression")) if v is not None]


def _case_parts(node: exp.Expr) -> tuple[list[tuple[exp.Expr, exp.Expr]], exp.Expr | None]:
    if isinstance(node, exp.If):
        return [(node.this, node.args["true"])], node.args.get("false")
    return [(w.this, w.args["true"]) for w in node.args.get("ifs") or []], node.args.get("default")


def _is_null(node: exp.Expr | None) -> bool:
    return node is None or isinstance(node, exp.Null)


def _is_date_shift(node: exp.Expr) -> bool:
    return any(isinstance(o, exp.Interval) for o in _operands(node))


def _qualify(node: exp.Expr, scope: Scope) -> exp.Expr:
    """A copy of ``node`` whose columns name their source, for use in rewritten SQL."""
    def fix(sub: exp.Expr) -> exp.Expr:
        if isinstance(sub, exp.Column) and not isinstance(sub.this, exp.Star):
            return scope.qualified(sub) or sub
        return sub
    return node.copy().transform(fix)


def canonical(node: exp.Expr, scope: Scope) -> str:
    """Compare expressions by what they compute: columns qualified by their source."""
    return _qualify(node, scope).sql(dialect="duckdb")
