"""Analyse a parsed query: follow every column through CTEs, subqueries, joins and set
operations, decide how each SELECT treats people's rows, and collect every violation.

>>> cat = Catalog.of({"t": {"user_key": K.UID, "channel": K.DIM, "rev": K.MET}})
>>> shape = analyse_query(sqlglot.parse_one("SELECT channel, SUM(rev) FROM t GROUP BY 1", read="duckdb"), cat)
>>> shape.final_mode.value
'anonymizing'
>>> analyse_query(sqlglot.parse_one("SELECT user_key FROM t", read="duckdb"), cat)
Traceback (most recent call last):
...
cleanroom.errors.QueryRejected: the query breaks the collaboration's rules
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from cleanroom.errors import QueryRejected, Violation
from cleanroom.gate.expressions import Ctx, ExpressionRules, canonical
from cleanroom.gate.functions import PER_USER_AGGREGATES, SAFE_AGGREGATES, function_key
from cleanroom.gate.model import K, Mode, QueryShape, Rel, SelectPlan, widest
from cleanroom.gate.scope import Scope, at, expand_stars, resolve_positional
from cleanroom.gate.shape import final_aggregates

HIDDEN_PREFIX = "__cr"
_SELECT_ARGS = {"expressions", "from_", "joins", "where", "group", "having", "qualify", "order",
                "limit", "offset", "distinct", "with_", "kind"}
_SETOP_ARGS = {"this", "expression", "distinct", "with_", "order", "limit", "offset", "side",
               "kind"}
_FINAL_OK = {K.SAFE, K.CONST}
_OUTPUT_RULE = {K.UID: "user_key_output", K.MET: "metric_output", K.DIM: "not_aggregated",
                K.BANNED: "banned_column"}


@dataclass(frozen=True)
class Catalog:
    """The datasets a query may read: each column's kind."""

    tables: dict[str, dict[str, K]]

    @classmethod
    def of(cls, tables: dict[str, dict[str, K]]) -> "Catalog":
        return cls(tables)

    def rel(self, name: str) -> Rel:
        columns = list(self.tables[name].items())
        uid = next(n for n, k in columns if k is K.UID)
        return Rel(columns, bearing=True, uid_column=uid)


def analyse_query(tree: exp.Expr, catalog: Catalog) -> QueryShape:
    """Check ``tree`` (which is normalized in place); raise QueryRejected with every violation."""
    analyser = _Analyser(catalog)
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        raise QueryRejected([at("not_a_select", tree, type(tree).__name__)])
    rel = analyser.query(tree, {}, final=True)
    if analyser.problems:
        raise QueryRejected(_dedupe(analyser.problems))
    final_plan = analyser.plans.get(id(tree))
    mode = final_plan.mode if final_plan else Mode.ANON
    aggs = final_aggregates(tree, catalog.tables) if mode is Mode.ANONYMIZING else ()
    return QueryShape(tree, analyser.plans, tuple(n for n, _ in rel.columns), mode, aggs,
                      tuple(sorted(analyser.tables)))


def _dedupe(problems: list[Violation]) -> list[Violation]:
    seen: dict[tuple[str, str, int | None, int | None], Violation] = {}
    for p in problems:
        seen.setdefault((p.rule, p.message, p.line, p.col), p)
    return list(seen.values())


