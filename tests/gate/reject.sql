-- Queries the gate must refuse, each with the rule codes it must raise (all of them listed,
-- each with a message, a line, a column and a hint). Header lines:
--   -- name: <id>
--   -- expect: rule_code[, rule_code ...]

-- name: syntax
-- expect: syntax_error
SELECT channel FROM WHERE;

-- name: too_large
-- expect: query_too_large
SELECT {{PARENS_100}} AS x;

-- name: two_statements
-- expect: multiple_statements
SELECT 1; SELECT 2;

-- name: not_select
-- expect: not_a_select
DELETE FROM conversions;

-- name: reserved_name
-- expect: reserved_identifier
SELECT COUNT(*) AS __cr_n FROM impressions;

-- name: unknown_table
-- expect: unknown_table
SELECT COUNT(*) FROM purchases;

-- name: table_function
-- expect: table_function
SELECT COUNT(*) FROM read_csv('/etc/passwd');

-- name: unknown_column
-- expect: unknown_column
SELECT SUM(price) FROM conversions;

-- name: ambiguous_column
-- expect: ambiguous_column
SELECT COUNT(*) FROM impressions i JOIN conversions c ON i.user_key = c.user_key WHERE ts > '2026-09-01';

-- name: banned_column
-- expect: banned_column
SELECT COUNT(DISTINCT order_id) FROM conversions;

-- name: whole_row
-- expect: whole_row
SELECT COUNT(DISTINCT i) FROM impressions i;

-- name: columns_expression
-- expect: columns_expression
SELECT COUNT(COLUMNS('.*')) FROM impressions;

-- name: user_key_output
-- expect: user_key_output
SELECT user_key FROM impressions;

-- name: user_key_compare
-- expect: user_key_compare
SELECT COUNT(*) FROM impressions WHERE user_key < '8';

-- name: user_key_transform
-- expect: user_key_transform
SELECT COUNT(DISTINCT lower(user_key)) FROM impressions;

-- name: user_key_aggregate
-- expect: user_key_aggregate
WITH u AS (SELECT user_key, string_agg(user_key, ',') AS ks FROM impressions GROUP BY user_key)
SELECT COUNT(*) FROM u;

-- name: metric_output
-- expect: metric_output
SELECT cost FROM impressions;

-- name: metric_transform
-- expect: metric_transform
SELECT SUM(round(revenue)) FROM conversions;

-- name: metric_case_default
-- expect: metric_case_default
WITH r AS (SELECT user_key, CASE WHEN revenue > 100 THEN revenue ELSE 5 END AS v FROM conversions)
SELECT SUM(v) FROM r;

-- name: metric_group_key
-- expect: metric_group_key
SELECT cost, COUNT(*) FROM impressions GROUP BY cost;

-- name: member_aggregate
-- expect: member_aggregate
SELECT channel, ANY_VALUE(cost) FROM impressions GROUP BY channel;

-- name: not_summable
-- expect: not_summable
SELECT SUM(length(campaign)) FROM impressions;

-- name: distinct_aggregate
-- expect: distinct_aggregate
SELECT AVG(DISTINCT revenue) FROM conversions;

-- name: not_aggregated
-- expect: not_aggregated
SELECT channel FROM impressions;

-- name: not_grouped
-- expect: not_grouped
SELECT channel, campaign, COUNT(*) FROM impressions GROUP BY channel;

-- name: cross_user_window
-- expect: cross_user_window
WITH t AS (SELECT channel, ROW_NUMBER() OVER (ORDER BY ts) AS rn FROM impressions)
SELECT channel, COUNT(*) FROM t WHERE rn < 100 GROUP BY channel;

-- name: window_after_aggregate
-- expect: window_after_aggregate
SELECT channel, COUNT(*) * 1.0 / SUM(COUNT(*)) OVER () AS share FROM impressions GROUP BY channel;

-- name: join_not_on_user_key
-- expect: join_not_on_user_key
SELECT COUNT(*) FROM impressions i JOIN conversions c ON i.ts = c.ts;

-- name: mixed_join
-- expect: mixed_join
WITH totals AS (SELECT channel, campaign, COUNT(*) AS n FROM impressions GROUP BY channel, campaign)
SELECT COUNT(*) FROM impressions i JOIN totals t ON i.channel = t.channel;

