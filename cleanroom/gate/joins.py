"""FROM and JOIN: which sources a SELECT reads, and whether people's rows are joined only on
user_key equality (so every joined row still belongs to one person)."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from cleanroom.errors import Violation
from cleanroom.gate.expressions import Ctx, ExpressionRules
from cleanroom.gate.model import Atoms, K, Mode, Rel
from cleanroom.gate.ranges import Range
from cleanroom.gate.scope import Scope, at

QueryHook = Callable[..., Rel]


class FromClause:
    """Mixin for the analyser: reads FROM and JOIN into a Scope."""

    catalog_tables: dict[str, dict[str, K]]
    catalog_bounds: dict[str, dict[str, tuple[float, float]]]
    problems: list[Violation]
    tables: set[str]
    _anonymous: int

    def fail(self, code: str, node: exp.Expr, detail: str | None = None) -> None:
        self.problems.append(at(code, node, detail))

    def query(self, node: exp.Expr, env: dict[str, Rel], *, final: bool) -> Rel:
        raise NotImplementedError

    def renamed(self, rel: Rel, alias: exp.TableAlias | None, body: exp.Expr) -> Rel:
        raise NotImplementedError

    def subquery(self, node: exp.Expr, env: dict[str, Rel]) -> Rel:
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
        for join in sel.args.get("joins") or []:
            self._join(join, scope, env, atoms)
        return scope

    def _source(self, node: exp.Expr, env: dict[str, Rel]) -> tuple[str, Rel]:
        if isinstance(node, exp.Subquery):
            self.unknown_args(node, {"this", "alias"})
            if not node.alias:
                # The rewriter must name the subquery to count its people.
                self._anonymous += 1
                node.set("alias", exp.TableAlias(this=exp.to_identifier(f"__cr_s{self._anonymous}")))
            rel = self.query(node.this, env, final=False)
            return node.alias_or_name, self.renamed(rel, node.args.get("alias"), node.this)
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
            return alias, _catalog_rel(self.catalog_tables[name], self.catalog_bounds.get(name, {}))
        self.fail("unknown_table", node, name if len(name) < 64 else name[:60] + "...")
        return alias, Rel([], bearing=False)

    def _join(self, join: exp.Join, scope: Scope, env: dict[str, Rel], atoms: Atoms) -> None:
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
        if bearing_before != rel.bearing:
            self.fail("mixed_join", join)
            return
        on = join.args.get("on")
        if on is not None:
            rules = ExpressionRules(scope, subquery=lambda n: self.subquery(n, env), atoms=atoms)
            rules.check(on, Ctx(Mode.ROW if rel.bearing else Mode.ANON, cond=True))
            self.problems += rules.problems
        if rel.bearing:
            self._people_join(join, alias, scope, previous, rel)

    def _people_join(self, join: exp.Join, alias: str, scope: Scope,
                     previous: dict[str, Rel], rel: Rel) -> None:
        using = [u.name for u in join.args.get("using") or []]
        scope.using.update(using)
        side = (join.args.get("side") or "").upper()
        if using and side in ("RIGHT", "FULL"):
            self.fail("join_type", join, f"{side} JOIN ... USING")
            return
        on = join.args.get("on")
        if not (_joined_on_user(on, alias, scope) or _using_user(using, previous, rel)):
            self.fail("join_not_on_user_key", join)
            return
        new_uid = exp.column(rel.uid_column or "", table=alias, quoted=True)
        if side in ("LEFT", "FULL"):
            scope.nullable.add(alias)
        if side in ("RIGHT", "FULL"):
            scope.nullable.update(previous)
        if side == "RIGHT":
            scope.uid_expr = new_uid
        elif side == "FULL":
            scope.uid_expr = exp.Coalesce(this=scope.uid_expr, expressions=[new_uid])


def _catalog_rel(columns: dict[str, K], bounds: dict[str, tuple[float, float]]) -> Rel:
    cols = [(name.lower(), kind) for name, kind in columns.items()]
    uid = next(n for n, k in cols if k is K.UID)
    kinds = dict(cols)
    ranges = {n.lower(): Range(float(lo), float(hi)) for n, (lo, hi) in bounds.items()
              if kinds.get(n.lower()) is K.MET}
    return Rel(cols, bearing=True, uid_column=uid, base=True, ranges=ranges)


def _joined_on_user(on: exp.Expr | None, alias: str, scope: Scope) -> bool:
    """Is one top-level conjunct of ON ``x.user_key = alias.user_key``?"""
    while isinstance(on, exp.Paren):
        on = on.this
    if on is None:
        return False
    for conj in on.flatten() if isinstance(on, exp.And) else [on]:
        while isinstance(conj, exp.Paren):
            conj = conj.this
        if not isinstance(conj, exp.EQ):
            continue
        sides = [scope.resolve(c) if isinstance(c, exp.Column) else None
                 for c in (conj.this, conj.expression)]
        if all(isinstance(s, tuple) and s[1] is K.UID for s in sides):
            aliases = {s[0] for s in sides if isinstance(s, tuple)}
            if alias in aliases and len(aliases) == 2:
                return True
    return False


def _using_user(using: list[str], previous: dict[str, Rel], rel: Rel) -> bool:
    return any(rel.kind(u) is K.UID and any(r.kind(u) is K.UID for r in previous.values())
               for u in using)
