"""Which relations may carry a threshold's *taint*: a value withheld (NULL) inside the query, or
a row dropped, that changes what is computed from them.

An intermediate aggregation across people withholds the cells that stand on too few people
(and drops the rows that do); from there each relation computed from it carries a hidden
boolean ``__cr_w`` per row, OR-ed over joins, ``bool_or``-ed over aggregates and windows, and
the final output flags every cell computed from a tainted row (``rewrite.py``). Relations no
threshold can reach carry nothing, so most queries' SQL is unchanged.
"""

from __future__ import annotations

from sqlglot import exp

from cleanroom.gate.joinkeys import group_join_keys, joined_keys, positional
from cleanroom.gate.model import Mode, SelectPlan
from cleanroom.gate.nodes import branch_selects
from cleanroom.gate.walk import find_all, sql_text

TAINT = "__cr_w"
# A row's own taint, without its relation's drops: read by a reader that reads each of its
# rows on its own (``TaintMap.rowwise``), so a row dropped elsewhere in the relation cannot
# change what it reads.
OWN_TAINT = "__cr_ow"


def cte_body(table: exp.Table) -> exp.Expr | None:
    """The query a table reference names when it names a CTE in scope (nearest first)."""
    cte = cte_of(table)
    return cte.this if cte is not None else None


def cte_of(table: exp.Table) -> exp.CTE | None:
    """The CTE a table reference names, if any (its body changes as the rewrite goes)."""
    if table.args.get("db") or table.args.get("catalog"):
        return None
    node: exp.Expr | None = table
    while node is not None:
        parent = node.parent
        with_ = parent.args.get("with_") if parent is not None else None
        if with_ is not None:
            for cte in with_.expressions:
                if cte.alias_or_name == table.name and not _inside(table, cte):
                    return cte
                if _inside(table, cte):
                    break  # only the CTEs before this one are visible from its body
        node = parent
    return None


def _inside(node: exp.Expr, ancestor: exp.Expr) -> bool:
    while node is not None:
        if node is ancestor:
            return True
        node = node.parent  # type: ignore[assignment]
    return False


def sources(sel: exp.Select) -> list[tuple[str, exp.Expr]]:
    """(alias, defining query) of each derived relation in FROM and JOIN."""
    found: list[tuple[str, exp.Expr]] = []
    from_ = sel.args.get("from_")
    nodes = ([from_.this] if from_ is not None else []) + [j.this for j in sel.args.get("joins") or []]
    for node in nodes:
        if isinstance(node, exp.Subquery):
            found.append((node.alias_or_name, node.this))
        elif isinstance(node, exp.Table):
            body = cte_body(node)
            if body is not None:
                found.append((node.alias_or_name, body))
    return found


def value_subqueries(sel: exp.Select) -> list[exp.Subquery]:
    """Subqueries ``sel`` uses as values or IN lists (not as relations)."""
    relations = {id(n) for n in relation_nodes(sel)}
    # Below another SELECT a subquery's SELECT is that one, never ``sel``.
    return [s for s in find_all(sel, exp.Subquery, stop=exp.Select)
            if s.parent_select is sel and id(s) not in relations and not _in_cte(s, sel)]


def relation_nodes(sel: exp.Select) -> list[exp.Expr]:
    from_ = sel.args.get("from_")
    return ([from_.this] if from_ is not None else []) + [j.this for j in sel.args.get("joins") or []]


def _in_cte(node: exp.Expr, sel: exp.Select) -> bool:
    with_ = sel.args.get("with_")
    return with_ is not None and _inside(node, with_)


