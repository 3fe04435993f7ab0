"""A screen: the exact rewrite with its final people counts replaced by certified lower bounds.

Counting the people behind each released group (``COUNT(DISTINCT user_key)``, and the people
whose value a SUM adds) is most of what a threshold costs: a hash of every person, where the
analyst's ``SUM(cost) GROUP BY channel`` only adds numbers (10M rows: 18x raw DuckDB). Yet
the release only asks whether a count reaches k. A person's *bucket*, the low bits of the
user_key's surrogate, is a function of the person, so the number of distinct buckets among a
group's rows is at most its number of people: ``BIT_COUNT(BIT_OR(1 << (user_key & 63)))``, an
aggregate as cheap as a SUM, is a lower bound of ``COUNT(DISTINCT user_key)``.

The screen is the same query with each such count (in the final aggregation only, and not one
the analyst's SQL computes anyway) replaced by its bound, and one more hidden column last,
``__cr_cert``: the least bound of the row. The pipeline runs the screen first and keeps its
answer only when every row's ``__cr_cert`` reaches k. Then every comparison ``count < k``
the release reads is false under the bound, and so under the exact count (which is at least
the bound): every flag, every kept or dropped row and ``suppressed_rows`` (0) are those of
the exact query, and the answer is the same. Otherwise the exact query runs
(``pipeline.release``). For that to hold the counts must be read only so: as the row's
people column, or in ``count < k`` (in the WHERE, as one of its top-level ``OR`` terms, so
that a row the screen drops is dropped by the exact query too). A query that reads a count
any other way (a difference of two counts, a row system, a set operation's rows) has no
screen.

What it tells beyond the answer: whether the exact query ran, which takes longer (timing is
open, docs/gate.md): some group had fewer than k distinct buckets, that is, fewer than about
``1.5 k`` people or a released group that stands on k to ``1.5 k``. The threshold's own
decision tells as much of any group near k.
"""

from __future__ import annotations

from sqlglot import exp

from cleanroom.gate.taint import cte_of
from cleanroom.gate.walk import combine, copy_tree, find_all, sql_text, under
from cleanroom.hidden import BUCKET, BUCKET_BITS, screen_view

CERT = "__cr_cert"
PEOPLE = "__cr_n"
_COUNTS = "__cr_"
_RELEASED_SYSTEMS = frozenset({"__cr_x", "__cr_o", "__cr_p", "__cr_h"})
_WORD = 64
_UBIGINT = exp.DataType(this=exp.DataType.Type.UBIGINT)
_MAX_WORDS = 4
# The stored bucket holds the bits every word's bucket and word index read.
assert _WORD * _MAX_WORDS <= 2 ** BUCKET_BITS


def words_for(k: int) -> int | None:
    """How many 64-bit words of buckets certify k people (None: too many to be worth it).

    Enough that k is at most 80% of the buckets: a group of ``1.5 k`` people fills k of them.

    >>> words_for(51), words_for(52), words_for(102), words_for(103), words_for(205)
    (1, 2, 2, 4, None)
    """
    words = 1
    while k > 0.8 * _WORD * words:
        words *= 2
        if words > _MAX_WORDS:
            return None
    return words