class _Analyser:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.problems: list[Violation] = []
        self.plans: dict[int, SelectPlan] = {}
        self.tables: set[str] = set()
        self._anonymous = 0

    def fail(self, code: str, node: exp.Expr, detail: str | None = None) -> None:
        self.problems.append(at(code, node, detail))

    # -- queries ------------------------------------------------------------------------
    def query(self, node: exp.Expr, env: dict[str, Rel], *, final: bool) -> Rel:
        if isinstance(node, exp.Subquery):
            if set(node.args) - {"this", "alias"} and any(
                    node.args.get(k) for k in set(node.args) - {"this", "alias"}):
                self.fail("unsupported_syntax", node, "subquery modifiers")
            return self.query(node.this, env, final=final)
        if isinstance(node, exp.SetOperation):
            return self._set_operation(node, env, final=final)
        if isinstance(node, exp.Select):
            return self._select(node, env, final=final)
        self.fail("not_a_select", node, type(node).__name__)
        return Rel([], bearing=False)

    def _unknown_args(self, node: exp.Expr, allowed: set[str]) -> None:
        for key, value in node.args.items():
            if key not in allowed and value not in (None, [], False):
                self.fail("unsupported_syntax", node, key)

    def _ctes(self, node: exp.Expr, env: dict[str, Rel]) -> dict[str, Rel]:
        with_ = node.args.get("with_")
        if not with_:
            return env
        if with_.args.get("recursive"):
            self.fail("recursive_cte", with_)
        env = dict(env)
        for cte in with_.expressions:
            if cte.args.get("materialized") is not None or cte.args.get("key_expressions"):
                self.fail("unsupported_syntax", cte, "CTE modifiers")
            rel = self.query(cte.this, env, final=False)
            env[cte.alias_or_name] = self._renamed(rel, cte.args.get("alias"), cte.this)
        return env

    def _renamed(self, rel: Rel, alias: exp.TableAlias | None, body: exp.Expr) -> Rel:
        names = [c.name for c in (alias.columns if alias else [])]
        if not names:
            return rel
        if len(names) > len(rel.columns):
            self.fail("unknown_column", alias, "more column aliases than columns")
            return rel
        if rel.bearing:
            plan = self.plans.get(id(body))
            if plan is None:
                self.fail("unsupported_syntax", alias, "column aliases on a set operation")
            else:
                plan.cte_alias = alias
        cols = [(names[i] if i < len(names) else n, k) for i, (n, k) in enumerate(rel.columns)]
        return Rel(cols, rel.bearing, rel.uid_column)

    def _set_operation(self, node: exp.SetOperation, env: dict[str, Rel], *, final: bool) -> Rel:
        self._unknown_args(node, _SETOP_ARGS)
        if node.args.get("by_name") or node.args.get("side") or node.args.get("kind"):
            self.fail("set_operation", node, "BY NAME / side / kind")
        env = self._ctes(node, env)
        left = self.query(node.left, env, final=False)
        right = self.query(node.right, env, final=False)
        self._check_limit(node)
        if len(left.columns) != len(right.columns) or left.bearing != right.bearing:
            self.fail("set_operation", node, "branches differ")
            return left
        pairs = list(zip(left.columns, right.columns))
        union_all = isinstance(node, exp.Union) and not node.args.get("distinct")
        if left.bearing and not union_all and not any(
                lk is K.UID and rk is K.UID for (_, lk), (_, rk) in pairs):
            self.fail("set_operation", node, "no user_key in a UNION/INTERSECT/EXCEPT of rows")
        if final and left.bearing:
            self.fail("not_aggregated", node, "a set operation of people's rows")
        cols = [(ln, lk if lk is rk else widest([lk, rk])) for (ln, lk), (_, rk) in pairs]
        return Rel(cols, left.bearing, "__cr_uid" if left.bearing else None)

    # -- one SELECT ---------------------------------------------------------------------
    def _select(self, sel: exp.Select, env: dict[str, Rel], *, final: bool) -> Rel:
        self._unknown_args(sel, _SELECT_ARGS)
        env = self._ctes(sel, env)
        scope = self._from(sel, env)
        self.problems += expand_stars(sel, scope) + resolve_positional(sel)
        scope.aliases = {p.alias: p.this for p in sel.expressions if isinstance(p, exp.Alias)}
        rules = ExpressionRules(scope, subquery=lambda n: self._subquery(n, env))
        base = Mode.ROW if scope.bearing else Mode.ANON
        if sel.args.get("where"):
            if rules.check(sel.args["where"].this, Ctx(base, cond=True)) is K.UID:
                self.fail("user_key_compare", sel.args["where"])
        mode, uid_key, keys = self._mode(sel, scope, rules)
        columns = self._projections(sel, rules, mode, keys, final=final)
        self._clauses(sel, rules, mode, keys)
        plan = SelectPlan(mode, final, uid_expr=uid_key or scope.uid_expr,
                          supports=_unique(rules.supports),
                          propagate_uid=not final and mode in (Mode.ROW, Mode.PER_USER),
                          distinct_to_group=mode is Mode.ANONYMIZING and bool(sel.args.get("distinct")))
        self.plans[id(sel)] = plan
        self.problems += rules.problems
        bearing = mode in (Mode.ROW, Mode.PER_USER)
        return Rel(columns, bearing, "__cr_uid" if bearing else None)

    def _subquery(self, node: exp.Expr, env: dict[str, Rel]) -> Rel:
        rel = self.query(node, env, final=False)
        inner = node.this if isinstance(node, exp.Subquery) else node
        for select in [inner, *inner.find_all(exp.Select)] if isinstance(inner, exp.SetOperation) else [inner]:
            if id(select) in self.plans:
                self.plans[id(select)].propagate_uid = False
        return rel

    def _mode(self, sel: exp.Select, scope: Scope,
              rules: ExpressionRules) -> tuple[Mode, exp.Expr | None, frozenset[str]]:
        if not scope.bearing:
            return Mode.ANON, None, frozenset()
        group = sel.args.get("group")
        if group is not None:
            keys = self._group_keys(sel, group)
        elif sel.args.get("distinct"):
            if sel.args["distinct"].args.get("on"):
                self.fail("unsupported_syntax", sel.args["distinct"], "DISTINCT ON")
            keys = [p.unalias() for p in sel.expressions]
        elif any(_has_aggregate(p) for p in sel.expressions) or sel.args.get("having"):
            return Mode.ANONYMIZING, None, frozenset()
        else:
            return Mode.ROW, None, frozenset()
        kinds = [rules.check(k, Ctx(Mode.ROW)) for k in keys]
        for key, kind in zip(keys, kinds):
            if kind is K.MET:
                self.fail("metric_group_key", key)
        uid_keys = [k for k, kind in zip(keys, kinds) if kind is K.UID]
        if uid_keys:
            mode = Mode.PER_USER if group is not None else Mode.ROW
            return mode, scope.qualified(uid_keys[0]) if isinstance(uid_keys[0], exp.Column) else None, frozenset()
        return Mode.ANONYMIZING, None, frozenset(canonical(k, scope) for k in keys)

    def _group_keys(self, sel: exp.Select, group: exp.Group) -> list[exp.Expr]:
        for arg in ("grouping_sets", "rollup", "cube"):
            if group.args.get(arg):
                self.fail("grouping_sets", group)
        if group.args.get("all"):
            return [p.unalias() for p in sel.expressions if not _has_aggregate(p)]
        aliases = {p.alias: p.unalias() for p in sel.expressions if isinstance(p, exp.Alias)}
        keys: list[exp.Expr] = []
        for key in group.expressions:
            if isinstance(key, exp.Literal) and not key.is_string:
                index = int(key.name) - 1
                if 0 <= index < len(sel.expressions):
                    keys.append(sel.expressions[index].unalias())
                    continue
                self.fail("unknown_column", key, f"GROUP BY {key.name}")
            elif isinstance(key, exp.Column) and not key.table and key.name in aliases:
                keys.append(aliases[key.name])
            else:
                keys.append(key)
        if any(_has_aggregate(k) for k in keys):
            self.fail("aggregate_in_where", group, "GROUP BY")
        return keys

    def _projections(self, sel: exp.Select, rules: ExpressionRules, mode: Mode,
                     keys: frozenset[str], *, final: bool) -> list[tuple[str, K]]:
        columns: list[tuple[str, K]] = []
        for proj in sel.expressions:
            name = proj.alias_or_name
            if name.startswith(HIDDEN_PREFIX):
                self.fail("unknown_column", proj, name)
            kind = rules.check(proj, Ctx(mode, group_keys=keys))
            if kind is K.UID and not isinstance(proj.unalias(), exp.Column):
                self.fail("user_key_transform", proj, name)
            if final and kind not in _FINAL_OK:
                self.fail(_OUTPUT_RULE.get(kind, "not_aggregated"), proj, name)
            if name in {n for n, _ in columns}:
                self.fail("ambiguous_column", proj, f"{name} is output twice")
            columns.append((name, kind))
        return columns

    def _clauses(self, sel: exp.Select, rules: ExpressionRules, mode: Mode,
                 keys: frozenset[str]) -> None:
        for clause in ("having", "qualify"):
            if sel.args.get(clause):
                rules.check(sel.args[clause].this, Ctx(mode, cond=True, group_keys=keys))
        order = sel.args.get("order")
        for ordered in (order.expressions if order else []):
            kind = rules.check(ordered.this, Ctx(mode, group_keys=keys))
            if kind is K.UID and not isinstance(ordered.this, exp.Column):
                self.fail("user_key_transform", ordered)
        self._check_limit(sel)

    def _check_limit(self, node: exp.Expr) -> None:
        for arg in ("limit", "offset"):
            clause = node.args.get(arg)
            value = clause.args.get("expression") if clause is not None else None
            if clause is not None and not (isinstance(value, exp.Literal) and value.is_int):
                self.fail("limit_not_constant", clause)

    # -- FROM and JOIN ------------------------------------------------------------------
    def _from(self, sel: exp.Select, env: dict[str, Rel]) -> Scope:
        scope = Scope()
        from_ = sel.args.get("from_")
        if from_ is None:
            if sel.args.get("joins"):
                self.fail("unsupported_syntax", sel, "JOIN without FROM")
            return scope
        alias, rel = self._source(from_.this, env)
        scope.sources[alias] = rel
        if rel.bearing:
            scope.uid_expr = exp.column(rel.uid_column or "", table=alias, quoted=True)
        for join in sel.args.get("joins") or []:
            self._join(join, scope, env)
        return scope

    def _source(self, node: exp.Expr, env: dict[str, Rel]) -> tuple[str, Rel]:
        if isinstance(node, exp.Subquery):
            self._unknown_args(node, {"this", "alias"})
            if not node.alias:
                # The rewriter must name the subquery to count its people.
                self._anonymous += 1
                node.set("alias", exp.TableAlias(this=exp.to_identifier(f"__cr_s{self._anonymous}")))
            rel = self.query(node.this, env, final=False)
            return node.alias_or_name, self._renamed(rel, node.args.get("alias"), node.this)
        if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Identifier):
            self.fail("table_function", node, type(node).__name__)
            return "?", Rel([], bearing=False)
        self._unknown_args(node, {"this", "alias"})
        name = node.name
        alias = node.alias_or_name
        if node.args.get("alias") and node.args["alias"].columns:
            self.fail("unsupported_syntax", node, "column aliases on a table")
        if name in env:
            return alias, env[name]
        if name in self.catalog.tables:
            self.tables.add(name)
            return alias, self.catalog.rel(name)
        self.fail("unknown_table", node, name if len(name) < 64 else name[:60] + "...")
        return alias, Rel([], bearing=False)

    def _join(self, join: exp.Join, scope: Scope, env: dict[str, Rel]) -> None:
        alias, rel = self._source(join.this, env)
        if alias in scope.sources:
            self.fail("ambiguous_column", join, f"table alias {alias} used twice")
        bearing_before = scope.bearing
        previous = dict(scope.sources)
        scope.sources[alias] = rel
        kind = (join.args.get("kind") or "").upper()
        if join.args.get("method") or kind in ("SEMI", "ANTI") or join.args.get("global_"):
            self.fail("join_type", join, join.args.get("method") or kind)
            return
        if not previous:
            return
        if bearing_before != rel.bearing:
            self.fail("mixed_join", join)
            return
        rules = ExpressionRules(scope, subquery=lambda n: self._subquery(n, env))
        on = join.args.get("on")
        if on is not None:
            rules.check(on, Ctx(Mode.ROW if rel.bearing else Mode.ANON, cond=True))
        self.problems += rules.problems
        if not rel.bearing:
            return
        using = [u.name for u in join.args.get("using") or []]
        scope.using.update(using)
        if not (self._joined_on_user(on, alias, scope) or self._using_user(using, alias, previous, rel)):
            self.fail("join_not_on_user_key", join)
            return
        new_uid = exp.column(rel.uid_column or "", table=alias, quoted=True)
        side = (join.args.get("side") or "").upper()
        if side == "RIGHT":
            scope.uid_expr = new_uid
        elif side == "FULL":
            scope.uid_expr = exp.Coalesce(this=scope.uid_expr, expressions=[new_uid])

    def _joined_on_user(self, on: exp.Expr | None, alias: str, scope: Scope) -> bool:
        if on is None:
            return False
        for conj in on.flatten() if isinstance(on, exp.And) else [on]:
            if not isinstance(conj, exp.EQ):
                continue
            sides = [scope.resolve(c) if isinstance(c, exp.Column) else None
                     for c in (conj.this, conj.expression)]
            if all(isinstance(s, tuple) and s[1] is K.UID for s in sides):
                aliases = {s[0] for s in sides if isinstance(s, tuple)}
                if alias in aliases and len(aliases) == 2:
                    return True
        return False

    @staticmethod
    def _using_user(using: list[str], alias: str, previous: dict[str, Rel], rel: Rel) -> bool:
        return any(rel.kind(u) is K.UID and any(r.kind(u) is K.UID for r in previous.values())
                   for u in using)


def _has_aggregate(node: exp.Expr) -> bool:
    """Does ``node`` aggregate (outside windows and subqueries)?"""
    aggregates = SAFE_AGGREGATES | PER_USER_AGGREGATES
    for sub in node.walk(prune=lambda n: isinstance(n, (exp.Window, exp.Subquery, exp.Select))
                         and n is not node):
        if isinstance(sub, exp.Func) and function_key(sub) in aggregates:
            if not isinstance(sub.parent, exp.Window):
                return True
    return False


def _unique(nodes: list[exp.Expr]) -> list[exp.Expr]:
    seen: dict[str, exp.Expr] = {}
    for node in nodes:
        seen.setdefault(node.sql(dialect="duckdb"), node)
    return list(seen.values())


__all__ = ["Catalog", "analyse_query", "sqlglot"]
