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

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from cleanroom.errors import QueryRejected, Violation
from cleanroom.gate.constants import constant_result
from cleanroom.gate.definitions import deferred, definition_of
from cleanroom.gate.expressions import Ctx, ExpressionRules
from cleanroom.gate.functions import PER_USER_AGGREGATES, SAFE_AGGREGATES, function_key
from cleanroom.gate.inline import READ_AS
from cleanroom.gate.joins import FromClause, group_columns
from cleanroom.gate.model import SUMMABLE, Atoms, K, Mode, QueryShape, Rel, Requirement, SelectPlan
from cleanroom.gate.nodes import KeyMap, branch_selects, canonical, output_name, the_person
from cleanroom.gate.people import (
    counted_person,
    keyed_by_person,
    one_row_per_person,
    person_columns,
    rows_per_person,
)
from cleanroom.gate.running import running_counts
from cleanroom.gate.scope import Scope, at, expand_stars, resolve_positional
from cleanroom.gate.shape import final_aggregates
from cleanroom.gate.sides import plan_sides
from cleanroom.gate.subkeys import row_origins
from cleanroom.gate.values import union_column
from cleanroom.gate.walk import combine, copy_tree, sql_text

_SELECT_ARGS = {"expressions", "from_", "joins", "where", "group", "having", "qualify", "order",
                "limit", "offset", "distinct", "with_", "kind"}
_SETOP_ARGS = {"this", "expression", "distinct", "with_", "order", "limit", "offset", "side",
               "kind"}
_FINAL_OK = {K.SAFE, K.CONST}
_OUTPUT_RULE = {K.UID: "user_key_output", K.MET: "metric_output", K.BANNED: "banned_column"}
_ROWS = (Mode.ROW, Mode.PER_USER)
_AGGREGATES = SAFE_AGGREGATES | PER_USER_AGGREGATES
Keys = dict[str, tuple[int, K]]


@dataclass(frozen=True)
class Catalog:
    """The datasets a query may read: each column's kind, and each metric's bounds (the range
    its values are clamped to; a metric without bounds has no public range)."""

    tables: dict[str, dict[str, K]]
    bounds: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    # Column types as the sandbox's views give them; a column without one has none known.
    types: dict[str, dict[str, str]] = field(default_factory=dict)
    # Metric columns stored as whole numbers (an INTEGER column of the policy), by dataset.
    whole: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, tables: dict[str, dict[str, K]],
           bounds: dict[str, dict[str, tuple[float, float]]] | None = None, *,
           types: dict[str, dict[str, str]] | None = None,
           whole: dict[str, set[str]] | None = None) -> Catalog:
        return cls({name.lower(): cols for name, cols in tables.items()},
                   {name.lower(): {c.lower(): b for c, b in cols.items()}
                    for name, cols in (bounds or {}).items()},
                   {name.lower(): {c.lower(): t for c, t in cols.items()}
                    for name, cols in (types or {}).items()},
                   {name.lower(): frozenset(c.lower() for c in cols)
                    for name, cols in (whole or {}).items()})


def analyse_query(tree: exp.Expr, catalog: Catalog, *, private: bool = False) -> QueryShape:
    """Check ``tree`` (which is normalized in place); raise QueryRejected with every violation.
    ``private``: the answer is noised (``ExpressionRules.private``)."""
    analyser = _Analyser(catalog, private=private)
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        raise QueryRejected([at("not_a_select", tree, type(tree).__name__)])
    rel = analyser.query(tree, {}, final=True)
    if analyser.problems:
        raise QueryRejected(_dedupe(analyser.problems))
    final_plan = analyser.plans.get(id(tree))
    mode = final_plan.mode if final_plan else Mode.ANON
    aggs = final_aggregates(tree, catalog.tables) if mode is Mode.ANONYMIZING else ()
    return QueryShape(tree, analyser.plans, tuple(n for n, _ in rel.columns), mode, aggs,
                      tuple(sorted(analyser.tables)), catalog.types)