class TaintMap:
    """Which queries may be tainted, read before the rewrite moves nodes around: for each
    SELECT (by id), the aliases of its tainted sources and its tainted value subqueries (by the
    id of their ``exp.Subquery``, which the rewrite keeps), and which SELECTs carry ``__cr_w``."""

    def __init__(self, tree: exp.Expr, plans: dict[int, SelectPlan], *,
                 same_types: set[int] | None = None,
                 sets: dict[int, list[str | None]] | None = None) -> None:
        self.plans = plans
        # Equalities whose sides have one known type (``types.same_type_comparisons``): only
        # those confine a drop to its key's partition (a lossy cast could meet two groups).
        self.same_types = same_types or set()
        self.sets = sets or {}  # each set operation's output types (``types.Found``)
        self.memo: dict[int, bool] = {}
        self.sources: dict[int, list[str]] = {}
        self.values: dict[int, list[int]] = {}
        self.carry: set[int] = set()
        # SELECT id -> source alias -> its clean columns (``clean_columns``)
        self.clean: dict[int, dict[str, set[str]]] = {}
        # Aggregations read (maybe through other SELECTs) on the NULL side of an outer join:
        # a row they drop, of any size, changes the joined rows (``outer_reads``).
        self.outer_read: set[int] = set()
        # Aggregations inner-joined to people's rows on their group keys (``_group_joined``):
        # a dropped group of any size with non-NULL keys drops the rows that would meet it.
        self.group_read: set[int] = set()
        # Aggregations in ``outer_read``: the keys (output names) a drop is confined to, when
        # every reader that combines their rows groups or partitions by those exact keys
        # (``_combined_keys``); None: any drop taints every row.
        self.partitions: dict[int, frozenset[str] | None] = {}
        self.clean_memo: dict[int, set[str]] = {}
        # (SELECT id, alias) -> the CTE or subquery node holding that source's query
        self.holders: dict[tuple[int, str], exp.Expr] = {}
        self.probes: dict[str, exp.Expr] = {}  # ``read_taint``'s markers -> their holders
        # (SELECT id, alias) read row by row, and the aggregations so read (``_rowwise``)
        self.rowwise: set[tuple[int, str]] = set()
        self.rowwise_bodies: set[int] = set()
        # Readers that combine rows -> the aggregations whose dropped rows they may miss with
        # no row left to carry the flag (``lost.py``), and those aggregations' rewritten nodes
        self.lost: dict[int, list[tuple[int, tuple[str, tuple[str, ...], tuple[str, ...]] | None]]]
        self.lost = {}
        self.leaf_ids: set[int] = set()
        self.keyed_leaves: set[int] = set()  # probed by key: their inner marks dropped rows
        self.leaf_nodes: dict[str, exp.Expr] = {}
        if not any(p.mode is Mode.ANONYMIZING and not p.final for p in plans.values()):
            return  # no intermediate aggregation across people: nothing can be tainted
        selects = find_all(tree, exp.Select)
        found = {id(sel): sources(sel) for sel in selects}  # each walked once, not three times
        subqueries = {id(sel): value_subqueries(sel) for sel in selects}  # and these, not twice
        for sel in selects:
            self.sources[id(sel)] = [a for a, body in found[id(sel)] if self.may(body)]
            values = subqueries[id(sel)]
            self.values[id(sel)] = [id(s) for s in values if self.may(s.this)]
            for _, body in found[id(sel)]:
                self._mark(body)
            for sub in values:
                self._mark(sub.this)
        for sel in selects:
            outer = outer_sides(sel)
            joined = _group_joined(sel, plans)
            combined = _combines_rows(sel, plans)
            for alias, body in found[id(sel)]:
                if alias in outer:
                    self._outer(body, keys=joined_keys(sel, alias, self.clean_of(body),
                                                        self.same_types) if combined else None)
                elif combined:
                    keys = _combined_keys(sel, alias, self.clean_of(body))
                    self._outer(body, keys=keys)
                    self._lost(sel, alias, body, keys)
                elif alias in joined:
                    keys = group_join_keys(sel, alias, self.clean_of(body), self.same_types)
                    if keys is None:
                        self._outer(body, self.group_read)
                    else:
                        self._outer(body, keys=keys)
            for sub in subqueries[id(sel)]:
                if isinstance(sub.parent, exp.In):
                    # An IN list is a semi-join, NOT IN an anti-join: a row is kept or lost
                    # because its group was dropped, as on an outer join's NULL side (raw
                    # DuckDB keeps it; test_review_round3.py).
                    self._outer(sub.this)
            for node in relation_nodes(sel):
                holder = cte_of(node) if isinstance(node, exp.Table) else node
                if isinstance(holder, (exp.CTE, exp.Subquery)):
                    self.holders[(id(sel), node.alias_or_name)] = holder
            self.clean[id(sel)] = {a: self.clean_of(body) for a, body in found[id(sel)]
                                   if a in self.sources[id(sel)]}
            self.clean_of(sel)  # before the rewrite moves nodes: ``final_cell_taints``
        from cleanroom.gate.rowwise import read_rowwise  # it reads this module's readers

        for sel in tree.find_all(exp.Select):
            for alias, body in sources(sel):
                if alias in self.sources.get(id(sel), []) and read_rowwise(self, sel, alias, body):
                    self.rowwise.add((id(sel), alias))
                    self.rowwise_bodies.add(id(body))

    def _lost(self, reader: exp.Select, alias: str, body: exp.Expr,
              keys: frozenset[str] | None) -> None:
        """The aggregations whose dropped rows ``reader`` may miss (``lost.py``): probed by
        the reader's ``keys`` (``_combined_keys``) where they can be followed to the
        aggregation, else for any drop."""
        from cleanroom.gate.lost import leaves, needs_probes

        names = tuple(sorted(keys)) if keys else None
        reached = leaves(body, self.plans, self.may, names=names, sets=self.sets)
        if not needs_probes(reader, body, reached):
            return
        for leaf, _, theirs in reached:
            entry = (alias, names, theirs) if names is not None and theirs is not None else None
            self.lost.setdefault(id(reader), []).append((id(leaf), entry))
            self.leaf_ids.add(id(leaf))
            if entry is not None:
                self.keyed_leaves.add(id(leaf))

    def _mark(self, query: exp.Expr) -> None:
        if not self.may(query):
            return
        for sel in branch_selects(query):
            self.carry.add(id(sel))

    def clean_of(self, node: exp.Expr) -> set[str]:
        """Lower-case names of the columns of ``node`` that are exact in every row it keeps."""
        key = id(node)
        if key not in self.clean_memo:
            self.clean_memo[key] = set()  # a cycle is clean of nothing
            self.clean_memo[key] = self._clean(node)
        return self.clean_memo[key]

    def _clean(self, node: exp.Expr) -> set[str]:
        if isinstance(node, exp.Subquery):
            return self.clean_of(node.this)
        if isinstance(node, exp.SetOperation):
            branches = branch_selects(node)
            names = [p.alias_or_name.lower() for p in branches[0].expressions]
            positions = set(range(len(names)))
            for branch in branches:
                mine = self.clean_of(branch)
                positions &= {i for i, p in enumerate(branch.expressions)
                              if p.alias_or_name.lower() in mine}
            return {names[i] for i in positions}
        if not isinstance(node, exp.Select):
            return set()
        plan = self.plans.get(id(node))
        if plan is not None and plan.mode is Mode.ANONYMIZING:
            keys = clean_columns(node, self.plans, False)
            return keys & self._exact_reads(node) if keys and self.tainted(node) else keys
        if plan is None or plan.mode is not Mode.ANON:
            return set()
        return self._clean_anon(node)

    def _exact_reads(self, sel: exp.Select) -> set[str]:
        """Names of the projections of an aggregation over tainted sources that read none of
        their values (only untainted sources' columns, or exact keys of tainted ones), when
        which rows it aggregates (WHERE, ON) turns on none either: a threshold upstream then
        only removes rows, so each group it keeps is a group of raw DuckDB's, its keys exact."""
        if self.values.get(id(sel)):
            return set()
        tainted = self.sources.get(id(sel), [])
        clean = {a: self.clean_of(body) for a, body in sources(sel) if a in tainted}
        reader = Reader(clean, outer_sides(sel), using_columns(sel), set(tainted),
                        only=single_source(sel), owners=column_owners(sel))
        on_reader = Reader(clean, set(), set(), set(tainted))
        where = sel.args.get("where")
        if (where is not None and reader.reached(where) != set()) or any(
                on_reader.reached(j.args["on"]) != set() for j in sel.args.get("joins") or []
                if j.args.get("on") is not None):
            return set()
        return {p.alias_or_name.lower() for p in sel.expressions if reader.reached(p) == set()}

    def _clean_anon(self, sel: exp.Select) -> set[str]:
        """Over thresholded rows: the group keys (every column, without GROUP BY and
        aggregates) that read only exact columns of their sources."""
        if self.values.get(id(sel)) or any(sel.args.get(a) for a in (
                "having", "qualify", "distinct", "limit", "offset")):
            return set()
        tainted = self.sources.get(id(sel), [])
        clean = {a: self.clean_of(body) for a, body in sources(sel) if a in tainted}
        reader = Reader(clean, outer_sides(sel), using_columns(sel), set(tainted),
                        only=single_source(sel), owners=column_owners(sel))
        on_reader = Reader(clean, set(), set(), set(tainted))
        where = sel.args.get("where")
        if (where is not None and reader.reached(where) != set()) or any(  # None: cannot tell
                on_reader.reached(j.args["on"]) != set() for j in sel.args.get("joins") or []
                if j.args.get("on") is not None):
            return set()
        keys = group_positions(sel)
        found = set()
        for i, proj in enumerate(sel.expressions):
            if any(isinstance(n, (exp.AggFunc, exp.Window, exp.Subquery)) for n in proj.walk()):
                continue
            if (keys is None or i in keys) and reader.reached(proj) == set():
                found.add(proj.alias_or_name.lower())
        return found

    def _outer(self, query: exp.Expr, into: set[int] | None = None, *,
               keys: frozenset[str] | None = None) -> None:
        marked = self.outer_read if into is None else into
        branches = branch_selects(query)
        if len(branches) > 1 and keys is not None and not self._keyed_set(query, keys):
            # A reader's group can hold rows of one branch only: a row another branch dropped
            # has no row of its partition there to carry the flag (AMC's reach beside
            # conversions, UNION ALLed and re-grouped by campaign, showed a dropped
            # campaign's conversions as 0, exact). Only the relation-wide flag holds, unless
            # the reader probes every branch's dropped keys (``lost.py``): then each branch's
            # own drops taint its partition, as for one aggregation.
            keys = None
        for sel in branches:
            plan = self.plans.get(id(sel))
            if into is None:
                known = self.partitions.get(id(sel), keys) if id(sel) in marked else keys
                self.partitions[id(sel)] = None if known is None or keys is None \
                    else known & keys
            if id(sel) in marked:
                continue
            marked.add(id(sel))
            if plan is None or plan.mode is not Mode.ANONYMIZING:
                names = _output_names(query)
                for _, body in sources(sel):
                    passed = _passed_keys(sel, keys, names) if into is None else None
                    self._outer(body, into, keys=passed)

    def _keyed_set(self, query: exp.Expr, keys: frozenset[str]) -> bool:
        """Whether a reader's keys ``keys`` of a set operation can be followed into every
        branch (one known type per key column: ``lost.py`` probes each by key)."""
        from cleanroom.gate.lost import branch_names

        node = query.this if isinstance(query, exp.Subquery) else query
        return isinstance(node, exp.SetOperation) and all(
            n is not None for n in branch_names(node, tuple(sorted(keys)), self.sets))

    def tainted(self, sel: exp.Select) -> bool:
        return bool(self.sources.get(id(sel)) or self.values.get(id(sel)))

    def may(self, node: exp.Expr) -> bool:
        return may_taint(node, self.plans, self.memo)


