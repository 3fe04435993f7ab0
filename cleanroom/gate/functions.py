"""The gate's allow-lists, written as sample SQL so they read like the SQL analysts write.

Each sample is parsed once with sqlglot; the function node it yields (a class such as
``TimestampTrunc``, or ``Anonymous`` with a name) is what the gate allows. Anything else is
refused: an allow-list, never a deny-list.

>>> function_key(sqlglot.parse_one("select date_trunc('day', ts)", read="duckdb").selects[0])
'TimestampTrunc'
>>> 'histogram' in PER_USER_AGGREGATES or 'Anonymous:histogram' in PER_USER_AGGREGATES
False
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

# Scalar functions over dimensions (and over aggregates in the output). None of them may take
# a user_key; metrics may pass only through + - * / (see analyse.py).
SCALAR_SAMPLES = """
lower(x); upper(x); length(x); substr(x, 1, 2); substring(x, 1, 2); concat(x, y); concat_ws('-', x, y);
trim(x); ltrim(x); rtrim(x); replace(x, 'a', 'b'); strpos(x, 'a'); left(x, 2); right(x, 2);
lpad(x, 3, '0'); rpad(x, 3, '0'); split_part(x, '-', 1); regexp_extract(x, 'a'); regexp_replace(x, 'a', 'b');
regexp_matches(x, 'a'); starts_with(x, 'a'); ends_with(x, 'a'); contains(x, 'a'); reverse(x);
md5(x);
coalesce(x, y); nullif(x, y); ifnull(x, y); greatest(x, y); least(x, y);
abs(x); round(x, 2); floor(x); ceil(x); ceiling(x); sqrt(x); ln(x); log10(x); log2(x); exp(x);
power(x, 2); sign(x);
date_trunc('day', x); date_diff('day', x, y); datediff('day', x, y); date_part('hour', x);
extract(hour from x);
dayofweek(x); dayofmonth(x); dayofyear(x); weekofyear(x); week(x); month(x); year(x); quarter(x);
day(x); hour(x);
minute(x); isodow(x); yearweek(x); strftime(x, '%Y'); try_strptime(x, '%Y'); epoch(x); epoch_ms(x);
epoch_us(x); to_timestamp(x);
date_add(x, INTERVAL 1 DAY); current_date; now(); current_timestamp; last_day(x); monthname(x); dayname(x);
time_bucket(INTERVAL 1 DAY, x); make_date(x, y, z); age(x, y);
len(x); array_length(x); cardinality(x); list_distinct(x); list_sort(x); array_to_string(x, '>');
list_slice(x, 1, 2);
list_has(x, y); list_contains(x, y); list_unique(x); list_reverse(x); list_extract(x, 1); list_element(x, 1);
list_value(x, y); array_value(x, y); list_position(x, y); flatten(x);
{'a': x, 'b': y}
"""

# Aggregates that cannot return one person's value: allowed across people.
SAFE_AGGREGATE_SAMPLES = """count(x); sum(x); avg(x); mean(x); approx_count_distinct(x); count_if(x);
stddev_pop(x); stddev_samp(x); stddev(x); var_pop(x); var_samp(x); variance(x); skewness(x);
kurtosis(x)"""

# Everything allowed inside a per-user aggregation (GROUP BY user_key), where values stay with
# their own person.
PER_USER_AGGREGATE_SAMPLES = SAFE_AGGREGATE_SAMPLES + """;
min(x); max(x); arg_min(x, y); arg_max(x, y); min_by(x, y); max_by(x, y); first(x); last(x);
any_value(x); list(x); array_agg(x); string_agg(x, '>'); group_concat(x, '>'); listagg(x, '>');
bool_or(x); bool_and(x); median(x); mode(x); quantile_cont(x, 0.5); quantile_disc(x, 0.5);
quantile(x, 0.5)
"""

# Per-user aggregates that return one of their argument's values: the result keeps its kind.
VALUE_AGGREGATE_SAMPLES = """
min(x); max(x); arg_min(x, y); arg_max(x, y); min_by(x, y); max_by(x, y); first(x); last(x);
any_value(x); median(x); mode(x); quantile_cont(x, 0.5); quantile_disc(x, 0.5); quantile(x, 0.5)
"""

WINDOW_ONLY_SAMPLES = """
row_number(); rank(); dense_rank(); percent_rank(); cume_dist(); ntile(4); lag(x); lead(x);
lag(x, 1); lead(x, 1); first_value(x); last_value(x); nth_value(x, 2)
"""


def function_key(node: exp.Expr) -> str:
    """The allow-list key of a function node: its class name, or ``Anonymous:name``."""
    node = unwrap_nulls(node)
    if isinstance(node, exp.Anonymous):
        return f"Anonymous:{str(node.name).lower()}"
    return type(node).__name__


def function_name(node: exp.Expr) -> str:
    """The function's name as an analyst writes it, for messages.

    >>> function_name(sqlglot.parse_one("SELECT max(x)").selects[0])
    'max'
    """
    node = unwrap_nulls(node)
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower() if isinstance(node, exp.Func) else type(node).__name__.lower()


def unwrap_nulls(node: exp.Expr) -> exp.Expr:
    """``any_value(x)`` parses as IgnoreNulls(AnyValue(x)): the function is the inner node."""
    while isinstance(node, (exp.IgnoreNulls, exp.RespectNulls)):
        node = node.this
    return node


def _keys(samples: str) -> frozenset[str]:
    keys: set[str] = set()
    for sample in filter(None, (s.strip() for s in samples.split(";"))):
        select = sqlglot.parse_one(f"SELECT {sample}", read="duckdb")
        assert isinstance(select, exp.Select)
        node = select.selects[0]
        keys.add(function_key(node))
    return frozenset(keys)


SCALAR_FUNCTIONS = _keys(SCALAR_SAMPLES)
SAFE_AGGREGATES = _keys(SAFE_AGGREGATE_SAMPLES)
PER_USER_AGGREGATES = _keys(PER_USER_AGGREGATE_SAMPLES)
WINDOW_FUNCTIONS = _keys(WINDOW_ONLY_SAMPLES)

VALUE_AGGREGATES = _keys(VALUE_AGGREGATE_SAMPLES)

# Window functions whose result is a position among a person's rows (a count, summable).
RANKING_WINDOWS = _keys("row_number(); rank(); dense_rank(); ntile(4)")
# Window functions that return another row's value: the result keeps the argument's kind.
VALUE_WINDOWS = _keys("lag(x); lead(x); lag(x, 1); first_value(x); last_value(x); nth_value(x, 2)")

# Transforms that keep a timestamp a timestamp of the same event (so it stays a DIM).
TIME_PRESERVING = _keys("date_trunc('day', x); time_bucket(INTERVAL 1 DAY, x); last_day(x)")
# Durations between two timestamps: summable when both are DIMs or constants.
DURATIONS = _keys("date_diff('day', x, y); datediff('day', x, y)")
# Functions whose INTERVAL is a width: DuckDB raises on a width <= 0, and only when a row
# reaches it (an existence oracle), so there it must be positive.
WIDTHS = _keys("time_bucket(INTERVAL 1 DAY, x)")
# Functions whose size argument could exhaust memory: it must be a small constant.
PADDING = _keys("lpad(x, 3, '0'); rpad(x, 3, '0')")
MAX_PAD = 1000

# Aggregates across people over numbers: their arguments must be summable, and every part of
# them stand on nobody or on enough people (``parts.py``).
# Every numeric aggregate of SAFE_AGGREGATE_SAMPLES: STDDEV (DuckDB's STDDEV_SAMP, its own node)
# was missing, so its argument skipped these rules (a clamp window decoded one revenue).
NUMERIC_AGGREGATES = _keys("sum(x); avg(x); mean(x); stddev_pop(x); stddev_samp(x); stddev(x); "
                           "var_pop(x); var_samp(x); variance(x); skewness(x); kurtosis(x)")
# Their finalisation raises (OutOfRange, no TRY around an aggregate) on a non-finite moment.
MOMENTS = _keys("skewness(x); kurtosis(x)")
SPREADS = _keys("stddev_pop(x); stddev_samp(x); stddev(x); var_pop(x); var_samp(x); variance(x)")

# Order statistics: across people released only when at least k people hold the value returned
# (``aggregates._quantile``); their fraction must be one constant in [0, 1].
QUANTILES = _keys("median(x); quantile_cont(x, 0.5); quantile_disc(x, 0.5); quantile(x, 0.5)")
# MIN(x) is QUANTILE_DISC(x, 0.0) and MAX(x) QUANTILE_DISC(x, 1.0) (NULLs ignored, an empty
# group NULL): across people the same order statistics, released under the same holders check.
EXTREMES = _keys("min(x); max(x)")

# Aggregates whose result is a count: a per-user count is an ordinary groupable value
# (frequency), never a metric.
COUNT_AGGREGATES = _keys("count(x); approx_count_distinct(x); count_if(x)")
