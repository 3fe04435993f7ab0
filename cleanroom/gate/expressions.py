"""The column rules, applied to one expression in one context.

``ExpressionRules.check`` returns the kind of the value an expression computes (see
``model.K``) and records a violation wherever a user_key, metric or banned column flows where
it may not. Aggregates and windows are in ``aggregates.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from sqlglot import exp

from cleanroom.errors import Violation
from cleanroom.gate import aggregates
from cleanroom.gate.definitions import read_refused
from cleanroom.gate.functions import (
    DURATIONS,
    MAX_PAD,
    PADDING,
    PER_USER_AGGREGATES,
    SAFE_AGGREGATES,
    SCALAR_FUNCTIONS,
    TIME_PRESERVING,
    WIDTHS,
    function_key,
    function_name,
)
from cleanroom.gate.model import NUMBERS, Atoms, K, Mode, Rel, Requirement, computed, widest
from cleanroom.gate.nodes import CONSTANTS, arguments, canonical, might_be_key, the_person
from cleanroom.gate.ranges import Range, constant_of
from cleanroom.gate.scope import Scope, at
from cleanroom.gate.subkeys import SUB_KEYS, null_with_person, sub_key
from cleanroom.gate.units import check_units
from cleanroom.gate.values import (
    RANGED,
    RANGED_METRIC,
    ValueRules,
    _is_null,
    case_parts,
)
from cleanroom.gate.walk import copy_tree
from cleanroom.upload import USER_KEY_PATTERN

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ,
                exp.NullSafeNEQ, exp.Like, exp.ILike, exp.SimilarTo, exp.Between, exp.RegexpLike,
                exp.Glob)
_LOGIC = (exp.And, exp.Or, exp.Not, exp.Xor)
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Pow, exp.DPipe,
               exp.BitwiseAnd, exp.BitwiseOr, exp.BitwiseXor, exp.Neg)
_NUMERIC_TYPES = {"DOUBLE", "FLOAT", "DECIMAL", "BIGINT", "INT", "INTEGER", "HUGEINT", "REAL",
                  "SMALLINT", "TINYINT", "UBIGINT", "UINT", "BIGDECIMAL"}
_TIME_TYPES = {"DATE", "TIMESTAMP", "TIMESTAMPNTZ", "DATETIME", "TIMESTAMP_S", "TIMESTAMP_MS"}

SubqueryHook = Callable[[exp.Expr], Rel]


@dataclass(frozen=True)
class Ctx:
    """Where an expression stands: the SELECT's mode and what its position allows."""

    mode: Mode
    cond: bool = False  # a boolean condition (WHERE, ON, HAVING, FILTER, CASE WHEN)
    group_keys: Mapping[str, tuple[int, K]] = field(default_factory=dict)  # canonical -> key
    uid_in_case: bool = False  # inside COUNT(DISTINCT ...): CASE may yield a user_key
    in_aggregate: bool = False
    aliases: bool = False  # may a bare name mean a projection alias here
    filtering: bool = False  # the value only decides a condition (it is never output or summed)
    across: bool = False  # inside an aggregate across people, where its parts are recorded