def may_taint(node: exp.Expr, plans: dict[int, SelectPlan], memo: dict[int, bool]) -> bool:
    """Whether ``node`` reads (through its sources or value subqueries) an intermediate
    aggregation across people: a threshold inside the query may change its rows."""
    if id(node) not in memo:
        memo[id(node)] = False  # a cycle cannot taint (recursive CTEs are refused)
        memo[id(node)] = _may_taint(node, plans, memo)
    return memo[id(node)]


def _may_taint(node: exp.Expr, plans: dict[int, SelectPlan], memo: dict[int, bool]) -> bool:
    if isinstance(node, exp.Subquery):
        return may_taint(node.this, plans, memo)
    if isinstance(node, exp.SetOperation):
        return may_taint(node.left, plans, memo) or may_taint(node.right, plans, memo)
    if not isinstance(node, exp.Select):
        return False
    plan = plans.get(id(node))
    if plan is not None and plan.mode is Mode.ANONYMIZING and not plan.final:
        return True
    return (any(may_taint(body, plans, memo) for _, body in sources(node))
            or any(may_taint(s.this, plans, memo) for s in value_subqueries(node)))



# -- which cells of a SELECT over thresholded rows a source's taint reaches ------------------
# A relation's taint says that its rows may have lost cells, or that the relation lost rows.
# Neither changes a *key* of a row it kept: a group key of an aggregation across people over
# untainted sources is never withheld, so it is exact wherever the row stands. Read through
# an outer join, a kept row may be missing on one side (its columns NULL where raw DuckDB
# has the values), unless it is the USING key taken from every side at once
# (``COALESCE(a.k, b.k)``): some side holds the row, and all sides agree on k.
def clean_columns(body: exp.Expr, plans: dict[int, SelectPlan], tainted: bool) -> set[str]:
    """Lower-case names of ``body``'s columns that are functions of its group keys alone."""
    plan = plans.get(id(body))
    if tainted or not isinstance(body, exp.Select) or plan is None or plan.mode is not \
            Mode.ANONYMIZING:
        return set()
    if any(body.args.get(a) for a in ("having", "qualify", "limit", "offset")):
        return set()  # which groups it keeps may turn on a withheld value (kept, and tainted)
    return {proj.alias_or_name.lower() for proj in body.expressions
            if _of_keys(proj.unalias() if isinstance(proj, exp.Alias) else proj, plan)}


