"""Every rule the gate enforces: a stable code, what it means, and how to fix the query.

Messages name columns, functions and syntax the analyst wrote, never a data value.
``docs/gate-rules.md`` is generated from this table (``python -m cleanroom.gate.rules``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cleanroom.errors import Violation


@dataclass(frozen=True)
class Rule:
    code: str
    summary: str
    hint: str


_RULES = (
    Rule("syntax_error", "the SQL does not parse", "check the SQL near the given line and column"),
    Rule("query_too_large", "the query text or its nesting is too large", "simplify the query"),
    Rule("multiple_statements", "only one statement may be sent", "send one SELECT"),
    Rule("not_a_select", "only SELECT queries run (no DDL, DML, COPY, PRAGMA, SET, ATTACH, ...)",
         "write a single SELECT over the collaboration's datasets"),
    Rule("reserved_identifier", "names starting with __cr are reserved for the gate's hidden "
         "columns", "choose another name"),
    Rule("unknown_table", "the table is not a dataset of this collaboration or a CTE",
         "use one of the collaboration's dataset names"),
    Rule("table_function", "table functions, files and UNNEST cannot be read, nor VALUES lists "
         "other than small lists of constants", "read only the collaboration's datasets; write "
         "constant lists as VALUES ('a', 1), ('b', 2) with literals only"),
    Rule("unknown_column", "the column does not exist in the tables of this scope "
         "(a subquery may refer to the enclosing row only as user_key IN (subquery))",
         "check the column name and its table"),
    Rule("ambiguous_column", "the column name exists in more than one table here",
         "qualify it with a table alias"),
    Rule("banned_column", "the column is banned by the policy and may not be referenced anywhere",
         "remove the column; to count the rows it identified, COUNT(*) or SUM a 0/1 metric"),
    Rule("whole_row", "a table alias used as a value would return whole rows",
         "name the columns you need"),
    Rule("columns_expression", "COLUMNS(...) and * REPLACE are not supported",
         "list the columns explicitly"),
    Rule("user_key_output", "a user_key may not reach the output",
         "aggregate it: COUNT(DISTINCT user_key)"),
    Rule("user_key_compare", "a user_key may only be compared for equality with another user_key",
         "join on user_key instead of comparing it with a value; to drop missing ids "
         "(user_id != '0'), user_key IS NOT NULL"),
    Rule("user_key_transform", "a user_key may not be transformed, cast or passed to a function",
         "use user_key only in joins, GROUP BY of a per-user subquery, PARTITION BY and "
         "COUNT(DISTINCT user_key)"),
    Rule("user_key_aggregate", "a user_key may only be aggregated with COUNT(DISTINCT ...)",
         "use COUNT(DISTINCT user_key)"),
    Rule("metric_output", "a metric may reach the output only through SUM, AVG or COUNT",
         "wrap the metric in SUM(...) or AVG(...)"),
    Rule("metric_transform", "a metric may only be combined with + - * / with other metrics or "
         "constants, and filtered on in conditions", "compute with SUM/AVG, or filter in WHERE"),
    Rule("metric_case_default", "a CASE that yields a metric outside an aggregate across people "
         "must leave other rows NULL or 0, so the gate can count who stands behind the aggregate",
         "use ELSE 0 or no ELSE, put the CASE inside the final SUM(...), or use "
         "SUM(metric) FILTER (WHERE condition)"),
    Rule("metric_group_key", "a metric may not be a group key (its values would be output)",
         "bucket it in a CASE with constant labels, or aggregate it"),
    Rule("member_aggregate", "this aggregate can return one person's value (ANY_VALUE, FIRST, "
         "ARG_MAX, LIST, STRING_AGG, HISTOGRAM, MODE, ...; MIN and MAX inside a CTE or "
         "subquery) and is allowed only inside a per-user subquery (GROUP BY user_key)",
         "use COUNT, SUM or AVG across people; MIN or MAX in the final SELECT (an order "
         "statistic, released when at least min_users_per_row people hold the value); for a "
         "spread, MEDIAN or QUANTILE_CONT(x, p) (round x to make ties); in a CTE, a first or "
         "last date as QUANTILE_DISC(date_trunc('day', ts), 0.0) or 1.0"),
    Rule("not_summable", "SUM, AVG, STDDEV and VARIANCE across people take metrics, per-person "
         "counts, ranks, durations between timestamps (date_diff), 0/1 indicators and, written "
         "inside the aggregate, values with a bounded public range (weights, scaled metrics); "
         "other values computed from rows could single out a few people by their size",
         "count with COUNT(...) FILTER (WHERE ...), use CASE WHEN ... THEN 1 ELSE 0 END, "
         "write a CASE of weights inside the final SUM(...) rather than in a CTE, or "
         "GROUP BY the value instead"),
    Rule("distinct_aggregate", "SUM or AVG over DISTINCT values is not allowed",
         "aggregate all values, or use COUNT(DISTINCT ...)"),
    Rule("not_aggregated", "the output would contain row-level values; every output row must be "
         "an aggregate over enough people", "GROUP BY dimensions and aggregate the rest"),
    Rule("not_grouped", "a column in an aggregated SELECT must be a group key or inside an "
         "aggregate", "add it to GROUP BY or aggregate it"),
    Rule("cross_user_window", "a window over people's rows must be PARTITION BY user_key",
         "add PARTITION BY user_key, or aggregate first and window over the aggregates; a "
         "running count is SELECT DISTINCT key, COUNT(x) OVER (ORDER BY key) FROM rows, "
         "ordered and partitioned by output keys only"),
    Rule("window_after_aggregate", "window functions cannot run over the groups of an "
         "aggregation of people's rows: they would see groups that are later suppressed",
         "aggregate in a CTE (it is thresholded), then apply the window in the next SELECT"),
    Rule("join_not_on_user_key", "joins between people's rows must include user_key = user_key",
         "join ON a.user_key = b.user_key (other conditions may follow with AND)"),
    Rule("mixed_join", "people's rows cannot be joined with aggregated rows, nor with a "
         "constant list other than as a lookup", "aggregate both sides first, or join people's "
         "rows on user_key; join aggregated rows as people's rows [LEFT] JOIN agg ON "
         "people_value = agg.key for every GROUP BY key agg outputs; join a constant list as "
         "people's rows [LEFT] JOIN (VALUES ...) v(key, label) ON people_column = v.key, with "
         "distinct keys"),
    Rule("join_type", "NATURAL, ASOF, POSITIONAL, SEMI, ANTI and LATERAL joins are not supported",
         "use [LEFT|RIGHT|FULL] JOIN ... ON a.user_key = b.user_key"),
    Rule("scalar_subquery", "a scalar subquery must aggregate across people (it is thresholded "
         "like any output row)", "aggregate inside the subquery"),
    Rule("subquery_predicate", "EXISTS and IN (subquery) are allowed only as user_key IN "
         "(a subquery that returns its own user_key, and may refer to the enclosing row) or a "
         "value IN (an aggregated subquery)", "rewrite EXISTS (SELECT ... WHERE c.user_key = "
         "i.user_key AND cond) as i.user_key IN (SELECT c.user_key FROM ... WHERE cond), or "
         "join on user_key"),
    Rule("set_operation", "set operations must combine like with like; UNION, INTERSECT and "
         "EXCEPT of people's rows must carry user_key", "project user_key in every branch"),
    Rule("aggregate_set_comparison", "UNION, INTERSECT and EXCEPT without ALL compare rows of "
         "aggregates across people: whether two thresholded numbers are equal tells whether they "
         "differ by a chosen amount, which may be a few people", "use UNION ALL, or join the "
         "aggregations on their group keys; compare the numbers outside the query"),
    Rule("set_column_type", "the gate cannot tell the one type a set operation gives this "
         "column, which an expression or a filter over the set operation reads",
         "cast the column to one type in every branch, e.g. CAST(MEDIAN(cost) AS DOUBLE)"),
    Rule("recursive_cte", "recursive CTEs are not allowed", "write the query without recursion"),
    Rule("function_not_allowed", "the function is not on the gate's allow-list",
         "see docs/gate-rules.md for the functions you can use"),
    Rule("unsupported_syntax", "this SQL construct is not supported by the gate (it fails closed)",
         "rewrite the query with plain SELECT, JOIN, WHERE, GROUP BY, HAVING, ORDER BY, LIMIT"),
    Rule("grouping_sets", "GROUPING SETS, ROLLUP and CUBE are not supported",
         "run one query per grouping, or UNION ALL them"),
    Rule("aggregate_in_where", "aggregates cannot appear in WHERE, JOIN or GROUP BY",
         "move the condition to HAVING"),
    Rule("limit_not_constant", "LIMIT and OFFSET must be integer constants", "use a number"),
    Rule("limit_on_rows", "LIMIT and OFFSET cannot pick people's rows (they would select "
         "individuals); they apply to aggregated results only",
         "rank rows per person with ROW_NUMBER() OVER (PARTITION BY user_key ...) instead"),
    Rule("interval_not_constant", "an INTERVAL must be a non-zero constant",
         "write INTERVAL 7 DAY or INTERVAL '7 days'"),
    Rule("function_argument", "this function argument must be a small constant",
         "use a constant within the stated limit"),
    Rule("epsilon_not_allowed", "the request asks for an epsilon the policy does not allow",
         "ask for an epsilon within max_epsilon_per_query, or none if DP is off"),
    Rule("dp_unsupported", "under differential privacy only COUNT, COUNT(DISTINCT user_key), "
         "and SUM and AVG of values with a finite public range, with GROUP BY over one "
         "per-person table or join, are supported",
         "simplify the query, clamp a summed value with LEAST(GREATEST(x, low), high), or run "
         "it without epsilon where the policy allows"),
    # Requests that are not free SQL: attribution models and the built-in analytics.
    Rule("unknown_model", "the attribution model is not one of the built-in models",
         "use first_touch, last_touch, linear, time_decay, position_based, markov or shapley"),
    Rule("unknown_dataset", "the request names a dataset this collaboration does not have",
         "use one of the collaboration's dataset names"),
    Rule("dimension_not_allowed", "the column cannot be credited or grouped on here (it is not "
         "a dimension, it is the timestamp, or it has the wrong type)",
         "name a dimension column of the dataset (a VARCHAR one for paths)"),
    Rule("not_a_metric", "the column is not a metric of the dataset, or the dataset has no "
         "single metric to default to", "name a metric column with 'metric' or 'revenue'"),
    Rule("no_timestamp", "the dataset has no single TIMESTAMP or DATE dimension (or none named "
         "ts among several)", "give the dataset one timestamp dimension, or name it ts"),
    Rule("bad_lookback", "lookback_days must be a number of days in (0, 3660]",
         "use a positive lookback such as 30"),
    Rule("bad_option", "a model option is out of range (half_life_days in (0, 3660], order "
         "in 1..4)", "use an option within the stated range"),
    Rule("invalid_field", "a field of the request body is missing, of the wrong type or out of "
         "range", "fix the named field; unknown fields are refused"),
    # Running: the query was accepted and failed in the engine (query_failed).
    Rule("timeout", "the query ran over the time limit", "narrow the query or aggregate earlier"),
    Rule("memory", "the query ran out of its memory limit", "narrow the query or aggregate earlier"),
    Rule("runtime", "the query failed in the engine (no detail: engine messages can quote data)",
         "check types and arguments; the query is correct but failed on the data"),
    Rule("too_many_rows", "the result has more rows on min_users_per_row people "
         "than the row cap (rows on fewer are withheld, not counted)",
         "add LIMIT, or group more coarsely"),
    Rule("not_uploaded", "the request reads a dataset that its provider has not uploaded yet",
         "wait for the upload (cleanroom datasets -c C lists what is uploaded), or leave the "
         "dataset out"),
    Rule("attribution", "the attribution model cannot run on this data (for Markov: too many "
         "states)", "lower the Markov order, or narrow the touchpoints"),
    # Uploads (invalid_upload).
    Rule("content_type", "an upload must be CSV or Parquet",
         "send Content-Type text/csv or application/vnd.apache.parquet"),
    Rule("empty", "the upload's body is empty", "send the whole dataset"),
    Rule("too_large", "the upload's body is over the size limit", "split or compress the data "
         "(Parquet)"),
    Rule("empty_header", "the CSV has no header row", "add a header row naming the columns"),
    Rule("duplicate_column", "a column name appears twice in the upload", "rename the column"),
    Rule("unreadable", "the body is not a readable CSV or Parquet file", "check the file"),
    Rule("missing_column", "a column of the policy's dataset is missing from the upload",
         "add the column (every column of the policy's dataset)"),
    Rule("bad_user_key", "a user_key is not a 64-character lower-case hex pseudonym",
         "pseudonymize with cleanroom hash"),
    Rule("bad_value", "a value does not parse as its column's type", "fix the named rows"),
    Rule("bad_fingerprint", "the X-Cleanroom-Salt-Fingerprint header is not 16 hex characters",
         "send the fingerprint that cleanroom hash printed, or no header"),
    Rule("salt_mismatch", "the upload was pseudonymized with another salt than the one recorded "
         "for the collaboration (its fingerprint differs); the current version is kept",
         "hash the data again with the collaboration's shared salt file"),
    Rule("stored_data_damaged", "a stored dataset version is missing or does not match the "
         "checksum written when it was published; nothing was read from it",
         "ask the dataset's provider to upload it again (or restore an earlier version)"),
    Rule("distinct_values", "across people, COUNT(DISTINCT ...) and approx_count_distinct count "
         "only user_keys: a count of distinct other values says whether a value that one person "
         "holds exists", "COUNT(DISTINCT user_key), or GROUP BY the value and count the groups "
         "that are released"),
    Rule("unit_not_constant", "a date part, unit, interval or format must be a constant the "
         "query spells out; a column there would be read per row or silently taken for a "
         "keyword", "write the unit as a quoted constant: date_trunc('day', ts), "
         "extract(hour FROM ts), time_bucket(INTERVAL 1 DAY, ts)"),
)

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}


def violation(code: str, detail: str | None = None, *, line: int | None = None,
              col: int | None = None) -> Violation:
    """A violation of ``code``; ``detail`` names what in the SQL broke it (never data).

    >>> violation("user_key_output", "user_key").message
    'a user_key may not reach the output: user_key'
    """
    rule = RULES[code]
    message = rule.summary if detail is None else f"{rule.summary}: {detail}"
    return Violation(code, message, line=line, col=col, hint=rule.hint)


def render_markdown() -> str:
    """docs/gate-rules.md: every rule code, then the functions the gate allows."""
    lines = ["# Gate rule codes", "",
             ("Generated by `python -m cleanroom.gate.rules > docs/gate-rules.md`; the model "
              "behind the rules is in [gate.md](gate.md)."), "",
             "| code | meaning | how to fix |", "| --- | --- | --- |"]
    lines += [f"| `{r.code}` | {r.summary} | {r.hint} |" for r in _RULES]
    return "\n".join(lines + ["", *_function_lists()]) + "\n"


def _function_lists() -> list[str]:
    from cleanroom.gate import functions

    groups = (("Scalar functions (over dimensions, and over aggregates in the output)",
               functions.SCALAR_SAMPLES),
              ("Aggregates across people", functions.SAFE_AGGREGATE_SAMPLES),
              ("Aggregates inside a per-user SELECT (GROUP BY user_key) or over thresholded rows",
               functions.PER_USER_AGGREGATE_SAMPLES),
              ("Window functions (PARTITION BY user_key, or over thresholded rows)",
               functions.WINDOW_ONLY_SAMPLES))
    lines = ["# Allowed functions", "",
             ("Anything not listed is refused (`function_not_allowed`). Each entry is the "
              "sample SQL the allow-list is built from."), ""]
    for title, samples in groups:
        items = sorted({s.strip() for s in samples.split(";") if s.strip()})
        lines += [f"## {title}", "", ", ".join(f"`{i}`" for i in items), ""]
    return lines


if __name__ == "__main__":
    print(render_markdown(), end="")