@dataclass
class ExpressionRules(ValueRules):
    scope: Scope
    subquery: SubqueryHook
    problems: list[Violation] = field(default_factory=list)
    # Per aggregate node id (as in ``atoms.aggregates``): who must stand behind it.
    requirements: dict[int, list[Requirement]] = field(default_factory=dict)
    atoms: Atoms = field(default_factory=Atoms)
    subqueries: dict[str, exp.Expr] = field(default_factory=dict)  # placeholders in supports
    # Per aggregate across people (by node id): the public range of its argument, if bounded
    # (the sensitivity a DP release of a derived per-person value may use).
    argument_ranges: dict[int, Range] = field(default_factory=dict)
    # The answer is noised (differential privacy): sensitivity comes from the public range of
    # what is summed, so magnitude parts (a threshold-mode defence) are not recorded.
    private: bool = False
    # The SELECT is the query's output: MIN/MAX across people are accepted only there, since a
    # withheld cell's flag does not yet reach the rows of a final set operation over CTEs.
    final: bool = False

    def require(self, aggregate: exp.Expr, condition: exp.Expr, *, zero_ok: bool = False,
                holding: exp.Expr | None = None, vector: bool = False) -> None:
        """Record who must stand behind ``aggregate`` (see ``model.Requirement``)."""
        self.requirements.setdefault(id(aggregate), []).append(
            Requirement(condition, zero_ok, holding, vector))

    @property
    def supports(self) -> list[Requirement]:
        return [r for found in self.requirements.values() for r in found]

    def fail(self, code: str, node: exp.Expr, detail: str | None = None) -> K:
        self.problems.append(at(code, node, detail))
        return K.CONST

    # -- entry point -------------------------------------------------------------------
    def check(self, node: exp.Expr, ctx: Ctx) -> K:
        if ctx.cond and not ctx.filtering:
            ctx = replace(ctx, filtering=True)
        if (ctx.group_keys and not ctx.in_aggregate and not isinstance(node, CONSTANTS)
                and might_be_key(node, ctx.group_keys)):
            hit = ctx.group_keys.get(canonical(node, self.scope))
            if hit is not None:
                self.atoms.key_hits[id(node)] = hit[0]
                return hit[1]  # a group key: its kind was checked where GROUP BY was analysed
        index = _handler_index(type(node), self._kinds)
        if index is None:
            return self.fail("unsupported_syntax", node, type(node).__name__)
        kind = self._handlers[index][1](node, ctx)
        return self.leaving(node, kind) if _projected(node, ctx) else kind

    @cached_property
    def _kinds(self) -> tuple[type | tuple[type, ...], ...]:
        return tuple(kinds for kinds, _ in self._handlers)

    @cached_property
    def _handlers(self) -> tuple[tuple[type | tuple[type, ...], Callable[..., K]], ...]:
        # Built once per instance: building it at each node checked was a twentieth of the
        # gate's time. The first entry a node is an instance of handles it.
        return (
            (exp.Column, self._column),
            (exp.Interval, self._interval),
            (CONSTANTS, lambda n, c: K.CONST),
            ((exp.Paren, exp.Alias), lambda n, c: self.check(n.this, c)),
            (exp.Filter, lambda n, c: aggregates.check_aggregate(self, n, c)),
            (exp.Window, lambda n, c: aggregates.check_window(self, n, c)),
            ((exp.Subquery, exp.Select, exp.SetOperation), self._scalar_subquery),
            (exp.In, self._in),
            (exp.Exists, lambda n, c: self.fail("subquery_predicate", n, "EXISTS")),
            (exp.Is, self._is),
            (_COMPARISONS, self._comparison),
            (_LOGIC, self._logic),
            ((exp.Case, exp.If), self._case),
            ((exp.Cast, exp.TryCast), self._cast),
            (_ARITHMETIC, self._arithmetic),
            (exp.Bracket, self._bracket),
            ((exp.Func, exp.IgnoreNulls, exp.RespectNulls), self._function),
        )

    # -- leaves ------------------------------------------------------------------------
    def _plain_sub_key(self, parts: list[exp.Expr], first: int) -> bool:
        """A sub-key counts each person's distinct values of what follows the user_key, so
        those must be the person's own rows' columns as stored: dimension columns of the same
        dataset row as the user_key (maybe cast) and literals. A CASE, a computed CTE
        column or another table's column could make everyone's count 1 but one person's
        (``COUNT(DISTINCT CONCAT(user_key, CASE WHEN <target> THEN day ELSE 'x' END))`` minus
        the people count is that person's days): the packing that parts close for sums."""
        person = parts[first]
        found = self.scope.resolve(person) if isinstance(person, exp.Column) else None
        if not isinstance(found, tuple):
            return False
        alias, source = found[0], self.scope.sources.get(found[0])
        if source is None:
            return False
        # A CTE's columns count as its dataset row's when it passed them on as they are (the
        # same row for all: ``Rel.row_origins``), whatever rows its WHERE kept.
        origin = "" if source.base else source.row_origins.get(person.name.lower())
        if origin is None:
            return False
        for i, part in enumerate(parts):
            while isinstance(part, exp.Cast):  # CAST(ts AS DATE): a function of the row's own value
                part = part.this
            if i == first or (isinstance(part, exp.Literal) and part.is_string):
                continue
            hit = self.scope.resolve(part) if isinstance(part, exp.Column) else None
            if not isinstance(hit, tuple) or hit != (alias, K.DIM):
                return False
            if not source.base and source.row_origins.get(part.name.lower()) != origin:
                return False
        return True

    def _column(self, col: exp.Column, ctx: Ctx) -> K:
        if isinstance(col.this, exp.Star):
            return self.fail("columns_expression", col, "t.* inside an expression")
        found = self.scope.resolve(col)
        if isinstance(found, Violation):
            alias = self.scope.aliases.get(col.name) if not col.table else None
            if alias is not None and ctx.aliases:
                self.atoms.alias_refs.add(id(col))
                return self.check(alias, replace(ctx, aliases=False))
            self.problems.append(found)
            return K.CONST
        kind = found[1]
        source = self.scope.sources.get(found[0])
        if kind is K.BANNED and source is not None and not source.base:
            return read_refused(self, col, source, ctx)
        if kind is K.BANNED:
            return self.fail("banned_column", col, col.name)
        if ctx.mode in (Mode.ANONYMIZING, Mode.PER_USER) and not ctx.in_aggregate:
            return self.fail("not_grouped", col, col.name)
        return K.SAFE if ctx.mode is Mode.ANON else kind

    def _interval(self, node: exp.Interval, ctx: Ctx) -> K:
        value = node.this
        width = node.parent is not None and function_key(node.parent) in WIDTHS
        if not isinstance(value, exp.Literal) or not _constant_number(value, positive=width):
            return self.fail("interval_not_constant", node)
        return K.CONST

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
                return K.VAL
            if left is not K.UID and not rel.bearing and len(rel.columns) == 1:
                return self._condition_kind([left], node, ctx)
            return self.fail("subquery_predicate", node, "IN (subquery)")
        if node.args.get("unnest") or node.args.get("field"):
            return self.fail("unsupported_syntax", node, "IN UNNEST")
        kinds = [self.check(e, replace(ctx, cond=True)) for e in node.expressions]
        if left is K.UID or K.UID in kinds:
            return self.fail("user_key_compare", node, "IN (...)")
        return self._condition_kind([left, *kinds], node, ctx)

    # -- operators ---------------------------------------------------------------------
    def _is(self, node: exp.Is, ctx: Ctx) -> K:
        kind = self.check(node.this, replace(ctx, cond=True))
        if not isinstance(node.expression, (exp.Null, exp.Boolean)):
            return self.fail("unsupported_syntax", node, "IS with a value")
        return K.VAL if kind in (K.UID, K.MET) else computed([kind])

    def _comparison(self, node: exp.Expr, ctx: Ctx) -> K:
        operands = [v for k, v in node.args.items() if isinstance(v, exp.Expr) and k != "escape"]
        kinds = [self.check(o, replace(ctx, cond=True)) for o in operands]
        if K.UID in kinds:
            if isinstance(node, exp.EQ) and kinds == [K.UID, K.UID]:
                self.atoms.safe.add(id(node))
                return K.VAL
            if isinstance(node, exp.NEQ) and any(_never_a_key(o) for o in operands):
                # True on every row: run as user_key IS NOT NULL, never as a comparison with
                # the literal. The engine holds a user_key as an integer surrogate
                # (engine/native.py), which a decimal or 0x literal could equal (one person
                # left out), and text it cannot read would fail the query.
                key = next(o for o, k in zip(operands, kinds) if k is K.UID)
                node.replace(exp.Not(this=exp.Is(this=copy_tree(key), expression=exp.Null())))
                return K.VAL
            return self.fail("user_key_compare", node, node.key.upper())
        return self._condition_kind(kinds, node, ctx)

    def _condition_kind(self, kinds: list[K], node: exp.Expr, ctx: Ctx) -> K:
        if K.MET in kinds and not ctx.cond:
            return self.fail("metric_transform", node, "a comparison used as a value")
        return K.VAL if K.MET in kinds else computed(kinds)

    def _logic(self, node: exp.Expr, ctx: Ctx) -> K:
        kinds = [self.check(c, replace(ctx, cond=True)) for c in _operands(node)]
        return self._condition_kind(kinds, node, ctx)

    def _case(self, node: exp.Expr, ctx: Ctx) -> K:
        pairs, default = case_parts(node)
        value_ctx = replace(ctx, cond=False)
        conditions: list[K] = []
        if isinstance(node, exp.Case) and node.this is not None:
            conditions.append(self.check(node.this, value_ctx))
            if conditions[0] in (K.UID, K.MET):
                return self.fail("metric_transform", node, "CASE on a value")
        outputs = [then for _, then in pairs] + ([default] if default is not None
                                                  and not _is_null(default) else [])
        conditions += [self.check(when, replace(ctx, cond=True)) for when, _ in pairs]
        kinds = [self.check(o, value_ctx) for o in outputs]
        if K.UID in kinds:
            if ctx.uid_in_case and _is_null(default) and set(kinds) <= {K.UID, K.CONST}:
                return K.UID
            return self.fail("user_key_transform", node, "CASE yielding user_key")
        if K.MET in kinds:
            return K.VAL if ctx.filtering else self._metric_case(node, kinds, outputs, ctx)
        if all(c in (K.CONST, K.SAFE) for c in conditions):
            return widest(kinds)
        if kinds == [K.DIM] and _is_null(default) and len(outputs) == 1:
            # IF(event = 'purchase', ts, NULL): the row's own timestamp or nothing, so a
            # duration from it is a duration between two stored times. Two timestamp branches
            # stay a VAL: a shifted one would set a constant magnitude per branch.
            return K.DIM
        # The branch depends on rows: only 0/1 indicators and counts stay summable outside an
        # aggregate across people; inside one, any bounded value (its branches are parts).
        if kinds and all(k is K.CNT for k in kinds):
            return K.CNT
        if all(k in NUMBERS or _indicator(o) for k, o in zip(kinds, outputs)):
            return K.NUM
        if ctx.across and self._bounded(node):
            return K.NUM
        return computed([*kinds, K.VAL])

    def _metric_case(self, node: exp.Expr, kinds: list[K], outputs: list[exp.Expr],
                     ctx: Ctx) -> K:
        """A CASE yielding a metric: the other branches may be NULL or constants (a constant
        branch is its own part); outside an aggregate across people only 0 (``leaving``)."""
        if self.private or ctx.across and self._bounded(node):
            return K.MET
        others = [o for k, o in zip(kinds, outputs) if k is not K.MET]
        if any(k not in (K.MET, K.CONST) for k in kinds):
            return self.fail("metric_transform", node, "CASE mixing a metric with other values")
        if any(not _zero(o) for o in others):
            return self.fail("metric_case_default", node)
        return K.MET

    def _cast(self, node: exp.Expr, ctx: Ctx) -> K:
        kind = self.check(node.this, ctx)
        to = node.args.get("to")
        target = str(to.this.value).upper() if isinstance(to, exp.DataType) else ""
        if kind is K.UID:
            return self.fail("user_key_transform", node, "CAST")
        if kind in (K.MET, *NUMBERS) and target in _NUMERIC_TYPES:
            return kind
        if kind is K.MET:
            return K.VAL if ctx.filtering else self.fail("metric_transform", node, f"CAST to {target}")
        if kind is K.DIM and target in _TIME_TYPES:
            return K.DIM
        return computed([kind])

    def _arithmetic(self, node: exp.Expr, ctx: Ctx) -> K:
        operands = _operands(node)
        kinds = [self.check(o, replace(ctx, cond=False)) for o in operands]
        if K.UID in kinds:
            if ctx.uid_in_case and isinstance(node, exp.DPipe) and sub_key(kinds, 0):
                if not self._plain_sub_key(_flat_pipe(node), 0):
                    return self.fail("user_key_transform", node, "a sub-key of computed values")
                return K.UID  # NULL with its user_key: no guard needed
            return self.fail("user_key_transform", node, node.key)
        if K.MET in kinds and ctx.filtering:
            return K.VAL  # a metric computed on only to be compared: a filter, never output
        if K.MET in kinds:
            return self._metric_arithmetic(node, operands, kinds, ctx)
        if all(k in (K.CONST, K.SAFE) for k in kinds):
            return widest(kinds)
        if _is_date_shift(node) and kinds[0] is K.DIM:
            return K.DIM
        return _number_arithmetic(node, kinds) or computed([*kinds, K.VAL])

    def _metric_arithmetic(self, node: exp.Expr, operands: list[exp.Expr], kinds: list[K],
                           ctx: Ctx) -> K:
        """Metrics add up, scale by constants and weights (a share, an indicator); offsets and
        differences stay refused (they are differencing, and gain no legitimate query).
        Inside an aggregate across people any bounded combination is a derived metric; terms
        and branches that could single out a few rows are parts there (``parts.py``), and must
        be uniform anywhere else (``leaving``)."""
        if isinstance(node, exp.Add) and all(k is K.MET for k in kinds):
            return K.MET
        if isinstance(node, exp.Mul) and len(kinds) == 2 and any(k in NUMBERS for k in kinds):
            return K.MET  # a metric weighted by a share or indicator (linear attribution)
        if isinstance(node, (exp.Mul, exp.Div)) and len(kinds) == 2 and self._scaling(node, kinds):
            return K.MET  # scaled by a constant (a unit change or a fixed weight)
        if isinstance(node, (exp.Mul, exp.Div)) and ctx.across and self._bounded(node):
            return K.MET  # a bounded product inside an aggregate across people: its parts count
        if self.private:
            return K.MET  # noised: still a metric, clamped to its public range where summed
        return self.fail("metric_transform", node, node.key)

    def _tally(self, node: exp.Expr) -> bool:
        """A person's SUM of a 0/1 metric: a count of the person's rows (``Range.tally``), so
        a label may be made of it (AMC's CONCAT('frequency_', impressions))."""
        found = self.range_of(node)
        return found is not None and found.tally

    def _scaling(self, node: exp.Expr, kinds: list[K]) -> bool:
        factor = node.expression if kinds[1] is K.CONST else (
            node.this if kinds[0] is K.CONST and isinstance(node, exp.Mul) else None)
        return factor is not None and constant_of(factor) not in (None, 0.0)

    def _bracket(self, node: exp.Bracket, ctx: Ctx) -> K:
        kinds = [self.check(node.this, ctx)] + [self.check(e, ctx) for e in node.expressions]
        if K.UID in kinds or K.MET in kinds:
            return self.fail("metric_transform" if K.MET in kinds else "user_key_transform", node)
        return computed(kinds)

    def _function(self, node: exp.Expr, ctx: Ctx) -> K:
        key = function_key(node)
        if key in SAFE_AGGREGATES | PER_USER_AGGREGATES:
            return aggregates.check_aggregate(self, node, ctx)
        name = function_name(node)
        if key not in SCALAR_FUNCTIONS or not isinstance(node, exp.Func):
            return self.fail("function_not_allowed", node, name)
        if key in PADDING and not _small_int(node.args.get("expression")):
            return self.fail("function_argument", node, f"{name} length over {MAX_PAD}")
        unit = check_units(node, self.scope)
        if unit is not None:
            return self.fail("unit_not_constant", unit, name)
        kinds = [self.check(a, replace(ctx, cond=False)) for a in arguments(node)]
        kinds = [K.CNT if k is K.MET and self._tally(a) else k for a, k in zip(arguments(node), kinds)]
        if K.UID in kinds and the_person(node, self.scope):
            return K.UID  # COALESCE(a.user_key, b.user_key) of a FULL JOIN: the row's person
        if K.UID in kinds:
            first = 1 if key == "ConcatWs" else 0
            if ctx.uid_in_case and key in SUB_KEYS and sub_key(kinds, first):
                if not self._plain_sub_key(list(arguments(node)), first):
                    return self.fail("user_key_transform", node, "a sub-key of computed values")
                null_with_person(node, arguments(node)[first])
                return K.UID  # a person's session key, counted: its people are the user_key's
            return self.fail("user_key_transform", node, name)
        if K.MET in kinds:
            if key in RANGED_METRIC and set(kinds) <= {K.MET, K.CONST, *NUMBERS} or self.private:
                return K.MET  # COALESCE(m, 0), LEAST(m, 100), round(m): a range is known
            return K.VAL if ctx.filtering else self.fail("metric_transform", node, name)
        data = [k for k in kinds if k not in (K.CONST, K.SAFE)]
        if key in TIME_PRESERVING and data == [K.DIM]:
            return K.DIM
        if key in DURATIONS and data and set(data) == {K.DIM}:
            # Date arithmetic on one timestamp is a constant, not a duration.
            return K.CONST if _constant(self.range_of(node)) else K.NUM
        if key in RANGED and data and set(data) <= NUMBERS:
            return K.NUM
        return computed(kinds)