def _of_keys(node: exp.Expr, plan: SelectPlan) -> bool:
    if id(node) in plan.atoms.key_hits:
        return True
    if isinstance(node, (exp.Column, exp.AggFunc, exp.Window, exp.Subquery, exp.Select)):
        return False
    return all(_of_keys(child, plan) for child in node.iter_expressions())


def _combines_rows(sel: exp.Select, plans: dict[int, SelectPlan]) -> bool:
    """Whether a SELECT over thresholded rows combines several of them into one number (an
    aggregate, GROUP BY, a window): then a row its source dropped, of any size, is missing
    from that number, and the number beside the same total (a CTE, a value subquery, a
    UNION ALL branch) is the dropped group's own (``SUM(n)`` over per-channel counts is the
    total minus the 7-person channel; ``tests/gate/test_redteam.py``). So the source is read
    like an outer join's NULL side: any drop taints it (the flag says only that some group
    was dropped, the existence bit outer joins already carry)."""
    plan = plans.get(id(sel))
    if plan is None or plan.mode is not Mode.ANON:
        return False
    if sel.args.get("group") is not None:
        return True
    return any(isinstance(n, (exp.AggFunc, exp.Window)) for p in sel.expressions
               for n in find_all(p, exp.AggFunc, exp.Window, stop=exp.Select))