def _projected_uid(sel: exp.Select, scope: Scope, columns: list[tuple[str, K]]) -> str | None:
    """The output name of a projection that is the person column itself (``SELECT DISTINCT
    user_key ...``), so the rewrite need not add a copy of it beside (a copy doubles what
    DISTINCT and GROUP BY hash). Not in a set operation, whose branches line up by position."""
    parent = sel.parent
    while isinstance(parent, (exp.Subquery, exp.Paren)):
        parent = parent.parent
    if isinstance(parent, exp.SetOperation) or scope.uid_expr is None:
        return None
    for proj, (name, _) in zip(sel.expressions, columns):
        col = proj.unalias()
        if the_person(col, scope) and sum(1 for n, _ in columns if n == name) == 1:
            return name  # COALESCE(a.user_key, b.user_key) of a FULL JOIN: the person itself
        if not isinstance(col, exp.Column) or sum(1 for n, _ in columns if n == name) != 1:
            continue
        found = scope.qualified(col)
        # Any column equal to the person on every row will do (``people.py``): the query's
        # own ``c.user_key`` beside a join's ``i.user_key = c.user_key``.
        if found is not None and (found == scope.uid_expr or found in scope.people):
            return name
    return None


def _dedupe(problems: list[Violation]) -> list[Violation]:
    if any(p.rule == "unknown_table" for p in problems):  # still refused: fix the table first
        problems = [p for p in problems if p.rule != "unknown_column"]
    seen: dict[tuple[str, str, int | None, int | None], Violation] = {}
    for p in problems:
        seen.setdefault((p.rule, p.message, p.line, p.col), p)
    return sorted(seen.values(), key=lambda v: (v.line or 0, v.col or 0))