def screen_of(tree: exp.Expr, k: int, *, datasets: frozenset[str] = frozenset()
              ) -> exp.Select | None:
    """The screen of the exact rewrite ``tree``, changed in place (None: it has none). A
    count of the user_key of one of ``datasets`` read in the final aggregation's own FROM or
    JOIN counts the buckets its screen view stores (``hidden.py``)."""
    words = words_for(k)
    inner = _inner(tree)
    if words is None or inner is None:
        return None
    assert isinstance(tree, exp.Select)
    if any(p.alias_or_name in _RELEASED_SYSTEMS for p in tree.expressions):
        return None  # the release reads the counts themselves there (row systems, overlaps)
    counts = _replaceable(inner)
    if not counts or not _read_as_thresholds(tree, set(counts), k) or any(
            c.name in counts for node in _clauses(inner, "with_") for c in find_all(node, exp.Column)):
        return None  # (nor does the inner SELECT read them by name, as DuckDB would let it)
    buckets = _stored_buckets(inner, datasets)
    for alias, person, condition in counts.values():
        bucket = exp.column(BUCKET, table=person.table, quoted=True) if isinstance(
            person, exp.Column) and person.table.lower() in buckets else None
        alias.set("this", certificate(person, condition, words, bucket=bucket))
    if PEOPLE in counts:
        # Each support is some of the row's people, so its bound bounds theirs too (and
        # DuckDB computes an aggregate written twice once): a row whose cells stand stands.
        counted = counts[PEOPLE][1].name
        certs = [copy_tree(alias.this) for alias, who, condition in counts.values()
                 if condition is not None and who.name == counted]
        if certs:
            counts[PEOPLE][0].set("this", certs[0] if len(certs) == 1 else exp.Anonymous(
                this="GREATEST", expressions=certs))
    bounds = [exp.column(n, table="__cr_q", quoted=True) for n in counts]
    least = bounds[0] if len(bounds) == 1 else exp.Anonymous(this="LEAST", expressions=bounds)
    tree.append("expressions", exp.alias_(least, CERT, quoted=True, copy=False))
    return tree


def certificate(person: exp.Expr, condition: exp.Expr | None, words: int, *,
                bucket: exp.Expr | None = None) -> exp.Expr:
    """The number of distinct buckets of ``person`` over the rows where ``condition`` holds
    (0 for none): at most their number of people. ``bucket``: the person's low bits as stored
    (``hidden.BUCKET``), read instead of the person's surrogate.

    >>> certificate(exp.column("u"), None, 1).sql("duckdb")
    'COALESCE(BIT_COUNT(BIT_OR(CAST(1 AS UBIGINT) << CAST(u & 63 AS UBIGINT))), 0)'
    """
    source = person if bucket is None else bucket
    one = exp.Cast(this=exp.Literal.number(1), to=copy_tree(_UBIGINT))
    low = exp.BitwiseAnd(this=copy_tree(source), expression=exp.Literal.number(_WORD - 1))
    bit = exp.BitwiseLeftShift(this=one, expression=exp.Cast(this=low, to=copy_tree(_UBIGINT)))
    terms: list[exp.Expr] = []
    for word in range(words):
        where = copy_tree(condition) if condition is not None else None
        if words > 1:
            high = exp.BitwiseAnd(this=exp.paren(exp.BitwiseRightShift(
                this=copy_tree(source), expression=exp.Literal.number(6))),
                expression=exp.Literal.number(words - 1))
            where = combine(exp.And, where, exp.EQ(this=high, expression=exp.Literal.number(word)),
                            copy=False)
        agg: exp.Expr = exp.Anonymous(this="BIT_OR", expressions=[copy_tree(bit)])
        if where is not None:
            agg = exp.Filter(this=agg, expression=exp.Where(this=where))
        terms.append(exp.Anonymous(this="BIT_COUNT", expressions=[agg]))
    total = terms[0]
    for term in terms[1:]:
        total = exp.Add(this=total, expression=term)
    return exp.Coalesce(this=total, expressions=[exp.Literal.number(0)])


def _stored_buckets(inner: exp.Select, datasets: frozenset[str]) -> set[str]:
    """The names (aliases) under which ``inner`` reads one of ``datasets`` in its own FROM or
    JOIN (not a CTE of that name): each such table now reads the dataset's screen view
    (``hidden.py``) under the same name, whose rows carry their person's stored bucket."""
    froms = [inner.args.get("from_")] + list(inner.args.get("joins") or [])
    found = set()
    for table in (f.this for f in froms if f is not None and isinstance(f.this, exp.Table)):
        name = table.name.lower()
        if (name not in datasets or table.args.get("db") or table.args.get("catalog")
                or cte_of(table) is not None):
            continue
        if not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name, quoted=True)))
        table.set("this", exp.to_identifier(screen_view(name), quoted=True))
        found.add(table.alias_or_name.lower())
    return found