def _combined_keys(sel: exp.Select, alias: str, clean: set[str]) -> frozenset[str] | None:
    """Exact keys of source ``alias`` that a SELECT combining its rows groups by (and every
    window partitions by), when it reads that source alone: a row the source dropped then
    changes only rows of its own partition by those keys. A partition coarser than the groups
    (some group items are computed, and left out) is still safe: a dropped row's group, if it
    stands, holds another row of that partition, which carries the flag. None: any row."""
    if single_source(sel) != alias:
        return None
    windows = [w for p in sel.expressions for w in find_all(p, exp.Window, stop=exp.Select)]
    lists = [list(w.args.get("partition_by") or []) for w in windows]
    group = sel.args.get("group")
    if group is not None:
        lists.append([positional(sel, g) for g in group.expressions])
    elif any(isinstance(n, exp.AggFunc) and not isinstance(n.parent, exp.Window)
             for p in sel.expressions for n in find_all(p, exp.AggFunc, stop=exp.Select)):
        return None  # a total over every row
    found: frozenset[str] | None = None
    for items in lists:
        names = {i.name.lower() for i in items if isinstance(i, exp.Column)
                 and isinstance(i.this, exp.Identifier) and i.table in ("", alias)
                 and i.name.lower() in clean}
        found = frozenset(names) if found is None else found & names
    return found or None


def _output_names(node: exp.Expr) -> list[str] | None:
    """A query's output column names in order (``*`` expanded through its one source's own
    names), or None when they cannot be told."""
    if isinstance(node, exp.Subquery):
        return _output_names(node.this)
    if isinstance(node, exp.SetOperation):
        return _output_names(branch_selects(node)[0])
    if not isinstance(node, exp.Select):
        return None
    named = _named_projections(node, single_source(node))
    return None if named is None else [n for n, _ in named]


