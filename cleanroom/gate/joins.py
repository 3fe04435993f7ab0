"""FROM and JOIN: which sources a SELECT reads, and whether people's rows are joined only on
user_key equality (so every joined row still belongs to one person)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlglot import exp

from cleanroom.errors import Violation
from cleanroom.gate.constants import (
    MAX_INLINED_NODES,
    MAX_ROWS,
    Lookup,
    constant_rows,
    distinct_keys,
    value_names,
)
from cleanroom.gate.expressions import Ctx, ExpressionRules
from cleanroom.gate.model import Atoms, K, Mode, Rel
from cleanroom.gate.nodes import canonical
from cleanroom.gate.ranges import Range
from cleanroom.gate.scope import Scope, at, position
from cleanroom.gate.suggest import unknown
from cleanroom.gate.walk import combine, under

QueryHook = Callable[..., Rel]


class FromClause:
    """Mixin for the analyser: reads FROM and JOIN into a Scope."""

    catalog_tables: dict[str, dict[str, K]]
    catalog_bounds: dict[str, dict[str, tuple[float, float]]]
    catalog_whole: dict[str, frozenset[str]]
    problems: list[Violation]
    tables: set[str]
    _anonymous: int

    def fail(self, code: str, node: exp.Expr, detail: str | None = None) -> None:
        self.problems.append(at(code, node, detail))

    def query(self, node: exp.Expr, env: dict[str, Rel], *, final: bool) -> Rel:
        raise NotImplementedError

    def renamed(self, rel: Rel, alias: exp.TableAlias | None, body: exp.Expr) -> Rel:
        raise NotImplementedError

    def subquery(self, node: exp.Expr, env: dict[str, Rel], outer: Scope | None = None) -> Rel:
        raise NotImplementedError

    def unknown_args(self, node: exp.Expr, allowed: set[str]) -> None:
        for key, value in node.args.items():
            if key not in allowed and value not in (None, [], False):
                self.fail("unsupported_syntax", node, key)

    def read_from(self, sel: exp.Select, env: dict[str, Rel], atoms: Atoms) -> Scope:
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
        links = _Links()
        for join in sel.args.get("joins") or []:
            self._join(join, scope, env, atoms, links)
        if links.comma:
            self._comma_joins(sel, scope, links)
        return scope

    def _comma_joins(self, sel: exp.Select, scope: Scope, links: _Links) -> None:
        """``FROM a, b WHERE a.user_key = b.user_key``: a top-level WHERE conjunct equating
        two sources' user_keys joins them as ON would. Every source of people's rows must be
        linked to the others by such equalities (from ON or WHERE), so that each row still
        belongs to one person."""
        where = sel.args.get("where")
        links.edges += _user_equalities(where.this if where else None, scope)
        people = [alias for alias, rel in scope.sources.items() if rel.bearing]
        group = _connected(people[0], links.edges) if people else set()
        for alias, join in links.comma:
            if alias not in group:
                self.fail("join_not_on_user_key", join)

    def _source(self, node: exp.Expr, env: dict[str, Rel]) -> tuple[str, Rel]:
        if isinstance(node, exp.Subquery):
            self.unknown_args(node, {"this", "alias"})
            if not node.alias:
                # The rewriter must name the subquery to count its people.
                self._anonymous += 1
                node.set("alias", exp.TableAlias(this=exp.to_identifier(f"__cr_s{self._anonymous}")))
            rel = self.query(node.this, env, final=False)
            return node.alias_or_name, self.renamed(rel, node.args.get("alias"), node.this)
        if isinstance(node, exp.Values):
            return self._values(node)
        if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Identifier):
            self.fail("table_function", node, type(node).__name__)
            return "?", Rel([], bearing=False)
        self.unknown_args(node, {"this", "alias"})
        name, alias = node.name, node.alias_or_name
        if node.args.get("alias") and node.args["alias"].columns:
            self.fail("unsupported_syntax", node, "column aliases on a table")
        if name in env:
            return alias, env[name]
        if name in self.catalog_tables:
            self.tables.add(name)
            return alias, _catalog_rel(self.catalog_tables[name], self.catalog_bounds.get(name, {}),
                                       self.catalog_whole.get(name, frozenset()))
        line, col = position(node)
        self.problems.append(unknown("unknown_table", name, [*self.catalog_tables, *env],
                                     line=line, col=col,
                                     detail=name if len(name) < 64 else name[:60] + "..."))
        return alias, Rel([], bearing=False)

    def _values(self, node: exp.Values) -> tuple[str, Rel]:
        rows = constant_rows(node)
        if rows is None:
            self.fail("table_function", node, f"VALUES of constants only, at most {MAX_ROWS} rows")
            return "?", Rel([], bearing=False)
        names = value_names(node, len(rows[0]))
        return node.alias_or_name or "valueslist", Rel([(n, K.CONST) for n in names],
                                                       bearing=False, rows=rows)

    def _lookup(self, join: exp.Join, alias: str, scope: Scope, rel: Rel) -> None:
        """People's rows joined to a constant relation: a lookup (see ``constants.py``)."""
        side, kind = (join.args.get(a) or "" for a in ("side", "kind"))
        on = join.args.get("on")
        if side.upper() not in ("", "LEFT") or kind.upper() not in ("", "INNER", "OUTER") or (
                on is None or join.args.get("using")):
            self.fail("mixed_join", join, "a constant list joins people's rows only as "
                      "JOIN or LEFT JOIN (VALUES ...) v ON people_column = v.key")
            return
        assert rel.rows is not None
        names = [n for n, _ in rel.columns]
        keys = _lookup_keys(on, alias, scope)
        if not distinct_keys(rel.rows, [names.index(k) for k in keys if k in names]):
            self.fail("mixed_join", join, "a constant list must be joined ON people_column = "
                      "v.key where the key's values are all different")
            return
        scope.lookups.append(Lookup(alias, tuple(names), rel.rows, on, inner=not side))

    def _group_join(self, join: exp.Join, alias: str, scope: Scope, rel: Rel) -> None:
        """People's rows joined to an aggregation across people (thresholded: its rows are
        public numbers) ON every one of its GROUP BY keys: a row of people meets at most one of
        its rows, so no one's rows are repeated. On fewer keys one person's row would meet
        every group sharing them and count that many times."""
        side, kind = ((join.args.get(a) or "").upper() for a in ("side", "kind"))
        on = join.args.get("on")
        if side not in ("", "LEFT") or kind not in ("", "INNER", "OUTER") or on is None:
            self.fail("mixed_join", join, "aggregated rows join people's rows only as "
                      "people JOIN or LEFT JOIN aggregated ON every GROUP BY key")
            return
        assert rel.unique is not None
        keys = {k.lower() for k in _lookup_keys(on, alias, scope)}
        if any(u.lower() not in keys for u in rel.unique):
            self.fail("mixed_join", join, "aggregated rows must be joined to people's rows ON "
                      "people_value = agg.key for every GROUP BY key they output")
            return
        if side == "LEFT":
            scope.nullable.add(alias)
        # Beside people's rows its numbers are per-row values chosen by a condition on the row
        # (the ON): summing them would pack the rows that meet a large one into the high digits
        # of a total (``SUM(g.w)`` with w = 1000000 for the group a small campaign is sent to).
        # So they may be grouped on, filtered and counted, not summed (as a lookup's labels).
        scope.sources[alias] = replace(rel, columns=[
            (n, k if k is K.BANNED else K.VAL) for n, k in rel.columns], ranges={})

    def inline_lookups(self, sel: exp.Select, scope: Scope) -> None:
        """Replace each lookup's join by CASEs over its rows (``constants.py``)."""
        for lookup in scope.lookups:
            def names_of(col: exp.Column, alias: str = lookup.alias) -> str | None:
                found = scope.resolve(col)
                return col.name if isinstance(found, tuple) and found[0] == alias else None
            join = next(j for j in sel.args["joins"] if j.this.alias_or_name == lookup.alias)
            refs = [c for c in _own_columns(sel, join) if names_of(c)]
            if any(r.find_ancestor(exp.Join) for r in refs):
                self.fail("mixed_join", join, "a constant list's columns in another join's ON")
                continue
            if lookup.size(len(refs)) > MAX_INLINED_NODES:
                self.fail("query_too_large", join, "a constant list too large for its uses")
                continue
            conditions = [lookup.condition(i, names_of) for i in range(len(lookup.rows))]
            for ref in refs:
                value = lookup.case(ref.name, conditions)
                ref.replace(exp.alias_(value, ref.name) if ref.parent is sel else value)
            if lookup.inner:
                where = sel.args.get("where")
                match = lookup.any_row(conditions)
                sel.set("where", exp.Where(this=combine(exp.And, where.this, match) if where else match))
            sel.set("joins", [j for j in sel.args["joins"] if j is not join])
            del scope.sources[lookup.alias]

    def _merge_using(self, join: exp.Join, alias: str, using: list[str], scope: Scope,
                     previous: dict[str, Rel]) -> bool:
        """``a FULL JOIN b USING (k)``: the bare ``k`` is COALESCE(a.k, b.k) in DuckDB (and
        the person is COALESCE of both user_keys). Each side must have ``k`` once, of one kind."""
        for name in using:
            before = scope.merged.get(name)
            if before is None:
                holders = [a for a, r in previous.items() if r.kind(name)]
                if len(holders) != 1:
                    self.fail("ambiguous_column", join, f"USING ({name})")
                    return False
                before = exp.column(name, table=holders[0], quoted=True)
                kinds: set[K | None] = {previous[holders[0]].kind(name),
                                        scope.sources[alias].kind(name)}
            else:
                kinds = {r.kind(name) for r in previous.values() if r.kind(name)} | {
                    scope.sources[alias].kind(name)}
            if len(kinds) != 1 or None in kinds or K.BANNED in kinds:
                self.fail("join_type", join, f"USING ({name}) over columns of different kinds")
                return False
            scope.merged[name] = exp.Coalesce(
                this=before, expressions=[exp.column(name, table=alias, quoted=True)])
        return True

    def _join(self, join: exp.Join, scope: Scope, env: dict[str, Rel], atoms: Atoms,
              links: _Links) -> None:
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
        lookup = bearing_before and rel.rows is not None
        grouped = bearing_before and not rel.bearing and not lookup and rel.unique is not None
        if bearing_before != rel.bearing and not lookup and not grouped:
            self.fail("mixed_join", join)
            return
        if (lookup or grouped) and join.args.get("using"):
            _using_as_on(join, alias, previous, scope)
        on = join.args.get("on")
        if on is not None:
            rules = ExpressionRules(scope, subquery=lambda n: self.subquery(n, env), atoms=atoms)
            rules.check(on, Ctx(Mode.ROW if scope.bearing else Mode.ANON, cond=True))
            self.problems += rules.problems
        if lookup:
            self._lookup(join, alias, scope, rel)
        elif grouped:
            self._group_join(join, alias, scope, rel)
        elif rel.bearing:
            self._people_join(join, alias, scope, previous, rel, links)

    def _people_join(self, join: exp.Join, alias: str, scope: Scope,
                     previous: dict[str, Rel], rel: Rel, links: _Links) -> None:
        using = [u.name for u in join.args.get("using") or []]
        scope.using.update(using)
        side = (join.args.get("side") or "").upper()
        if using and side in ("RIGHT", "FULL") and not self._merge_using(
                join, alias, using, scope, previous):
            return
        on = join.args.get("on")
        if on is None and not using and not side and (join.args.get("kind") or "").upper() in (
                "", "CROSS"):
            links.comma.append((alias, join))  # a comma join: linked by WHERE, checked after
            return
        if using and links.comma:
            self.fail("join_not_on_user_key", join, "USING after a comma join: use ON")
            return
        linked = _user_equalities(on, scope)
        links.edges += linked
        if not (any(alias in edge for edge in linked) or _using_user(using, previous, rel)):
            self.fail("join_not_on_user_key", join)
            return
        if using:
            links.edges += [(alias, other) for other, r in previous.items() if r.bearing]
        new_uid = exp.column(rel.uid_column or "", table=alias, quoted=True)
        if side in ("LEFT", "FULL"):
            scope.nullable.add(alias)
        if side in ("RIGHT", "FULL"):
            scope.nullable.update(previous)
        if side == "RIGHT":
            scope.uid_expr = new_uid
        elif side == "FULL":
            scope.uid_expr = exp.Coalesce(this=scope.uid_expr, expressions=[new_uid])