-- name: join_type
-- expect: join_type
SELECT COUNT(*) FROM impressions i ASOF JOIN conversions c ON i.user_key = c.user_key AND i.ts <= c.ts;

-- name: scalar_subquery
-- expect: scalar_subquery
SELECT COUNT(*) FROM conversions WHERE revenue > (SELECT revenue FROM conversions);

-- name: subquery_predicate
-- expect: subquery_predicate
SELECT COUNT(*) FROM impressions i WHERE EXISTS (SELECT 1 FROM conversions c WHERE c.revenue > 0);

-- name: set_operation
-- expect: set_operation
SELECT COUNT(*) FROM (SELECT channel FROM impressions UNION SELECT channel FROM impressions);

-- name: inner_intersect_of_two_counts
-- expect: aggregate_set_comparison
WITH a AS (SELECT COUNT(DISTINCT user_key) - 7 AS n FROM impressions INTERSECT SELECT COUNT(DISTINCT user_key) FROM impressions WHERE channel <> 'x') SELECT COUNT(*) AS k FROM a;

-- name: union_of_two_aggregations_counted
-- expect: aggregate_set_comparison
SELECT COUNT(*) AS k FROM (SELECT SUM(revenue) - 700 AS s FROM conversions UNION SELECT SUM(revenue) FILTER (WHERE revenue < 700) FROM conversions);

-- name: final_except_of_aggregated_keys
-- expect: aggregate_set_comparison
WITH a AS (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY 1) SELECT channel FROM a EXCEPT SELECT campaign FROM impressions GROUP BY 1;

-- name: set_column_type
-- expect: set_column_type
WITH u AS (SELECT 'a' AS k, COUNT(DISTINCT user_key)::DECIMAL(12, 2) AS n FROM impressions UNION ALL SELECT 'b', COUNT(*) FROM impressions) SELECT k, n // 7 AS s FROM u;

-- name: recursive_cte
-- expect: recursive_cte
WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT COUNT(*) FROM r;

-- name: function_not_allowed
-- expect: function_not_allowed
SELECT channel, COUNT(*) FROM impressions WHERE getenv('HOME') IS NOT NULL GROUP BY channel;

-- name: unsupported_syntax
-- expect: unsupported_syntax
SELECT channel, COUNT(*) FROM impressions TABLESAMPLE 10% GROUP BY channel;

-- name: grouping_sets
-- expect: grouping_sets
SELECT channel, COUNT(*) FROM impressions GROUP BY CUBE (channel);

-- name: aggregate_in_where
-- expect: aggregate_in_where
SELECT channel FROM impressions WHERE COUNT(*) > 10 GROUP BY channel;

-- name: limit_not_constant
-- expect: limit_not_constant
SELECT channel, COUNT(*) FROM impressions GROUP BY channel LIMIT 1 + 1;

-- name: limit_on_rows
-- expect: limit_on_rows
SELECT COUNT(*) FROM (SELECT user_key FROM impressions LIMIT 100);

-- name: interval_not_constant
-- expect: interval_not_constant
SELECT COUNT(*) FROM impressions WHERE ts > now() - INTERVAL (length(channel)) DAY;

-- name: function_argument
-- expect: function_argument
SELECT lpad(channel, 100000, '-') AS c, COUNT(*) FROM impressions GROUP BY 1;

-- name: several_violations_listed
-- expect: user_key_output, banned_column, function_not_allowed, join_not_on_user_key
SELECT i.user_key, histogram(c.revenue), COUNT(DISTINCT c.order_id)
FROM impressions i
JOIN conversions c ON i.ts < c.ts
GROUP BY i.user_key;

-- name: case_insensitive_banned
-- expect: banned_column
SELECT COUNT(DISTINCT "IP_HASH") FROM Impressions;

-- name: mixed_case_user_key_compare
-- expect: user_key_compare
SELECT COUNT(*) FROM impressions WHERE "USER_KEY" = 'abc';

-- name: alias_to_user_key_in_order
-- expect: user_key_compare
WITH t AS (SELECT user_key AS k, channel FROM impressions ORDER BY k) SELECT channel, COUNT(*) FROM t GROUP BY channel;

-- name: star_expands_to_user_key
-- expect: user_key_output, metric_output, not_aggregated
SELECT * FROM impressions;