class _Analyser(FromClause):
    def __init__(self, catalog: Catalog, *, private: bool = False) -> None:
        self.private = private
        self.catalog_tables = catalog.tables
        self.catalog_bounds = catalog.bounds
        self.catalog_whole = catalog.whole
        self.problems: list[Violation] = []
        self.plans: dict[int, SelectPlan] = {}
        self.tables: set[str] = set()
        self._anonymous = 0

    # -- queries ------------------------------------------------------------------------
    def query(self, node: exp.Expr, env: dict[str, Rel], *, final: bool) -> Rel:
        if isinstance(node, exp.Subquery):
            self.unknown_args(node, {"this", "alias"})
            return self.query(node.this, env, final=final)
        if isinstance(node, exp.SetOperation):
            return self._set_operation(node, env, final=final)
        if isinstance(node, exp.Select):
            return self._select(node, env, final=final)
        self.fail("not_a_select", node, type(node).__name__)
        return Rel([], bearing=False)

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
            env[cte.alias_or_name] = self.renamed(rel, cte.args.get("alias"), cte.this)
        return env

    def renamed(self, rel: Rel, alias: exp.TableAlias | None, body: exp.Expr) -> Rel:
        names = [c.name for c in (alias.columns if alias else [])]
        if not names:
            return rel
        if alias is None or len(names) > len(rel.columns):
            self.fail("unknown_column", body, "more column aliases than columns")
            return rel
        if rel.bearing:
            plan = self.plans.get(id(body))
            if plan is None:
                self.fail("unsupported_syntax", alias, "column aliases on a set operation")
            else:
                plan.cte_alias = alias
        cols = [(names[i] if i < len(names) else n, k) for i, (n, k) in enumerate(rel.columns)]
        uid = next((new for (new, _), (old, _) in zip(cols, rel.columns)
                    if old == rel.uid_column), rel.uid_column)
        ranges = {new.lower(): rel.ranges[old.lower()] for (new, _), (old, _)
                  in zip(cols, rel.columns) if old.lower() in rel.ranges}
        renames = {old.lower(): new for (new, _), (old, _) in zip(cols, rel.columns)}
        unique = None if rel.unique is None else tuple(renames[u.lower()] for u in rel.unique)
        origins = {renames[n].lower(): tag for n, tag in rel.row_origins.items() if n in renames}
        sides = {renames[n].lower(): found for n, found in rel.sides.items() if n in renames}
        return Rel(cols, rel.bearing, uid, rows=rel.rows, ranges=ranges, unique=unique,
                   row_origins=origins, per_person=rel.per_person, sides=sides)

    def _set_operation(self, node: exp.SetOperation, env: dict[str, Rel], *, final: bool) -> Rel:
        self.unknown_args(node, _SETOP_ARGS)
        if node.args.get("by_name") or node.args.get("side") or node.args.get("kind"):
            self.fail("set_operation", node, "BY NAME / side / kind")
        env = self._ctes(node, env)
        left = self.query(node.left, env, final=False)
        right = self.query(node.right, env, final=False)
        self._check_limit(node, rows=left.bearing)
        if len(left.columns) != len(right.columns) or left.bearing != right.bearing:
            self.fail("set_operation", node, "branches differ")
            return left
        pairs = list(zip(left.columns, right.columns))
        if any((lk is K.UID) != (rk is K.UID) for (_, lk), (_, rk) in pairs):
            self.fail("set_operation", node, "user_key combined with another value")
        union_all = isinstance(node, exp.Union) and not node.args.get("distinct")
        if left.bearing and not union_all and not any(
                lk is K.UID and rk is K.UID for (_, lk), (_, rk) in pairs):
            self.fail("set_operation", node, "no user_key in a UNION/INTERSECT/EXCEPT of rows")
        if final and left.bearing:
            self.fail("not_aggregated", node, "a set operation of people's rows")
        if not (left.bearing or union_all or (left.rows is not None and right.rows is not None)):
            # Anonymous rows that are not constants hold thresholded numbers: comparing them
            # is an equality oracle on their difference (and the hidden columns would take part).
            self.fail("aggregate_set_comparison", node,
                      node.meta.get(READ_AS) or type(node).__name__.upper())
        merged = [union_column((lk, rk), (left.ranges.get(ln.lower()), right.ranges.get(rn.lower())))
                  for (ln, lk), (rn, rk) in pairs]
        # A side of a per-person value is not matched across branches: not summable there.
        sided = [bool(left.sides.get(ln.lower()) or right.sides.get(rn.lower()))
                 for (ln, _), (rn, _) in pairs]
        cols = [(ln, K.VAL if side and kind in SUMMABLE else kind)
                for (((ln, _), _), (kind, _)), side in zip(zip(pairs, merged), sided)]
        ranges = {ln.lower(): r for ((ln, _), _), (_, r) in zip(pairs, merged) if r is not None}
        rows = (left.rows + right.rows if union_all and left.rows is not None
                and right.rows is not None and not node.args.get("order") else None)
        return Rel(cols, left.bearing, "__cr_uid" if left.bearing else None, rows=rows,
                   ranges=ranges)

    def subquery(self, node: exp.Expr, env: dict[str, Rel], outer: Scope | None = None) -> Rel:
        """A subquery used as a value or an IN list: it yields no hidden person column. An IN
        list (``outer`` given) may refer to the enclosing row (see ``_correlated``)."""
        if outer is not None and isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select):
            self.unknown_args(node, {"this", "alias"})
            rel = self._select(node.this, env, final=False, outer=outer)
        else:
            rel = self.query(node, env, final=False)
        branches = branch_selects(node.this if isinstance(node, exp.Subquery) else node)
        for select in branches:
            if id(select) in self.plans:
                self.plans[id(select)].propagate_uid = False
        if rel.bearing and len(rel.columns) == 1 and rel.columns[0][1] is K.UID:
            _drop_null_keys(branches)
        return rel

    # -- one SELECT ---------------------------------------------------------------------
    def _select(self, sel: exp.Select, env: dict[str, Rel], *, final: bool,
                outer: Scope | None = None) -> Rel:
        self.unknown_args(sel, _SELECT_ARGS)
        env = self._ctes(sel, env)
        atoms = Atoms()
        scope = self.read_from(sel, env, atoms)
        scope.outer = outer
        scope.people = person_columns(sel, scope)
        self.problems += expand_stars(sel, scope) + resolve_positional(sel)
        self.inline_lookups(sel, scope)
        running_counts(sel, scope)
        scope.aliases = {p.alias.lower(): p.this for p in sel.expressions if isinstance(p, exp.Alias)}
        rules = ExpressionRules(scope, atoms=atoms, subquery=lambda n: self.subquery(
            n, env, outer=scope if _in_list(n) else None), private=self.private, final=final)
        if sel.args.get("where"):
            base = Mode.ROW if scope.bearing else Mode.ANON
            if rules.check(sel.args["where"].this, Ctx(base, cond=True)) is K.UID:
                self.fail("user_key_compare", sel.args["where"])
        mode, uid_key, keys, key_exprs = self._mode(sel, scope, rules)
        columns, definitions, refused = self._projections(sel, rules, mode, keys, final=final)
        self._clauses(sel, rules, mode, keys)
        self.plans[id(sel)] = SelectPlan(
            mode, final, uid_expr=uid_key or (counted_person(sel, scope) if mode is Mode.ANONYMIZING
                                              else None) or scope.uid_expr,
            supports=_unique(rules.supports),
            requirements=rules.requirements,
            propagate_uid=not final and mode in _ROWS, group_keys=key_exprs, atoms=atoms,
            subqueries=rules.subqueries, argument_ranges=rules.argument_ranges,
            distinct_to_group=mode is Mode.ANONYMIZING and bool(sel.args.get("distinct")),
            one_row_per_person=mode is Mode.ANONYMIZING and one_row_per_person(sel, scope),
            rows_per_person=mode is Mode.ANONYMIZING and rows_per_person(sel, scope))
        self.problems += rules.problems
        bearing = mode in _ROWS
        sides: dict[str, tuple[str, ...]] = {}
        if bearing and not final:
            sides, self.plans[id(sel)].sides = plan_sides(sel, rules,
                                                          per_user=mode is Mode.PER_USER)
        if scope.outer_refs:
            self._correlated(sel, scope, columns, bearing=bearing)
        uid_column = "__cr_uid" if bearing else None
        if bearing and self.plans[id(sel)].propagate_uid:
            uid_column = _projected_uid(sel, scope, columns) or uid_column
            self.plans[id(sel)].propagate_uid = uid_column == "__cr_uid"
        return Rel(columns, bearing, uid_column,
                   rows=constant_result(sel, list(scope.sources.values())),
                   ranges=rules.ranges_of(sel.expressions) if bearing else {},
                   unique=group_columns(sel, columns, key_exprs, scope)
                   if mode is Mode.ANONYMIZING else None,
                   definitions=definitions, refused=refused,
                   row_origins=row_origins(sel, scope) if mode in _ROWS else {},
                   per_person=bearing and keyed_by_person(sel, scope, uid_column),
                   sides=sides)

    def _correlated(self, sel: exp.Select, scope: Scope, columns: list[tuple[str, K]], *,
                    bearing: bool) -> None:
        """``i.user_key NOT IN (SELECT c.user_key FROM conversions c WHERE c.ts < i.ts)`` asks
        whether this person has such a row: a condition on the person's own rows, whoever
        else is in the list. That holds only when the list is of people's rows (row-level or
        per-user) and names its own user_key, never the enclosing row's."""
        projected = sel.expressions[0].unalias() if len(sel.expressions) == 1 else None
        own = isinstance(projected, exp.Column) and id(projected) not in scope.outer_refs
        if not (bearing and own and len(columns) == 1 and columns[0][1] is K.UID):
            self.fail("subquery_predicate", sel, "a correlated subquery must return its own "
                      "user_key to an IN list of people's rows")

    def _mode(self, sel: exp.Select, scope: Scope, rules: ExpressionRules
              ) -> tuple[Mode, exp.Expr | None, Keys, list[exp.Expr]]:
        if not scope.bearing:
            return Mode.ANON, None, {}, []
        group, distinct = sel.args.get("group"), sel.args.get("distinct")
        aggregated = any(_has_aggregate(p) for p in sel.expressions) or sel.args.get("having")
        if group is not None:
            keys = self._group_keys(sel, group, scope)
        elif distinct and not aggregated:
            if distinct.args.get("on"):
                self.fail("unsupported_syntax", distinct, "DISTINCT ON")
            keys = [p.unalias() for p in sel.expressions]
        else:
            if distinct and distinct.args.get("on"):
                self.fail("unsupported_syntax", distinct, "DISTINCT ON")
            # Aggregates without GROUP BY make one row: DISTINCT changes nothing.
            return (Mode.ANONYMIZING if aggregated else Mode.ROW), None, {}, []
        marks = []
        kinds = []
        for key in keys:
            marks.append(len(rules.problems))
            kinds.append(rules.check(key, Ctx(Mode.ROW)))
        marks.append(len(rules.problems))
        uid_keys = [k for k, kind in zip(keys, kinds) if kind is K.UID]
        for i, (key, kind) in enumerate(zip(keys, kinds)):
            # Beside user_key a metric key stays with its person (a per-conversion row keeps
            # its revenue, still a metric); across people its values would be output.
            if kind is K.MET and not uid_keys and not _tally(rules, key):
                self.fail("metric_group_key", key)
            elif not uid_keys:
                _as_group_key(rules.problems, marks[i], marks[i + 1], key)
        if uid_keys and group is None:
            return Mode.ROW, None, {}, []
        if uid_keys:
            uid = scope.qualified(uid_keys[0]) if isinstance(uid_keys[0], exp.Column) else None
            return Mode.PER_USER, uid, _key_map(keys, kinds, scope), keys
        key_map = _key_map(keys, [K.SAFE] * len(keys), scope)
        if distinct and group is not None:
            self._distinct_over_groups(sel, distinct, key_map, scope)
        return Mode.ANONYMIZING, None, key_map, keys

    def _distinct_over_groups(self, sel: exp.Select, distinct: exp.Distinct, keys: Keys,
                              scope: Scope) -> None:
        """``SELECT DISTINCT ... GROUP BY`` is the plain GROUP BY when every group key is
        output (the groups' rows already differ); otherwise DISTINCT would merge groups after
        the threshold, which the release cannot count, so it stays refused."""
        projected = {canonical(p.unalias(), scope) for p in sel.expressions}
        if distinct.args.get("on") or not set(keys) <= projected:
            self.fail("unsupported_syntax", distinct, "DISTINCT with GROUP BY keys not all "
                      "output: output every GROUP BY key, or drop DISTINCT")

    def _group_keys(self, sel: exp.Select, group: exp.Group, scope: Scope) -> list[exp.Expr]:
        for arg in ("grouping_sets", "rollup", "cube"):
            if group.args.get(arg):
                self.fail("grouping_sets", group)
        sets = (exp.GroupingSets, exp.Rollup, exp.Cube)
        if any(isinstance(k, sets) for k in group.expressions):
            self.fail("grouping_sets", group)
            return []
        if group.args.get("all"):
            return [p.unalias() for p in sel.expressions if not _has_aggregate(p)]
        keys: list[exp.Expr] = []
        for key in group.expressions:
            if isinstance(key, exp.Literal) and not key.is_string:
                index = int(key.name) - 1
                if 0 <= index < len(sel.expressions):
                    keys.append(sel.expressions[index].unalias())
                    continue
                self.fail("unknown_column", key, f"GROUP BY {key.name}")
            elif (isinstance(key, exp.Column) and not key.table and key.name in scope.aliases
                  and isinstance(scope.resolve(key), Violation)):
                keys.append(scope.aliases[key.name])  # DuckDB: a source column wins over an alias
            else:
                keys.append(key)
        if any(_has_aggregate(k) or k.find(exp.Window) for k in keys):
            self.fail("aggregate_in_where", group, "GROUP BY")
        if any(k.find(exp.Subquery, exp.Select) for k in keys):
            self.fail("unsupported_syntax", group, "a subquery as a group key")
        return keys

    def _projections(self, sel: exp.Select, rules: ExpressionRules, mode: Mode, keys: Keys,
                     *, final: bool) -> tuple[list[tuple[str, K]], dict[str, exp.Expr],
                                              dict[str, str]]:
        columns: list[tuple[str, K]] = []
        definitions: dict[str, exp.Expr] = {}
        refused: dict[str, str] = {}
        for proj in sel.expressions:
            name = output_name(proj)
            before = len(rules.problems)
            kind = rules.check(proj, Ctx(mode, group_keys=keys, aliases=True))
            if not final and mode in _ROWS and deferred(rules.problems[before:]):
                # A column of people's rows that no later aggregate may take (the dbt
                # playbook's unused revenue * 0.4 weight): refused where it is read.
                refused[name.lower()] = rules.problems[before].rule
                del rules.problems[before:]
                kind = K.BANNED
                definition = definition_of(proj, sel, rules.scope) if mode is Mode.ROW else None
                if definition is not None:
                    definitions[name.lower()] = definition
            if kind is K.UID and not isinstance(proj.unalias(), exp.Column) and not the_person(
                    proj.unalias(), rules.scope):
                self.fail("user_key_transform", proj, name)
            if final and kind not in _FINAL_OK:
                self.fail(_OUTPUT_RULE.get(kind, "not_aggregated"), proj, name)
            if name and name.lower() in {n.lower() for n, _ in columns} and not _unnamed(sel):
                self.fail("ambiguous_column", proj, f"{name} is output twice")
            columns.append((name if final else name.lower(), kind))
        return columns, definitions, refused

    def _clauses(self, sel: exp.Select, rules: ExpressionRules, mode: Mode, keys: Keys) -> None:
        if sel.args.get("having") and mode in (Mode.ANONYMIZING, Mode.PER_USER):
            _having_aliases(sel.args["having"], rules.scope, keys)
        for clause in ("having", "qualify"):
            if sel.args.get(clause):
                rules.check(sel.args[clause].this,
                            Ctx(mode, cond=True, group_keys=keys, aliases=True))
        order = sel.args.get("order")
        for ordered in (order.expressions if order else []):
            if self._order_key(ordered.this, rules, Ctx(mode, group_keys=keys, aliases=True)) is K.UID:
                self.fail("user_key_compare", ordered, "ORDER BY user_key")
        self._check_limit(sel, rows=mode in _ROWS)

    def _order_key(self, node: exp.Expr, rules: ExpressionRules, ctx: Ctx) -> K:
        """DuckDB's ORDER BY prefers a projection alias over a source column of that name."""
        if isinstance(node, exp.Column) and not node.table and node.name in rules.scope.aliases:
            rules.atoms.alias_refs.add(id(node))
            ctx = Ctx(ctx.mode, group_keys=ctx.group_keys)
            return rules.check(rules.scope.aliases[node.name], ctx)
        return rules.check(node, ctx)

    def _check_limit(self, node: exp.Expr, *, rows: bool) -> None:
        for arg in ("limit", "offset"):
            clause = node.args.get(arg)
            if clause is None:
                continue
            value = clause.args.get("expression")
            if not (isinstance(value, exp.Literal) and value.is_int):
                self.fail("limit_not_constant", clause)
            elif rows:
                self.fail("limit_on_rows", clause)