# -- helpers -----------------------------------------------------------------------------
_HANDLED: dict[type, int | None] = {}


def _handler_index(node_type: type, kinds: tuple[type | tuple[type, ...], ...]) -> int | None:
    """The first of ``kinds`` that ``node_type`` is a subclass of (None: none), remembered
    per node class (``ExpressionRules._handlers`` lists the same kinds for every instance)."""
    if node_type not in _HANDLED:
        _HANDLED[node_type] = next(
            (i for i, k in enumerate(kinds) if issubclass(node_type, k)), None)
    return _HANDLED[node_type]


def _projected(node: exp.Expr, ctx: Ctx) -> bool:
    """Is ``node`` a projection of a SELECT over people's rows (not an aggregation of them)?"""
    return (ctx.mode in (Mode.ROW, Mode.PER_USER) and not ctx.in_aggregate and not ctx.cond
            and isinstance(node.parent, exp.Select) and node.arg_key == "expressions")


def _constant(found: Range | None) -> bool:
    return found is not None and found.lo == found.hi


def _zero(node: exp.Expr) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    return isinstance(node, exp.Null) or (isinstance(node, exp.Literal) and not node.is_string
                                          and _number(node.name) == 0.0)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _flat_pipe(node: exp.Expr) -> list[exp.Expr]:
    """``a || b || c`` as [a, b, c] (sqlglot nests it to the left)."""
    if not isinstance(node, exp.DPipe):
        return [node]
    return [*_flat_pipe(node.this), *_flat_pipe(node.expression)]