-- name: per_user_metric_list_indexed
-- expect: metric_transform
WITH u AS (SELECT user_key, list(revenue) AS l FROM conversions GROUP BY user_key) SELECT l[1], COUNT(*) FROM u GROUP BY 1;

-- name: window_in_final_over_groups_qualify
-- expect: window_after_aggregate
SELECT channel, COUNT(*) FROM impressions GROUP BY channel QUALIFY RANK() OVER (ORDER BY COUNT(*)) <= 3;

-- name: distinct_with_group_by_key_not_output
-- expect: unsupported_syntax
SELECT DISTINCT COUNT(*) FROM impressions GROUP BY channel;

-- name: metric_scaled_before_aggregating
-- expect: metric_transform
WITH u AS (SELECT user_key, SUM(CASE WHEN revenue > 500 THEN revenue * 1.2 ELSE revenue END) AS v
           FROM conversions GROUP BY user_key)
SELECT SUM(v) FROM u;

-- name: date_diff_of_computed_timestamp
-- expect: not_summable
SELECT AVG(date_diff('day', TIMESTAMP '2026-01-01', make_date(2026, length(channel), 1))) FROM impressions;

-- name: inverse_of_duration
-- expect: not_summable
SELECT SUM(1.0 / date_diff('second', ts, TIMESTAMP '2026-10-01')) FROM impressions;

-- name: count_scaled_before_summing
-- expect: not_summable
WITH u AS (SELECT user_key, COUNT(*) AS n FROM impressions GROUP BY user_key) SELECT SUM(n * 1000) FROM u;

-- stream: structure

-- name: comma_join_without_user_key_equality
-- expect: join_not_on_user_key
SELECT COUNT(*) FROM impressions a, conversions b
WHERE a.ts < b.ts;

-- name: unit_date_trunc_column
-- stream: values
-- expect: unit_not_constant
SELECT date_trunc(campaign, ts) AS d, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: unit_date_trunc_expression
-- expect: unit_not_constant
SELECT date_trunc(lower(campaign), ts) AS d, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: unit_date_part_column
-- expect: unit_not_constant
SELECT date_part(channel, ts) AS d, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: unit_extract_user_key
-- expect: unit_not_constant
SELECT extract(user_key FROM ts) AS d, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: unit_date_diff_column
-- expect: unit_not_constant
SELECT AVG(date_diff(campaign, i.ts, c.ts)) AS d FROM impressions i JOIN conversions c USING (user_key);

-- name: unit_time_bucket_column
-- expect: unit_not_constant
SELECT time_bucket(channel, ts) AS d, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: unit_strftime_column_format
-- expect: unit_not_constant
SELECT strftime(ts, channel) AS d, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: unit_date_part_list_with_column
-- expect: unit_not_constant
SELECT date_part(['year', campaign], ts) AS d, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: metric_scaled_by_branch_in_cte
-- expect: metric_transform
WITH r AS (SELECT user_key, CASE WHEN channel = 'search' THEN cost * 1000000 ELSE cost END AS v
           FROM impressions)
SELECT SUM(v) FROM r;

-- name: metric_terms_of_different_scales_in_cte
-- expect: metric_transform
WITH r AS (SELECT user_key, cost * 1000000 + cost AS v FROM impressions)
SELECT SUM(v) FROM r;

-- name: metric_divided_by_metric
-- expect: metric_transform
SELECT SUM(c.revenue / i.cost) AS x FROM conversions c JOIN impressions i USING (user_key);

-- name: two_other_branches_summed_later
-- expect: not_summable
WITH r AS (SELECT user_key, CASE WHEN channel = 'search' THEN 1000000
                                 WHEN channel = 'video' THEN date_diff('day', ts, TIMESTAMP '2026-10-01')
                                 ELSE date_diff('hour', ts, TIMESTAMP '2026-10-01') END AS v FROM impressions)
SELECT SUM(v) FROM r;

-- name: average_of_carried_weights_summed_later
-- expect: not_summable
WITH r AS (SELECT user_key, CASE WHEN channel = 'search' THEN 1000000 ELSE 1 END AS v FROM impressions),
     u AS (SELECT user_key, AVG(v) AS a FROM r GROUP BY user_key)
SELECT SUM(a) FROM u;

-- name: carried_weight_times_metric
-- expect: metric_transform
WITH r AS (SELECT user_key, revenue, CASE WHEN revenue > 500 THEN 1000000 ELSE 1 END AS f FROM conversions)
SELECT SUM(revenue * f) FROM r;