def _having_aliases(having: exp.Having, scope: Scope, keys: Keys) -> None:
    """DuckDB binds a bare name in HAVING to the source column when that column is a group
    key, and otherwise to the projection alias of that name (``SUM(cost) AS cost ... HAVING
    cost > 10``): put the alias's expression in its place, so the rules and the rewrite see
    what DuckDB computes. Inside aggregates, windows and subqueries a name is a column."""
    for col in list(having.find_all(exp.Column)):
        if col.table or col.name not in scope.aliases or canonical(col, scope) in keys:
            continue
        if isinstance(scope.resolve(col), Violation) or _under_aggregate(col, having):
            continue  # no such column: the rules already read the name as the alias
        col.replace(copy_tree(scope.aliases[col.name]))


def _under_aggregate(node: exp.Expr, top: exp.Expr) -> bool:
    parent = node.parent
    while parent is not None and parent is not top:
        if isinstance(parent, (exp.Window, exp.Filter, exp.Subquery, exp.Select)):
            return True
        if isinstance(parent, (exp.Func, exp.IgnoreNulls)) and function_key(parent) in _AGGREGATES:
            return True
        parent = parent.parent
    return False


def _in_list(node: exp.Expr) -> bool:
    return isinstance(node.parent, exp.In) and node.parent.args.get("query") is node


