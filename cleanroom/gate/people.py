"""Which columns of one SELECT's rows equal its person, so the rewrite can count the query's
own ``COUNT(DISTINCT …)`` as its people instead of a second distinct count beside it.

``FROM impressions i JOIN conversions c ON i.user_key = c.user_key`` keeps only rows where
the two user_keys are equal (and not NULL): on every row, ``c.user_key`` *is* the person
``i.user_key``. A user_key is always VARCHAR (``policy.py``), so the equality is exact, and a
count over one is the count over the other, to the person. Only top-level conjuncts of an
inner join's ON and of WHERE are read: they hold on every row the SELECT sees. An outer join's
ON does not (its missing side is NULL), and a RIGHT or FULL join brings rows whose earlier
sources are all NULL, so then only the person column itself is known.

>>> import sqlglot
>>> from cleanroom.gate.model import K, Rel
>>> sel = sqlglot.parse_one("SELECT COUNT(DISTINCT c.user_key) FROM i JOIN c "
...                         "ON i.user_key = c.user_key AND i.ts <= c.ts")
>>> rel = Rel([("user_key", K.UID), ("ts", K.DIM)], bearing=True, uid_column="user_key")
>>> scope = Scope(sources={"i": rel, "c": rel}, uid_expr=exp.column("user_key", "i", quoted=True))
>>> [c.sql() for c in person_columns(sel, scope)]
['"i"."user_key"', '"c"."user_key"']
>>> counted_person(sel, scope).sql()
'"c"."user_key"'
"""

from __future__ import annotations

from sqlglot import exp

from cleanroom.gate.model import K
from cleanroom.gate.scope import Scope
from cleanroom.gate.walk import find_all


def person_columns(sel: exp.Select, scope: Scope) -> tuple[exp.Column, ...]:
    """The qualified columns equal to ``scope.uid_expr`` on every row of ``sel``'s sources
    (the person column first), or none when the person is not one column."""
    uid = scope.uid_expr
    if not isinstance(uid, exp.Column):
        return ()
    joins = sel.args.get("joins") or []
    if any((j.args.get("side") or "").upper() in ("RIGHT", "FULL") for j in joins):
        return (uid,)
    where = sel.args.get("where")
    conditions = [where.this] if where is not None else []
    conditions += [j.args["on"] for j in joins if _inner(j) and j.args.get("on") is not None]
    edges = [pair for cond in conditions for pair in _equalities(cond, scope)]
    found = [uid]
    for column in found:  # grows while it is read: the closure over the equalities
        for left, right in edges:
            other = right if left == column else left if right == column else None
            if other is not None and other not in found:
                found.append(other)
    return tuple(found)


def counted_person(sel: exp.Select, scope: Scope) -> exp.Column | None:
    """A column equal to the person that ``sel`` itself counts with ``COUNT(DISTINCT …)``:
    counting the people over it lets DuckDB compute the two identical counts once."""
    people = person_columns(sel, scope)
    for proj in sel.expressions:
        for count in find_all(proj, exp.Count, stop=exp.Select):
            inner = count.this
            if not isinstance(inner, exp.Distinct) or len(inner.expressions) != 1:
                continue
            arg = inner.expressions[0]
            found = scope.qualified(arg) if isinstance(arg, exp.Column) else None
            if isinstance(found, exp.Column) and found in people:
                return found
    return None


def _inner(join: exp.Join) -> bool:
    side, kind = ((join.args.get(a) or "").upper() for a in ("side", "kind"))
    return not side and kind in ("", "INNER")


def _equalities(condition: exp.Expr, scope: Scope) -> list[tuple[exp.Column, exp.Column]]:
    """The pairs of user_key columns that a top-level conjunct of ``condition`` equates."""
    pairs = []
    for conj in _conjuncts(condition):
        sides = [_user_key(c, scope) for c in (conj.this, conj.expression)] if isinstance(
            conj, exp.EQ) else [None]
        if len(sides) == 2 and sides[0] is not None and sides[1] is not None:
            pairs.append((sides[0], sides[1]))
    return pairs


def _user_key(node: exp.Expr, scope: Scope) -> exp.Column | None:
    """``node`` as a qualified column of one of this SELECT's own sources, if a user_key."""
    if not isinstance(node, exp.Column) or id(node) in scope.outer_refs:
        return None
    found = scope.resolve(node)
    if not isinstance(found, tuple) or found[1] is not K.UID or found[0] not in scope.sources:
        return None
    qualified = scope.qualified(node)
    return qualified if isinstance(qualified, exp.Column) else None


def _conjuncts(condition: exp.Expr) -> list[exp.Expr]:
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        return _conjuncts(condition.this) + _conjuncts(condition.expression)
    return [condition]


def keyed_by_person(sel: exp.Select, scope: Scope, uid_column: str | None) -> bool:
    """Whether no two rows of ``sel`` have the same person: it groups by its person column
    alone, or is ``SELECT DISTINCT`` of that column alone (``Rel.per_person``)."""
    if uid_column is None or not scope.sources:
        return False
    group, distinct = sel.args.get("group"), sel.args.get("distinct")
    if group is not None:
        plain = not any(v for k, v in group.args.items() if k != "expressions")
        keys = group.expressions if plain else []
        return len(keys) == 1 and isinstance(keys[0], exp.Column) and _is_person(keys[0], scope)
    if distinct is None or distinct.args.get("on") or len(sel.expressions) != 1:
        return False
    only = sel.expressions[0]
    return (isinstance(only.unalias(), exp.Column) and only.alias_or_name == uid_column
            and _is_person(only.unalias(), scope))


def one_row_per_person(sel: exp.Select, scope: Scope) -> bool:
    """Whether every row of ``sel``'s sources is a different person, never NULL: two or more
    sources keyed by their person (``keyed_by_person``), all of people's rows, inner-joined
    on user_key equalities that tie each one's person to the others' (an equality also makes
    it non-NULL). Then ``COUNT(*)`` of a group is the number of its people, exactly."""
    sources = list(scope.sources.items())
    if len(sources) < 2 or scope.lookups or not all(_inner(j) for j in sel.args.get("joins") or []):
        return False
    people = person_columns(sel, scope)
    return all(rel.bearing and rel.per_person and rel.uid_column is not None
               and exp.column(rel.uid_column, table=alias, quoted=True) in people
               for alias, rel in sources)


def rows_per_person(sel: exp.Select, scope: Scope) -> bool:
    """Whether no two rows of ``sel``'s sources have the same person: ``one_row_per_person``,
    or one source keyed by its person (a per-person CTE), without joins. Then each row's
    values are its person's own (``weights.py``)."""
    if one_row_per_person(sel, scope):
        return True
    sources = list(scope.sources.values())
    return (len(sources) == 1 and not scope.lookups and not sel.args.get("joins")
            and sources[0].bearing and sources[0].per_person)


def _is_person(column: exp.Column, scope: Scope) -> bool:
    found = scope.qualified(column)
    return found is not None and (found == scope.uid_expr or found in scope.people)