-- name: union_of_two_scales_summed
-- expect: not_summable
WITH r AS (SELECT user_key, 1000000 AS v FROM impressions WHERE channel = 'search'
           UNION ALL SELECT user_key, 1 AS v FROM impressions WHERE channel <> 'search')
SELECT SUM(v) FROM r;

-- name: shifted_duration_summed_later
-- expect: not_summable
WITH d AS (SELECT i.user_key, date_diff('day', i.ts, c.ts + INTERVAL 1000000 DAY) AS dd
           FROM impressions i JOIN conversions c ON i.user_key = c.user_key AND i.campaign = 'x')
SELECT SUM(dd) FROM d;

-- name: per_user_sum_of_two_constants
-- expect: not_summable
WITH u AS (SELECT user_key, SUM(CASE WHEN campaign = 'x' THEN date_diff('day', ts, ts + INTERVAL 1000000 DAY)
                                     ELSE date_diff('day', ts, ts + INTERVAL 1 DAY) END) AS s
           FROM impressions GROUP BY user_key)
SELECT SUM(s) FROM u;

-- name: per_user_sum_of_fractions_is_no_count
-- expect: not_summable
WITH u AS (SELECT user_key, SUM(0.001) AS s FROM impressions GROUP BY user_key)
SELECT SUM(1.0 / s) FROM u;

-- name: window_argument_scaled_by_branch
-- expect: metric_transform
WITH t AS (SELECT user_key, SUM(CASE WHEN channel = 'x' THEN cost * 1000 ELSE cost END)
                  OVER (PARTITION BY user_key) AS s FROM impressions)
SELECT SUM(s) FROM t;

-- name: union_of_carried_weights_summed
-- expect: not_summable
WITH r AS (SELECT user_key, CASE WHEN channel = 'search' THEN 0.4 ELSE 0.2 END AS v FROM impressions
           UNION ALL SELECT user_key, CASE WHEN channel = 'video' THEN 0.4 ELSE 0.2 END AS v FROM impressions)
SELECT SUM(v) FROM r;

-- name: distinct_values_of_a_label
-- expect: distinct_values
-- (2 when anyone's revenue lies in the window: a bit on one person)
SELECT COUNT(DISTINCT CASE WHEN revenue >= 777 AND revenue < 778 THEN 'a' ELSE 'b' END) AS n
FROM conversions

-- name: interval_of_two_parts
-- expect: interval_not_constant
-- (a width of '1 day -24 hour' is zero: time_bucket raises only when a row reaches it)
SELECT time_bucket(INTERVAL '1 day -24 hour', ts) AS d, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: struct_of_a_user_key
-- expect: user_key_transform
SELECT {'k': user_key} AS s, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: struct_of_a_metric_as_group_key
-- expect: metric_transform, metric_group_key
SELECT {'k': cost} AS s, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: list_of_structs_holding_a_user_key
-- expect: user_key_transform
SELECT p, COUNT(*) AS n
FROM (SELECT user_key, list({'c': channel, 'u': user_key}) AS p FROM impressions GROUP BY user_key)
GROUP BY p;

-- name: refused_weight_passed_on_bare_by_a_second_cte
-- expect: metric_transform
-- the weight's CTE does not pass the columns it reads, so no SUM may take it; passed on as it
-- is by a second CTE it stays refused (it once expanded into itself: a RecursionError, a 500)
WITH weighted AS (
  SELECT user_key, cost * CASE WHEN channel = 'search' THEN 0.4 ELSE 0.2 END AS w FROM impressions
),
passed AS (SELECT x.user_key, x.w FROM weighted x)
SELECT SUM(w) AS s FROM passed;

-- name: union_of_a_value_list_and_counts
-- expect: aggregate_set_comparison
-- a branch with an aggregate: the UNION would compare thresholded numbers
SELECT channel, COUNT(*) AS n FROM impressions GROUP BY 1
UNION
SELECT channel, 1 FROM impressions GROUP BY 1;

-- name: intersect_of_value_lists
-- expect: aggregate_set_comparison
-- which keys of one list a withheld row of the other held: INTERSECT and EXCEPT stay refused
SELECT channel FROM impressions GROUP BY 1
INTERSECT
SELECT channel FROM impressions WHERE cost > 90 GROUP BY 1;