_PSEUDONYM = re.compile(USER_KEY_PATTERN)


def _never_a_key(node: exp.Expr) -> bool:
    """A string literal that no user_key can equal: every stored key is a 64-hex pseudonym and
    never NULL (``upload.USER_KEY_PATTERN``), so ``user_key != '0'`` (Ads Data Hub's filter on
    zeroed ids) keeps everyone. A literal shaped like a key could name one person: refused.

    >>> _never_a_key(exp.Literal.string("0")), _never_a_key(exp.Literal.string("a" * 64))
    (True, False)
    >>> _never_a_key(exp.Literal.number(0))  # user_key != 0 would cast the key (and echo it)
    False
    """
    return (isinstance(node, exp.Literal) and node.is_string
            and _PSEUDONYM.fullmatch(node.this) is None)


def _operands(node: exp.Expr) -> list[exp.Expr]:
    return [v for v in (node.args.get("this"), node.args.get("expression")) if v is not None]


def _indicator(node: exp.Expr) -> bool:
    """NULL, 0 or 1: CASE outputs that keep an indicator an indicator (any other constant
    could scale a few people's rows far above everyone else's)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Null):
        return True
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return float(node.name) in (0.0, 1.0)
        except ValueError:
            return False
    return False


_INTERVAL_TEXT = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([a-z]+)?\s*", re.IGNORECASE)


def _constant_number(literal: exp.Literal, *, positive: bool) -> bool:
    """``INTERVAL 30 DAY``, ``INTERVAL '-30 day'`` (dbt's lookback): one finite, non-zero
    number (and at most one unit) of either sign; a constant shift cannot depend on anyone's
    data. ``'1 day -24 hour'`` or ``'1 month -30 day'`` are refused: a width that comes out
    non-positive makes time_bucket raise, and only when some row reaches it."""
    found = _INTERVAL_TEXT.fullmatch(literal.name)
    if found is None:
        return False
    value = float(found.group(1))
    return math.isfinite(value) and (value > 0 if positive else value != 0)


def _small_int(node: exp.Expr | None) -> bool:
    return (isinstance(node, exp.Literal) and node.is_int and 0 <= int(node.name) <= MAX_PAD)


def _is_date_shift(node: exp.Expr) -> bool:
    return isinstance(node, (exp.Add, exp.Sub)) and isinstance(node.args.get("expression"),
                                                                exp.Interval)


def _number_arithmetic(node: exp.Expr, kinds: list[K]) -> K | None:
    """Counts and durations stay summable under + and - among themselves and negation; a
    constant divided by a count is a share (1.0 / touches, for linear attribution). Scaling
    or offsetting them by constants is left to the aggregates (it could single people out)."""
    if isinstance(node, exp.Add) and set(kinds) == {K.CNT}:
        return K.CNT
    if isinstance(node, (exp.Add, exp.Sub)) and set(kinds) <= NUMBERS:
        return K.NUM
    if isinstance(node, exp.Neg) and kinds[0] in NUMBERS:
        return K.NUM
    if isinstance(node, exp.Div) and kinds == [K.CONST, K.CNT]:
        return K.NUM
    return None