def _named_projections(sel: exp.Select, only: str | None
                       ) -> list[tuple[str, str | None]] | None:
    """Each output of ``sel`` as (its name, the column of source ``only`` it passes on as it
    is, or None); ``*`` expands through that source's own names. None: they cannot be told."""
    found: list[tuple[str, str | None]] = []
    for proj in sel.expressions:
        if isinstance(proj, exp.Star) or (isinstance(proj, exp.Column)
                                          and isinstance(proj.this, exp.Star)):
            body = next((b for a, b in sources(sel) if a == only), None) if only else None
            names = _output_names(body) if body is not None else None
            if names is None:
                return None
            found += [(n, n) for n in names]
            continue
        value = proj.unalias() if isinstance(proj, exp.Alias) else proj
        column = value.name.lower() if only is not None and isinstance(value, exp.Column) \
            and value.table in ("", only) else None
        found.append((proj.alias_or_name.lower(), column))
    return found


def _passed_keys(sel: exp.Select, keys: frozenset[str] | None, names: list[str] | None
                 ) -> frozenset[str] | None:
    """The source's names of ``keys`` when ``sel`` (maybe a branch of a set operation whose
    output ``names`` are those of its first branch) passes its one source's rows on, each
    key column as it is: a drop confined to a key's partition stays confined there."""
    if keys is None or names is None or len(set(names)) != len(names) or any(
            sel.args.get(a) for a in ("group", "having", "qualify", "distinct", "limit",
                                      "offset", "joins", "laterals")):
        return None
    only = single_source(sel)
    if only is None or any(isinstance(n, (exp.AggFunc, exp.Window, exp.Subquery))
                           for p in sel.expressions for n in p.walk()):
        return None
    mine = _named_projections(sel, only)
    if mine is None or len(mine) != len(names):
        return None
    found = set()
    for key in keys:
        column = mine[names.index(key)][1] if key in names else None
        if column is None:
            return None
        found.add(column)
    return frozenset(found)


def _group_joined(sel: exp.Select, plans: dict[int, SelectPlan]) -> set[str]:
    """Aliases of the relations a SELECT over people's rows joins (``joins._group_join``): a
    group the threshold dropped, of any size, drops the people's rows that would have met it,
    as a LEFT JOIN would leave them without its columns (read like an outer side)."""
    plan = plans.get(id(sel))
    if plan is None or plan.mode is Mode.ANON:
        return set()
    return {alias for alias, _ in sources(sel)}


def outer_sides(sel: exp.Select) -> set[str]:
    """Aliases of the relations an outer join of ``sel`` may fill with NULLs."""
    from_ = sel.args.get("from_")
    seen = [from_.this.alias_or_name] if from_ is not None else []
    found: set[str] = set()
    for join in sel.args.get("joins") or []:
        side = (join.side or "").upper()
        alias = join.this.alias_or_name
        if side in ("LEFT", "FULL"):
            found.add(alias)
        if side in ("RIGHT", "FULL"):
            found.update(seen)
        seen.append(alias)
    return found


def using_columns(sel: exp.Select) -> set[str]:
    """Names every side of a join agrees on: ``USING (k)``, or a conjunct ``a.k = b.k`` of ON."""
    found = {u.name.lower() for j in sel.args.get("joins") or [] for u in j.args.get("using") or []}
    for join in sel.args.get("joins") or []:
        on = join.args.get("on")
        for conjunct in on.flatten() if isinstance(on, exp.And) else [on] if on else []:
            if isinstance(conjunct, exp.EQ) and all(isinstance(s, exp.Column) for s in (
                    conjunct.this, conjunct.expression)) and \
                    conjunct.this.name.lower() == conjunct.expression.name.lower():
                found.add(conjunct.this.name.lower())
    return found