def group_columns(sel: exp.Select, columns: list[tuple[str, K]], keys: list[exp.Expr],
                  scope: Scope) -> tuple[str, ...] | None:
    """The output columns of an aggregation across people that are its GROUP BY keys (one
    row per combination of them; ``()``: one row), or None when some key is not output."""
    # Only a projection of a key's class can render a key's text: the others (the aggregates,
    # each a whole expression to copy and render) are not rendered. One missed would only
    # refuse more (None: no join on the keys).
    classes = {type(k) for k in keys}
    outputs = [p.unalias() for p in sel.expressions]
    projected = {canonical(p, scope): i for i, p in enumerate(outputs) if type(p) in classes}
    found = [projected.get(canonical(k, scope)) for k in keys]
    if any(i is None or i >= len(columns) for i in found):
        return None
    return tuple(dict.fromkeys(columns[i][0] for i in found if i is not None))


def _catalog_rel(columns: dict[str, K], bounds: dict[str, tuple[float, float]],
                 whole: frozenset[str] = frozenset()) -> Rel:
    cols = [(name.lower(), kind) for name, kind in columns.items()]
    uid = next(n for n, k in cols if k is K.UID)
    kinds = dict(cols)
    ranges = {n.lower(): Range(float(lo), float(hi),
                               indicator=n.lower() in whole and (float(lo), float(hi)) == (0.0, 1.0))
              for n, (lo, hi) in bounds.items() if kinds.get(n.lower()) is K.MET}
    return Rel(cols, bearing=True, uid_column=uid, base=True, ranges=ranges)