def _drop_null_keys(branches: list[exp.Select]) -> None:
    """``x NOT IN (list)`` is NULL for every row once the list holds one NULL, so one person
    whose outer join yields NULL would flip every row: a list of user_keys leaves NULLs out
    (they match no one)."""
    for select in branches:
        key = select.expressions[0].unalias() if select.expressions else None
        if not isinstance(key, exp.Column):
            continue
        known = exp.Not(this=exp.Is(this=copy_tree(key), expression=exp.Null()))
        where = select.args.get("where")
        select.set("where", exp.Where(this=combine(exp.And, where.this, known) if where else known))


def _key_map(keys: list[exp.Expr], kinds: list[K], scope: Scope) -> Keys:
    found = KeyMap()
    for i, (key, kind) in enumerate(zip(keys, kinds)):
        found.setdefault(canonical(key, scope), (i, kind))
        found.classes.add(type(key))
    return found


def _has_aggregate(node: exp.Expr) -> bool:
    """Does ``node`` aggregate (outside windows and subqueries)?"""
    aggregates = SAFE_AGGREGATES | PER_USER_AGGREGATES
    for sub in node.walk(prune=lambda n: isinstance(n, (exp.Window, exp.Subquery, exp.Select))
                         and n is not node):
        is_call = isinstance(sub, (exp.Func, exp.IgnoreNulls))
        if is_call and function_key(sub) in aggregates and not isinstance(sub.parent, exp.Window):
            return True
    return False