class Reader:
    """Which tainted sources an expression's value depends on (None: cannot tell)."""

    def __init__(self, clean: dict[str, set[str]], outer: set[str], using: set[str],
                 tainted: set[str], *, only: str | None = None,
                 owners: dict[str, str] | None = None) -> None:
        self.clean, self.outer, self.using, self.tainted = clean, outer, using, tainted
        # The one relation of a SELECT without joins: an unqualified name is its column when
        # it names one of its exact columns (DuckDB binds to the nearest scope first); any
        # other unqualified name counts as a read of it.
        self.only = only
        # With joins: an unqualified name that one derived source alone outputs is that
        # source's column (``column_owners``), read as if it were qualified.
        self.owners = owners or {}

    def reached(self, node: exp.Expr) -> set[str] | None:
        hit: set[str] = set()
        for col in node.find_all(exp.Column):
            if isinstance(col.this, exp.Star):
                return None
            alias = col.table or self.only or ""
            if alias and not col.table:
                if alias in self.tainted and col.name.lower() not in self.clean.get(alias, set()):
                    hit.add(alias)
                continue
            alias = alias or self.owners.get(col.name.lower(), "")
            if not alias:
                return None if self.tainted else hit  # an unqualified name: any source
            if alias in self.tainted and not self._exact(col):
                hit.add(alias)
        return hit

    def _table(self, col: exp.Column) -> str:
        return col.table or self.owners.get(col.name.lower(), "")

    def _exact(self, col: exp.Column) -> bool:
        name, table = col.name.lower(), self._table(col)
        if name not in self.clean.get(table, set()):
            return False
        if table not in self.outer:
            return True
        merged = col.parent
        if not isinstance(merged, exp.Coalesce) or name not in self.using:
            return False
        args = [merged.this, *merged.expressions]
        tables = {self._table(a) for a in args if isinstance(a, exp.Column)}
        return all(isinstance(a, exp.Column) and a.name.lower() == name
                   and name in self.clean.get(self._table(a), {name}
                                              if self._table(a) not in self.tainted else set())
                   for a in args) and (bool(tables - self.outer) or self.outer <= tables)


def column_owners(sel: exp.Select) -> dict[str, str]:
    """For a SELECT with joins: each unqualified name that exactly one derived source (CTE or
    subquery) outputs -> that source's alias. DuckDB binds such a name to that source (a
    source column before a projection alias; a name two sources have is ambiguous, and the
    gate refuses it). Nothing when a derived source's names cannot be told, or a USING,
    NATURAL or LATERAL join may merge or shadow names."""
    joins = sel.args.get("joins") or []
    if not joins or sel.args.get("laterals") or any(
j.args.get("using") or j.args.get("method") for j in joins):
        return {}
    holders: dict[str, list[str]] = {}
    for node in relation_nodes(sel):
        if isinstance(node, exp.Table) and cte_of(node) is None:
            continue  # a dataset: its names are not the derived sources'
        names = _relation_names(node)
        if names is None:
            return {}
        for name in set(names):
            holders.setdefault(name, []).append(node.alias_or_name)
    return {name: found[0] for name, found in holders.items() if len(found) == 1}


def _relation_names(node: exp.Expr) -> list[str] | None:
    """The output names of a derived relation as a SELECT reading it sees them."""
    holder = cte_of(node) if isinstance(node, exp.Table) else node
    if not isinstance(holder, (exp.CTE, exp.Subquery)):
        return None
    alias = holder.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias.columns:
        return [c.name.lower() for c in alias.columns]
    return _output_names(holder.this)


def single_source(sel: exp.Select) -> str | None:
    """The alias of ``sel``'s only relation (no joins), if it has exactly one."""
    from_ = sel.args.get("from_")
    if from_ is None or sel.args.get("joins") or sel.args.get("laterals"):
        return None
    return str(from_.this.alias_or_name) or None


def group_positions(sel: exp.Select) -> set[int] | None:
    """Indexes of the projections ``sel`` groups by (None: it does not group, nor aggregate)."""
    group = sel.args.get("group")
    if group is None:
        aggregated = any(isinstance(n, exp.AggFunc) and not isinstance(n.parent, exp.Window)
                         for p in sel.expressions for n in p.walk())
        return set() if aggregated else None
    found: set[int] = set()
    texts = [sql_text(p.unalias() if isinstance(p, exp.Alias) else p, None) for p in sel.expressions]
    names = [p.alias_or_name.lower() for p in sel.expressions]
    for key in group.expressions:
        if isinstance(key, exp.Literal) and key.is_int and 1 <= int(key.name) <= len(texts):
            found.add(int(key.name) - 1)
            continue
        found.update(i for i, t in enumerate(texts) if t == sql_text(key, None))
        if isinstance(key, exp.Column) and not key.table:
            found.update(i for i, n in enumerate(names) if n == key.name.lower())
    return found