@dataclass
class _Links:
    """How one SELECT's sources of people's rows are tied together by user_key equalities."""

    edges: list[tuple[str, str]] = field(default_factory=list)
    comma: list[tuple[str, exp.Join]] = field(default_factory=list)  # joins with no condition


def _conjuncts(condition: exp.Expr | None) -> list[exp.Expr]:
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if condition is None:
        return []
    found: list[exp.Expr] = []
    for conj in condition.flatten() if isinstance(condition, exp.And) else [condition]:
        while isinstance(conj, exp.Paren):
            conj = conj.this
        found += _conjuncts(conj) if isinstance(conj, exp.And) else [conj]
    return found


def _user_equalities(condition: exp.Expr | None, scope: Scope) -> list[tuple[str, str]]:
    """The pairs of sources whose user_keys a top-level conjunct of ``condition`` equates."""
    pairs: list[tuple[str, str]] = []
    for conj in _conjuncts(condition):
        if isinstance(conj, exp.Or):
            pairs += _common_equalities(conj, scope)
            continue
        if not isinstance(conj, exp.EQ):
            continue
        sides = [scope.resolve(c) if isinstance(c, exp.Column) else None
                 for c in (conj.this, conj.expression)]
        if all(isinstance(s, tuple) and s[1] is K.UID for s in sides):
            left, right = (s[0] for s in sides if isinstance(s, tuple))
            if left != right:
                pairs.append((left, right))
    return pairs