def _unique(found: list[Requirement]) -> list[Requirement]:
    seen: dict[tuple[str, bool, str | None, bool], Requirement] = {}
    for req in found:
        holding = None if req.holding is None else sql_text(req.holding)
        seen.setdefault((sql_text(req.condition), req.zero_ok, holding, req.vector),
                        req)
    return list(seen.values())


__all__ = ["Catalog", "analyse_query", "sqlglot"]


def _unnamed(sel: exp.Select) -> bool:
    """A later branch of a set operation: its column names are never read (the first branch
    names the columns), so ``SELECT k, NULL, NULL`` there repeats no name anyone resolves."""
    node: exp.Expr = sel
    while isinstance(node.parent, (exp.SetOperation, exp.Subquery)):
        if isinstance(node.parent, exp.SetOperation) and node.arg_key == "expression":
            return True
        node = node.parent
    return False


def _as_group_key(problems: list[Violation], start: int, end: int, key: exp.Expr) -> None:
    """A group key across people that transforms a metric (``GROUP BY ROUND(cost, 0)``, AMC's
    rounded cost) is a metric group key too: its violation is added beside the transform's,
    so the answer names the rewrite (constant CASE buckets). Both refuse."""
    if any(problems[i].rule == "metric_transform" for i in range(start, end)):
        problems.append(at("metric_group_key", key))


def _tally(rules: ExpressionRules, key: exp.Expr) -> bool:
    """A person's SUM of a 0/1 metric (AMC's frequency, SUM(impressions) per user) is a count
    of the person's rows, as COUNT(*) FILTER (WHERE impressions = 1) is: it may be a group key."""
    found = rules.range_of(key)
    return found is not None and found.tally