def _inner(tree: exp.Expr) -> exp.Select | None:
    """The final aggregation of a plain outer SELECT over ``(...) AS __cr_q``."""
    if not isinstance(tree, exp.Select) or any(tree.args.get(a) for a in (
            "distinct", "joins", "group", "having", "qualify", "windows")):
        return None
    source = tree.args.get("from_")
    sub = source.this if source is not None else None
    if not isinstance(sub, exp.Subquery) or sub.alias != "__cr_q":
        return None
    inner = sub.this
    return inner if isinstance(inner, exp.Select) else None


def _replaceable(inner: exp.Select) -> dict[str, tuple[exp.Alias, exp.Expr, exp.Expr | None]]:
    """The inner SELECT's hidden people counts that only the threshold asks for: name ->
    (its alias node, the person, the condition of its rows or None)."""
    found: dict[str, tuple[exp.Alias, exp.Expr, exp.Expr | None]] = {}
    counted = [p for p in inner.expressions if isinstance(p, exp.Alias)
               and p.alias.startswith(_COUNTS) and _distinct_of(p.this) is not None]
    others = [_key(c) for node in _clauses(inner, "with_")
              for c in find_all(node, exp.Count, stop=exp.Subquery)
              if not any(c is p.this for p in counted)]
    for alias in counted:
        person, condition = _counted(alias.this)
        # The analyst counts these people anyway (DuckDB computes one distinct count for
        # both, whatever their qualifiers): the exact count costs nothing more.
        if person is None or _key(alias.this) in others:
            continue
        found[alias.alias] = (alias, person, condition)
    return found


def _counted(count: exp.Expr) -> tuple[exp.Column | None, exp.Expr | None]:
    """The person column a ``COUNT(DISTINCT person)`` or ``COUNT(DISTINCT CASE WHEN c THEN
    person END)`` counts, and ``c`` (None: every row)."""
    value, condition = _distinct_of(count), None
    if isinstance(value, exp.Case) and len(value.args["ifs"]) == 1 and not value.args.get(
            "default"):
        when = value.args["ifs"][0]
        value, condition = when.args["true"], when.this
    return (value if isinstance(value, exp.Column) else None), condition


def _key(count: exp.Expr) -> tuple[str, str] | None:
    person, condition = _counted(count)
    if person is None:
        return None
    return person.name, "" if condition is None else sql_text(condition)


def _distinct_of(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.Count) and isinstance(node.this, exp.Distinct):
        values = node.this.expressions
        return values[0] if len(values) == 1 else None
    return None


def _read_as_thresholds(tree: exp.Select, names: set[str], k: int) -> bool:
    """Every read of a count in the outer SELECT is its people column (last) or ``< k``, and
    in the WHERE a top-level ``OR`` term."""
    where = tree.args.get("where")
    terms = _disjuncts(where.this) if where is not None else []
    last = tree.expressions[-1] if tree.expressions else None
    for column in (c for node in _clauses(tree, "from_") for c in find_all(node, exp.Column)):
        if column.name not in names:
            continue
        parent = column.parent
        if column is last and column.name == PEOPLE:
            continue
        if not (isinstance(parent, exp.LT) and parent.this is column
                and isinstance(parent.expression, exp.Literal)
                and parent.expression.is_int and int(parent.expression.name) == k):
            return False
        if where is not None and under(parent, where) and not any(parent is t for t in terms):
            return False
    return True


def _clauses(select: exp.Select, but: str) -> list[exp.Expr]:
    """Every clause of ``select`` but one."""
    return [node for key, value in select.args.items() if key != but
            for node in (value if isinstance(value, list) else [value])
            if isinstance(node, exp.Expr)]


def _disjuncts(node: exp.Expr) -> list[exp.Expr]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Or):
        return _disjuncts(node.this) + _disjuncts(node.expression)
    return [node]