def _common_equalities(disjunction: exp.Or, scope: Scope) -> list[tuple[str, str]]:
    """``ON (c.email = p.email OR c.phone = p.phone)``, each arm a user_key match: the pairs of
    sources whose user_keys every arm of the OR equates. Whichever arm holds, that equality
    holds with it, so the OR joins those two sources on user_key as a single equality would."""
    common: set[frozenset[str]] | None = None
    for arm in disjunction.flatten():
        found = {frozenset(pair) for pair in _user_equalities(arm, scope)}
        common = found if common is None else common & found
        if not common:
            return []
    return [tuple(sorted(pair)) for pair in common or ()]  # type: ignore[misc]


def _using_as_on(join: exp.Join, alias: str, previous: dict[str, Rel], scope: Scope) -> None:
    """``JOIN (VALUES ...) v(channel, g) USING (channel)`` is ``ON p.channel = v.channel``
    with the bare ``channel`` naming the people's side (the lookup keeps no column of its own
    under that name). A name that no single earlier source has stays USING, and is refused."""
    pairs = []
    for ident in join.args["using"]:
        holders = [a for a, r in previous.items() if r.kind(ident.name)]
        if len(holders) != 1:
            return
        pairs.append(exp.EQ(this=exp.column(ident.name, table=holders[0]),
                            expression=exp.column(ident.name, table=alias)))
    join.set("using", None)
    join.set("on", combine(exp.And, *pairs))
    scope.using.update(p.this.name for p in pairs)


def _own_columns(sel: exp.Select, skip: exp.Expr) -> list[exp.Column]:
    """The columns of ``sel`` itself: not of its subqueries, nor under ``skip``."""
    def prune(node: exp.Expr) -> bool:
        return node is skip or (isinstance(node, (exp.Select, exp.Subquery)) and node is not sel)
    return [n for n in sel.walk(prune=prune)
            if isinstance(n, exp.Column) and not isinstance(n.this, exp.Star)
            and not under(n, skip)]


def _lookup_keys(on: exp.Expr, alias: str, scope: Scope) -> list[str]:
    """Columns of ``alias`` equated, in a top-level conjunct of ON, with a value of the
    other sources (``i.channel = v.channel``)."""
    keys: list[str] = []
    for conj in _conjuncts(on):
        if not isinstance(conj, exp.EQ):
            continue
        for mine, other in ((conj.this, conj.expression), (conj.expression, conj.this)):
            found = scope.resolve(mine) if isinstance(mine, exp.Column) else None
            theirs = [scope.resolve(c) for c in other.find_all(exp.Column)]
            if isinstance(found, tuple) and found[0] == alias and theirs and all(
                    isinstance(t, tuple) and t[0] != alias for t in theirs):
                keys.append(mine.name)
    return keys


def _connected(start: str, edges: list[tuple[str, str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for a, b in edges:
            for here, there in ((a, b), (b, a)):
                if here == node and there not in seen:
                    seen.add(there)
                    todo.append(there)
    return seen


def _using_user(using: list[str], previous: dict[str, Rel], rel: Rel) -> bool:
    return any(rel.kind(u) is K.UID and any(r.kind(u) is K.UID for r in previous.values())
               for u in using)
