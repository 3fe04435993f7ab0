-- Attacks: each runs through the HTTP service. Whatever the answer, it must not contain a canary
-- the SQL did not contain, a refusal must have the contract's error shape, and nothing may 5xx.
--   -- family: <family of shared/ATTACKS.md>
--   -- expect: rejected   the gate must refuse it (422 query_rejected)
--   -- expect: no_rows    refused, failed, or answered with no released row
-- Placeholders: {{KEY_n}} is canary person n's user_key (100 has the unique revenue 777.77,
-- 101 the huge revenue, 5-7 saw the 3-person campaign, 20-26 the 7-person channel).

-- name: dp_select_user_key
-- family: direct_projection
-- expect: rejected
SELECT user_key FROM conversions;

-- name: dp_select_user_key_impressions
-- family: direct_projection
-- expect: rejected
SELECT user_key, channel FROM impressions;

-- name: dp_banned_ip
-- family: direct_projection
-- expect: rejected
SELECT ip_hash FROM impressions;

-- name: dp_banned_order
-- family: direct_projection
-- expect: rejected
SELECT order_id FROM conversions;

-- name: dp_banned_in_where
-- family: direct_projection
-- expect: rejected
SELECT COUNT(*) FROM conversions WHERE order_id LIKE 'CANARYORDER0000%';

-- name: dp_banned_in_count
-- family: direct_projection
-- expect: rejected
SELECT COUNT(DISTINCT ip_hash) FROM impressions;

-- name: dp_revenue_rows
-- family: direct_projection
-- expect: rejected
SELECT revenue FROM conversions;

-- name: dp_metric_group_key
-- family: direct_projection
-- expect: rejected
SELECT revenue, COUNT(*) FROM conversions GROUP BY revenue;

-- name: dp_row_level_channel
-- family: direct_projection
-- expect: rejected
SELECT channel, campaign, ts FROM impressions;

-- name: dp_qualified_user_key
-- family: direct_projection
-- expect: rejected
SELECT c.user_key FROM conversions c;

-- name: dp_user_key_group_output
-- family: direct_projection
-- expect: rejected
SELECT user_key, COUNT(*) FROM impressions GROUP BY user_key;

-- name: hp_alias_subquery_group
-- family: hidden_projection
-- expect: rejected
SELECT k FROM (SELECT user_key AS k FROM conversions) GROUP BY k;

-- name: hp_cte
-- family: hidden_projection
-- expect: rejected
WITH x AS (SELECT user_key AS k FROM conversions) SELECT k FROM x;

-- name: hp_cte_column_alias
-- family: hidden_projection
-- expect: rejected
WITH x(k) AS (SELECT user_key FROM conversions) SELECT k, COUNT(*) FROM x GROUP BY k;

-- name: hp_union
-- family: hidden_projection
-- expect: rejected
SELECT channel FROM impressions GROUP BY channel UNION ALL SELECT user_key FROM conversions;

-- name: hp_union_distinct_rows
-- family: hidden_projection
-- expect: rejected
SELECT user_key FROM impressions UNION SELECT user_key FROM conversions;

-- name: hp_nested_subqueries
-- family: hidden_projection
-- expect: rejected
SELECT z FROM (SELECT y AS z FROM (SELECT user_key AS y FROM impressions) a) b;

-- name: hp_revenue_via_cte_min
-- family: hidden_projection
-- expect: rejected
WITH r AS (SELECT user_key, MIN(revenue) AS m FROM conversions GROUP BY user_key) SELECT m FROM r;

-- name: hp_revenue_per_user_group
-- family: hidden_projection
-- expect: rejected
WITH r AS (SELECT user_key, SUM(revenue) AS m FROM conversions GROUP BY user_key)
SELECT m, COUNT(*) FROM r GROUP BY m;

-- name: hp_except_rows
-- family: hidden_projection
-- expect: rejected
SELECT user_key FROM conversions EXCEPT SELECT user_key FROM impressions;

-- name: hp_scalar_subquery_user_key
-- family: hidden_projection
-- expect: rejected
SELECT (SELECT user_key FROM conversions LIMIT 1) AS k;

-- name: hp_in_list_projection
-- family: hidden_projection
-- expect: rejected
SELECT user_key IN (SELECT user_key FROM conversions) AS b FROM impressions;

-- name: hp_union_user_key_with_dimension
-- family: hidden_projection
-- expect: rejected
SELECT k, COUNT(*) FROM (SELECT user_key AS k FROM impressions UNION ALL SELECT channel FROM impressions) GROUP BY k;

-- name: hp_set_op_metric
-- family: hidden_projection
-- expect: rejected
SELECT revenue FROM conversions UNION ALL SELECT cost FROM impressions;

-- name: sh_star
-- family: shorthand
-- expect: rejected
SELECT * FROM conversions;

-- name: sh_star_exclude
-- family: shorthand
-- expect: rejected
SELECT * EXCLUDE (order_id) FROM conversions;

-- name: sh_star_replace
-- family: shorthand
-- expect: rejected
SELECT * REPLACE (1 AS revenue) FROM conversions;

-- name: sh_table_star
-- family: shorthand
-- expect: rejected
SELECT c.* FROM conversions c;

-- name: sh_columns_regex
-- family: shorthand
-- expect: rejected
SELECT COLUMNS('.*') FROM conversions;

-- name: sh_columns_in_aggregate
-- family: shorthand
-- expect: rejected
SELECT MAX(COLUMNS('.*')) FROM conversions;

-- name: sh_columns_star_grouped
-- family: shorthand
-- expect: rejected
SELECT COLUMNS(*), COUNT(*) FROM impressions GROUP BY ALL;

-- name: sh_positional
-- family: shorthand
-- expect: rejected
SELECT user_key, #1 FROM conversions;

-- name: sh_positional_group
-- family: shorthand
-- expect: rejected
SELECT user_key AS k, COUNT(*) FROM conversions GROUP BY #1;

-- name: sh_from_first
-- family: shorthand
-- expect: rejected
FROM conversions;

-- name: sh_from_first_select
-- family: shorthand
-- expect: rejected
FROM conversions SELECT user_key, revenue;

-- name: sh_table_alias_as_column
-- family: shorthand
-- expect: rejected
SELECT c FROM conversions c;

-- name: sh_table_name_as_column
-- family: shorthand
-- expect: rejected
SELECT conversions FROM conversions;

-- name: sh_table_alias_in_group
-- family: shorthand
-- expect: rejected
SELECT c, COUNT(*) FROM conversions c GROUP BY c;

-- name: sh_table_alias_in_function
-- family: shorthand
-- expect: rejected
SELECT to_json(c) FROM conversions c;

-- name: sh_group_by_all_user_key
-- family: shorthand
-- expect: rejected
SELECT user_key, COUNT(*) FROM conversions GROUP BY ALL;

-- name: sh_group_by_all_revenue
-- family: shorthand
-- expect: rejected
SELECT revenue, COUNT(*) FROM conversions GROUP BY ALL;

-- name: sh_star_in_count_distinct
-- family: shorthand
-- expect: rejected
SELECT list_value(*) FROM conversions;

-- name: sh_star_cte_output
-- family: shorthand
-- expect: rejected
WITH x AS (SELECT channel, user_key FROM impressions) SELECT * FROM x;

-- name: ma_max_revenue
-- family: member_aggregate
-- expect: withheld
-- withheld: max(revenue)
-- the maximum is person 101's clamped revenue (the bound): MAX is QUANTILE_DISC(x, 1.0), held by one
SELECT MAX(revenue) FROM conversions;

-- name: ma_min_user_key
-- family: member_aggregate
-- expect: rejected
SELECT MIN(user_key) FROM conversions;

-- name: ma_any_value
-- family: member_aggregate
-- expect: rejected
SELECT any_value(user_key) FROM conversions;

-- name: ma_first
-- family: member_aggregate
-- expect: rejected
SELECT first(revenue) FROM conversions;

-- name: ma_arg_max
-- family: member_aggregate
-- expect: rejected
SELECT arg_max(user_key, revenue) FROM conversions;

-- name: ma_arg_max_campaign
-- family: member_aggregate
-- expect: rejected
SELECT arg_max(campaign, length(campaign)) FROM impressions;

-- name: ma_list
-- family: member_aggregate
-- expect: rejected
SELECT list(revenue) FROM conversions;

-- name: ma_string_agg
-- family: member_aggregate
-- expect: rejected
SELECT string_agg(campaign, ',') FROM impressions;

-- name: ma_histogram
-- family: member_aggregate
-- expect: rejected
SELECT histogram(campaign) FROM impressions;

-- name: ma_mode
-- family: member_aggregate
-- expect: rejected
SELECT mode(revenue) FROM conversions;

-- name: ma_median
-- family: member_aggregate
-- expect: withheld
-- withheld: m
-- a median is one row's value (or the mean of two): released only when at least k people hold it
SELECT median(revenue) AS m FROM conversions;

-- name: ma_quantile
-- family: member_aggregate
-- expect: withheld
-- withheld: q
-- the maximum (person 101's clamped revenue): one person holds it
SELECT quantile_cont(revenue, 1.0) AS q FROM conversions;

-- name: ma_max_in_group
-- family: member_aggregate
-- expect: withheld
-- withheld: max("cost")
-- each channel's top cost is one impression's, held by fewer than k people
SELECT channel, MAX(cost) FROM impressions GROUP BY channel;

-- name: ma_array_agg_distinct
-- family: member_aggregate
-- expect: rejected
SELECT array_agg(DISTINCT campaign) FROM impressions;

-- name: ma_per_user_max_then_max
-- family: member_aggregate
-- expect: withheld
-- withheld: max(m)
-- the per-person MAX is plain; the MAX across people of it is held by person 101 alone
WITH u AS (SELECT user_key, MAX(revenue) AS m FROM conversions GROUP BY user_key)
SELECT MAX(m) FROM u;

-- name: ma_per_user_list_as_group
-- family: member_aggregate
-- expect: no_rows
WITH u AS (SELECT user_key, list(campaign ORDER BY ts) AS l FROM impressions GROUP BY user_key)
SELECT l, COUNT(*) FROM u WHERE list_contains(l, 'CANARYCAMP3') GROUP BY l;

-- name: ma_bool_or
-- family: member_aggregate
-- expect: rejected
SELECT bool_or(revenue > 777) FROM conversions;

-- name: ma_window_max_over_groups
-- family: member_aggregate
-- expect: rejected
SELECT campaign, COUNT(*), MAX(COUNT(*)) OVER () FROM impressions GROUP BY campaign;

-- name: tg_user_key_eq
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM conversions WHERE user_key = '{{KEY_100}}';

-- name: tg_user_key_in_list
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM conversions WHERE user_key IN ('{{KEY_100}}', '{{KEY_101}}');

-- name: tg_user_key_range
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM conversions WHERE user_key BETWEEN '{{KEY_100}}' AND '{{KEY_100}}';

-- name: tg_user_key_gt
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM conversions WHERE user_key > 'f';

-- name: tg_user_key_prefix_like
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM conversions WHERE user_key LIKE 'ab%';

-- name: tg_user_key_starts_with
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM conversions WHERE starts_with(user_key, 'ab');

-- name: tg_user_key_regexp
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM conversions WHERE regexp_matches(user_key, '^ab');

-- name: tg_filter_user_key
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FILTER (WHERE user_key = '{{KEY_100}}') FROM conversions;

-- name: tg_case_user_key
-- family: targeting
-- expect: rejected
SELECT SUM(CASE WHEN user_key = '{{KEY_100}}' THEN revenue END) FROM conversions;

-- name: tg_case_user_key_count_distinct
-- family: targeting
-- expect: rejected
SELECT COUNT(DISTINCT CASE WHEN user_key = '{{KEY_100}}' THEN user_key END) FROM conversions;

-- name: tg_null_safe_eq
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM conversions WHERE user_key IS NOT DISTINCT FROM '{{KEY_100}}';

-- name: tg_having_user_key
-- family: targeting
-- expect: rejected
SELECT COUNT(*) FROM conversions GROUP BY user_key HAVING user_key = '{{KEY_100}}';

-- name: tg_join_on_literal
-- family: targeting
-- expect: rejected
SELECT SUM(c.revenue) FROM conversions c JOIN impressions i
  ON c.user_key = i.user_key AND i.user_key = '{{KEY_100}}';

-- name: tg_cte_literal_key
-- family: targeting
-- expect: rejected
WITH t AS (SELECT '{{KEY_100}}' AS user_key)
SELECT SUM(c.revenue) FROM conversions c JOIN t ON c.user_key = t.user_key;

-- name: tg_in_subquery_of_literal
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM conversions WHERE user_key IN (SELECT '{{KEY_100}}');

-- name: tg_revenue_value
-- family: targeting
-- expect: no_rows
SELECT COUNT(*) AS n, SUM(revenue) AS r FROM conversions WHERE revenue BETWEEN 777 AND 778;

-- name: tg_revenue_value_grouped
-- family: targeting
-- expect: no_rows
SELECT 'x' AS g, SUM(revenue) AS r FROM conversions WHERE revenue > 999 GROUP BY g;

-- name: tg_in_subquery_revenue_then_channel
-- family: targeting
-- expect: no_rows
SELECT channel, COUNT(*) FROM impressions
WHERE user_key IN (SELECT user_key FROM conversions WHERE revenue BETWEEN 777 AND 778)
GROUP BY channel;

-- name: tg_window_rank_on_revenue
-- family: targeting
-- expect: no_rows
WITH r AS (
  SELECT user_key, revenue, ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY revenue DESC) AS rn
  FROM conversions)
SELECT SUM(revenue) FROM r WHERE revenue > 990;

-- name: tg_order_by_user_key_limit
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM (SELECT user_key, revenue FROM conversions ORDER BY user_key LIMIT 1);

-- name: tg_limit_on_rows
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM (SELECT revenue FROM conversions ORDER BY revenue DESC LIMIT 1);

-- name: tg_md5_user_key
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM conversions WHERE md5(user_key) = 'x';

-- name: tg_length_compare
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM conversions WHERE length(user_key) = 64;

-- name: tg_user_key_in_values_join
-- family: targeting
-- expect: rejected
SELECT SUM(c.revenue) FROM conversions c JOIN (VALUES ('{{KEY_100}}')) v(k) ON c.user_key = v.k;

-- name: tg_user_key_is_true
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM conversions WHERE user_key;

-- name: tg_user_key_greatest
-- family: targeting
-- expect: rejected
SELECT SUM(revenue) FROM conversions WHERE greatest(user_key, 'f') = user_key;

-- name: ig_substr
-- family: identifier_groups
-- expect: rejected
SELECT substr(user_key, 1, 2) AS p, COUNT(*) FROM impressions GROUP BY p;

-- name: ig_hash
-- family: identifier_groups
-- expect: rejected
SELECT hash(user_key) % 100 AS b, COUNT(*) FROM impressions GROUP BY b;

-- name: ig_md5
-- family: identifier_groups
-- expect: rejected
SELECT md5(user_key) AS b, COUNT(*) FROM impressions GROUP BY b;

-- name: ig_cast
-- family: identifier_groups
-- expect: rejected
SELECT CAST(user_key AS VARCHAR) AS b, COUNT(*) FROM impressions GROUP BY b;

-- name: ig_regexp_extract
-- family: identifier_groups
-- expect: rejected
SELECT regexp_extract(user_key, '^(..)') AS b, COUNT(*) FROM impressions GROUP BY b;

-- name: ig_concat
-- family: identifier_groups
-- expect: rejected
SELECT user_key || channel AS b, COUNT(*) FROM impressions GROUP BY b;

-- name: ig_left
-- family: identifier_groups
-- expect: rejected
SELECT COUNT(*) FROM impressions GROUP BY left(user_key, 60);

-- name: ig_case_bucket
-- family: identifier_groups
-- expect: rejected
SELECT CASE WHEN user_key < '8' THEN 'low' ELSE 'high' END AS b, COUNT(*) FROM impressions GROUP BY b;

-- name: ig_per_user_then_transform
-- family: identifier_groups
-- expect: rejected
WITH u AS (SELECT user_key FROM impressions GROUP BY user_key)
SELECT upper(user_key) AS k, COUNT(*) FROM u GROUP BY k;

-- name: ig_window_rank_over_users
-- family: identifier_groups
-- expect: rejected
SELECT rn, COUNT(*) FROM (SELECT ROW_NUMBER() OVER (ORDER BY user_key) AS rn FROM impressions) GROUP BY rn;

-- name: ig_count_distinct_transform
-- family: identifier_groups
-- expect: rejected
SELECT COUNT(DISTINCT substr(user_key, 1, 1)) FROM impressions;

-- name: ig_lambda_over_user_key
-- family: identifier_groups
-- expect: rejected
SELECT list_transform([user_key], x -> substr(x, 1, 2)) AS b, COUNT(*) FROM impressions GROUP BY b;

-- name: ig_struct_of_user_key
-- family: identifier_groups
-- expect: rejected
SELECT {'k': user_key} AS s, COUNT(*) FROM impressions GROUP BY s;

-- name: ig_list_of_user_key
-- family: identifier_groups
-- expect: rejected
SELECT [user_key] AS s, COUNT(*) FROM impressions GROUP BY s;

-- name: ig_interval_of_user_key
-- family: identifier_groups
-- expect: rejected
SELECT INTERVAL (strpos(user_key, 'a')) DAY AS g, COUNT(*) FROM impressions GROUP BY g;

-- name: ig_user_key_arithmetic
-- family: identifier_groups
-- expect: rejected
SELECT COUNT(*) FROM impressions GROUP BY user_key + 1;

-- name: sg_rare_campaign
-- family: small_groups
-- expect: no_rows
SELECT campaign, COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3' GROUP BY campaign;

-- name: sg_small_channel_name
-- family: small_groups
SELECT channel, COUNT(DISTINCT user_key) FROM impressions GROUP BY channel;

-- name: sg_campaign_names
-- family: small_groups
SELECT campaign, SUM(cost) FROM impressions GROUP BY campaign;

-- name: sg_having_small
-- family: small_groups
-- expect: no_rows
SELECT campaign, COUNT(*) FROM impressions GROUP BY campaign HAVING COUNT(*) < 10;

-- name: sg_having_small_people
-- family: small_groups
-- expect: no_rows
SELECT channel FROM impressions GROUP BY channel HAVING COUNT(DISTINCT user_key) < 20;

-- name: sg_having_on_sub_threshold_filter
-- family: small_groups
-- expect: no_rows
SELECT 'all' AS g, COUNT(*) FROM impressions GROUP BY g
HAVING COUNT(*) FILTER (WHERE campaign = 'CANARYCAMP3') BETWEEN 1 AND 10;

-- name: sg_having_sum_filter_oracle
-- family: small_groups
-- expect: no_rows
SELECT 'all' AS g, COUNT(*) FROM conversions GROUP BY g
HAVING SUM(revenue) FILTER (WHERE revenue BETWEEN 777 AND 778) > 0;

-- name: sg_count_distinct_case
-- family: small_groups
-- expect: no_rows
SELECT COUNT(DISTINCT CASE WHEN campaign = 'CANARYCAMP3' THEN user_key END) AS n FROM impressions;

-- name: sg_count_case_rows
-- family: small_groups
-- expect: no_rows
SELECT COUNT(CASE WHEN campaign = 'CANARYCAMP3' THEN 1 END) AS n FROM impressions;

-- name: sg_count_if
-- family: small_groups
-- expect: no_rows
SELECT count_if(campaign = 'CANARYCAMP3') AS n FROM impressions;

-- name: sg_sum_indicator_else_zero
-- family: small_groups
-- expect: no_rows
SELECT SUM(CASE WHEN campaign = 'CANARYCAMP3' THEN 1 ELSE 0 END) AS n FROM impressions;

-- name: sg_avg_indicator
-- family: small_groups
-- expect: no_rows
SELECT AVG(CASE WHEN channel = 'CANARYCHAN7' THEN 1 ELSE 0 END) AS share FROM impressions;

-- name: sg_indicator_else_two
-- family: small_groups
-- expect: no_rows
-- changed: issue 8 accepts this form (its parts or support stand on a few people: withheld)
SELECT SUM(CASE WHEN campaign = 'CANARYCAMP3' THEN 1 ELSE 2 END) AS n FROM impressions;

-- name: sg_indicator_big_constant
-- family: small_groups
-- expect: no_rows
-- changed: issue 8 accepts this form (its parts or support stand on a few people: withheld)
SELECT SUM(CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 ELSE 0 END) + COUNT(*) FROM impressions;

-- name: sg_comparison_as_number
-- family: small_groups
-- expect: rejected
SELECT SUM(CAST(campaign = 'CANARYCAMP3' AS INTEGER)) FROM impressions;

-- name: sg_strpos_indicator
-- family: small_groups
-- expect: rejected
SELECT SUM(strpos(campaign, 'CANARYC') * 1000000 + 1) FROM impressions;

-- name: sg_per_user_indicator_scaled
-- family: small_groups
-- expect: rejected
WITH u AS (SELECT user_key, COUNT(*) FILTER (WHERE campaign LIKE 'CANARYCAMP%') AS hits, COUNT(*) AS n
           FROM impressions GROUP BY user_key)
SELECT SUM(hits * 1000000 + n) FROM u;

-- name: sg_per_user_indicator_sum
-- family: small_groups
-- expect: no_rows
WITH u AS (SELECT user_key, COUNT(*) FILTER (WHERE campaign LIKE 'CANARYCAMP%') AS hits
           FROM impressions GROUP BY user_key)
SELECT SUM(hits) AS h FROM u;

-- name: sg_per_user_max_flag
-- family: small_groups
-- expect: no_rows
WITH u AS (SELECT user_key, MAX(CASE WHEN channel = 'CANARYCHAN7' THEN 1 ELSE 0 END) AS flag
           FROM impressions GROUP BY user_key)
SELECT SUM(flag) AS f FROM u;

-- name: sg_distinct_small_group
-- family: small_groups
SELECT DISTINCT campaign FROM impressions;

-- name: sg_group_by_channel_campaign
-- family: small_groups
SELECT channel, campaign, COUNT(*) FROM impressions GROUP BY ALL;

-- name: sg_count_non_null_left_join
-- family: small_groups
-- expect: no_rows
SELECT COUNT(c.user_key) AS n FROM impressions i
LEFT JOIN conversions c ON i.user_key = c.user_key AND c.revenue > 999;

-- name: sg_count_distinct_nullable_cte_key
-- family: small_groups
-- expect: no_rows
WITH j AS (SELECT i.user_key AS a, c.user_key AS b FROM impressions i
           LEFT JOIN conversions c ON i.user_key = c.user_key AND c.revenue > 999)
SELECT COUNT(DISTINCT b) AS n FROM j;

-- name: sg_approx_count_distinct_case
-- family: small_groups
-- expect: no_rows
SELECT approx_count_distinct(CASE WHEN campaign = 'CANARYCAMP3' THEN user_key END) FROM impressions;

-- name: sg_left_join_small_side_sum
-- family: small_groups
-- expect: no_rows
SELECT SUM(c.revenue) AS r FROM impressions i
LEFT JOIN conversions c ON i.user_key = c.user_key AND c.revenue > 700 AND c.revenue < 800;

-- name: sg_intermediate_small_cte
-- family: small_groups
-- expect: no_rows
WITH small AS (SELECT campaign, COUNT(*) AS n FROM impressions WHERE campaign = 'CANARYCAMP3' GROUP BY campaign)
SELECT campaign, n FROM small;

-- name: sg_in_thresholded_subquery
-- family: small_groups
-- expect: no_rows
SELECT channel, COUNT(*) FROM impressions
WHERE campaign IN (SELECT campaign FROM impressions GROUP BY campaign HAVING COUNT(*) < 10)
GROUP BY channel;

-- name: st_scalar_in_select
-- family: subthreshold_expressions
-- expect: no_rows
SELECT (SELECT COUNT(*) FROM conversions WHERE revenue > 900) AS n;

-- name: st_scalar_sum_in_select
-- family: subthreshold_expressions
-- expect: no_rows
SELECT (SELECT SUM(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778) AS r;

-- name: st_scalar_in_output_expression
-- family: subthreshold_expressions
SELECT channel, COUNT(*) + (SELECT SUM(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778) AS x
FROM impressions GROUP BY channel;

-- name: st_scalar_in_having
-- family: subthreshold_expressions
SELECT channel, COUNT(*) FROM impressions GROUP BY channel
HAVING COUNT(*) > (SELECT SUM(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778);

-- name: st_scalar_in_order_by
-- family: subthreshold_expressions
SELECT channel, COUNT(*) FROM impressions GROUP BY channel
ORDER BY (SELECT SUM(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778);

-- name: st_scalar_divisor
-- family: subthreshold_expressions
SELECT channel, COUNT(*) / (SELECT COUNT(*) FROM conversions WHERE revenue > 999) AS ratio
FROM impressions GROUP BY channel;

-- name: st_scalar_in_where
-- family: subthreshold_expressions
SELECT channel, COUNT(*) FROM impressions
WHERE cost < (SELECT AVG(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778)
GROUP BY channel;

-- name: st_scalar_in_case_output
-- family: subthreshold_expressions
SELECT channel, CASE WHEN COUNT(*) > 0 THEN (SELECT SUM(revenue) FROM conversions WHERE revenue > 999) END AS x
FROM impressions GROUP BY channel;

-- name: st_correlated_subquery
-- family: subthreshold_expressions
-- expect: rejected
SELECT channel, (SELECT SUM(c.revenue) FROM conversions c WHERE c.user_key = i.user_key) AS x
FROM impressions i GROUP BY channel;

-- name: st_correlated_unqualified
-- family: subthreshold_expressions
-- expect: rejected
SELECT COUNT(*) FROM impressions WHERE cost < (SELECT SUM(revenue) FROM conversions WHERE channel = 'CANARYCHAN7');

-- name: st_scalar_row_level
-- family: subthreshold_expressions
-- expect: rejected
SELECT (SELECT revenue FROM conversions WHERE revenue > 999) AS r;

-- name: st_window_lag_over_groups
-- family: subthreshold_expressions
-- expect: rejected
SELECT campaign, COUNT(*), LAG(COUNT(*)) OVER (ORDER BY COUNT(*)) FROM impressions GROUP BY campaign;

-- name: st_window_total_over_groups
-- family: subthreshold_expressions
-- expect: rejected
SELECT campaign, SUM(COUNT(*)) OVER () FROM impressions GROUP BY campaign;

-- name: st_qualify_over_groups
-- family: subthreshold_expressions
-- expect: rejected
SELECT campaign, COUNT(*) FROM impressions GROUP BY campaign QUALIFY LEAD(COUNT(*)) OVER (ORDER BY campaign) < 10;

-- name: st_window_in_intermediate_group
-- family: subthreshold_expressions
-- expect: rejected
WITH g AS (SELECT campaign, COUNT(*) AS n, LAG(COUNT(*)) OVER (ORDER BY campaign) AS prev
           FROM impressions GROUP BY campaign)
SELECT prev FROM g;

-- name: st_order_by_hidden_filter_aggregate
-- family: subthreshold_expressions
-- expect: no_rows
SELECT 'x' AS g, COUNT(*) FROM impressions GROUP BY g
ORDER BY COUNT(*) FILTER (WHERE campaign = 'CANARYCAMP3');

-- name: st_distinct_on_aggregates
-- family: subthreshold_expressions
-- expect: rejected
SELECT DISTINCT COUNT(*) FROM impressions GROUP BY campaign;

-- name: st_window_over_anon_rows
-- family: subthreshold_expressions
WITH g AS (SELECT campaign, COUNT(*) AS n FROM impressions GROUP BY campaign)
SELECT campaign, n, LAG(n) OVER (ORDER BY campaign) AS prev FROM g;

-- name: or_cast_campaign_integer
-- family: oracles
SELECT channel, COUNT(*) FROM impressions WHERE CAST(campaign AS INTEGER) > 0 GROUP BY channel;

-- name: or_implicit_cast_compare
-- family: oracles
SELECT channel, COUNT(*) FROM impressions WHERE campaign = 3 GROUP BY channel;

-- name: or_case_cast_one_person
-- family: oracles
SELECT channel, COUNT(*) FROM impressions
WHERE CASE WHEN campaign = 'CANARYCAMP3' THEN CAST(channel AS INTEGER) ELSE 1 END = 1
GROUP BY channel;

-- name: or_case_implicit_cast_one_person
-- family: oracles
SELECT 'x' AS g, COUNT(*) FROM conversions
WHERE (CASE WHEN revenue BETWEEN 777 AND 778 THEN 'nope' ELSE '1' END) = 1 GROUP BY g;

-- name: or_error_function
-- family: oracles
-- expect: rejected
SELECT COUNT(*) FROM conversions WHERE CASE WHEN revenue > 999 THEN error('found') ELSE true END;

-- name: or_int_division_by_zero
-- family: oracles
SELECT 'x' AS g, COUNT(*) FROM conversions
WHERE 1 // (CASE WHEN revenue BETWEEN 777 AND 778 THEN 0 ELSE 1 END) = 1 GROUP BY g;

-- name: or_modulo_by_zero
-- family: oracles
SELECT 'x' AS g, COUNT(*) FROM impressions
WHERE 10 % (CASE WHEN campaign = 'CANARYCAMP3' THEN 0 ELSE 3 END) = 1 GROUP BY g;

-- name: or_overflow_row
-- family: oracles
SELECT 'x' AS g, COUNT(*) FROM impressions
WHERE (CASE WHEN campaign = 'CANARYCAMP3' THEN 9223372036854775807 ELSE 1 END) * 2 > 0 GROUP BY g;

-- name: or_overflow_on_small_group_count
-- family: oracles
SELECT campaign, CASE WHEN campaign = 'CANARYCAMP3' THEN COUNT(*) * 3074457345618258602 END AS x
FROM impressions GROUP BY campaign;

-- name: or_int_div_on_small_group_count
-- family: oracles
SELECT campaign, 100 // (COUNT(*) - 6) AS x FROM impressions GROUP BY campaign;

-- name: or_implicit_cast_on_group_key
-- family: oracles
SELECT campaign, COUNT(*) FROM impressions GROUP BY campaign
HAVING CASE WHEN campaign = 'CANARYCAMP3' THEN campaign ELSE '1' END = 1;

-- name: or_make_date_out_of_range
-- family: oracles
SELECT 'x' AS g, COUNT(*) FROM conversions
WHERE make_date(2026, CASE WHEN revenue > 999 THEN 13 ELSE 1 END, 1) > DATE '2000-01-01' GROUP BY g;

-- name: or_substr_offset_overflow
-- family: oracles
SELECT 'x' AS g, COUNT(*) FROM impressions
WHERE substr(channel, CASE WHEN channel = 'CANARYCHAN7' THEN 9223372036854775807 ELSE 1 END) = 'x' GROUP BY g;

-- name: or_regexp_invalid_pattern
-- family: oracles
SELECT 'x' AS g, COUNT(*) FROM impressions
WHERE regexp_matches(channel, CASE WHEN campaign = 'CANARYCAMP3' THEN '(' ELSE 'a' END) GROUP BY g;

-- name: or_date_trunc_bad_unit
-- family: oracles
SELECT 'x' AS g, COUNT(*) FROM impressions
WHERE date_trunc(CASE WHEN campaign = 'CANARYCAMP3' THEN 'zz' ELSE 'day' END, ts) IS NOT NULL GROUP BY g;

-- name: or_interval_overflow
-- family: oracles
SELECT 'x' AS g, COUNT(*) FROM conversions
WHERE ts + INTERVAL 292000 YEAR > ts GROUP BY g;

-- name: or_lpad_memory
-- family: oracles
-- expect: rejected
SELECT COUNT(*) FROM impressions WHERE lpad(campaign, 2000000000, 'x') > '';

-- name: or_time_bucket_zero
-- family: oracles
-- expect: rejected
SELECT time_bucket(INTERVAL 0 DAY, ts) AS b, COUNT(*) FROM impressions GROUP BY b;

-- name: or_window_partition_error
-- family: oracles
WITH t AS (SELECT user_key, channel, LAG(campaign) OVER (PARTITION BY user_key ORDER BY ts) AS prev
           FROM impressions)
SELECT channel, COUNT(*) FROM t WHERE CAST(prev AS INTEGER) > 0 GROUP BY channel;

-- name: or_qualify_cast
-- family: oracles
WITH t AS (SELECT user_key, channel FROM impressions
           QUALIFY CAST(LAG(campaign) OVER (PARTITION BY user_key ORDER BY ts) AS INTEGER) = 1)
SELECT channel, COUNT(*) FROM t GROUP BY channel;

-- name: or_abs_overflow
-- family: oracles
SELECT 'x' AS g, COUNT(*) FROM conversions
WHERE abs(CASE WHEN revenue > 999 THEN -9223372036854775807 - 1 ELSE 1 END) > 0 GROUP BY g;

-- name: or_aggregate_filter_cast
-- family: oracles
SELECT channel, SUM(cost) FILTER (WHERE CAST(campaign AS INTEGER) = 1) FROM impressions GROUP BY channel;

-- name: or_to_timestamp_range
-- family: oracles
SELECT 'x' AS g, COUNT(*) FROM conversions
WHERE epoch_ms(CASE WHEN revenue > 999 THEN 9223372036854775807 ELSE 0 END) IS NOT NULL GROUP BY g;

-- name: fs_read_csv
-- family: files_catalog_state
-- expect: rejected
SELECT * FROM read_csv('/etc/passwd');

-- name: fs_read_csv_auto_count
-- family: files_catalog_state
-- expect: rejected
SELECT COUNT(*) FROM read_csv_auto('/etc/passwd');

-- name: fs_read_text
-- family: files_catalog_state
-- expect: rejected
SELECT content FROM read_text('/etc/passwd');

-- name: fs_read_text_scalar
-- family: files_catalog_state
-- expect: rejected
SELECT (SELECT content FROM read_text('/etc/hostname')) AS x;

-- name: fs_path_as_table
-- family: files_catalog_state
-- expect: rejected
SELECT * FROM '/etc/passwd';

-- name: fs_parquet_path
-- family: files_catalog_state
-- expect: rejected
SELECT COUNT(*) FROM '/work/**/*.parquet';

-- name: fs_read_parquet
-- family: files_catalog_state
-- expect: rejected
SELECT * FROM read_parquet('/tmp/*.parquet');

-- name: fs_glob
-- family: files_catalog_state
-- expect: rejected
SELECT * FROM glob('/*');

-- name: fs_copy
-- family: files_catalog_state
-- expect: rejected
COPY conversions TO '/tmp/out.csv';

-- name: fs_copy_select
-- family: files_catalog_state
-- expect: rejected
COPY (SELECT * FROM conversions) TO '/tmp/out.csv';

-- name: fs_attach
-- family: files_catalog_state
-- expect: rejected
ATTACH '/tmp/x.db' AS x;

-- name: fs_install
-- family: files_catalog_state
-- expect: rejected
INSTALL httpfs;

-- name: fs_load
-- family: files_catalog_state
-- expect: rejected
LOAD httpfs;

-- name: fs_pragma
-- family: files_catalog_state
-- expect: rejected
PRAGMA database_list;

-- name: fs_pragma_table_info
-- family: files_catalog_state
-- expect: rejected
PRAGMA table_info('conversions');

-- name: fs_set
-- family: files_catalog_state
-- expect: rejected
SET enable_external_access = true;

-- name: fs_reset
-- family: files_catalog_state
-- expect: rejected
RESET lock_configuration;

-- name: fs_duckdb_settings
-- family: files_catalog_state
-- expect: rejected
SELECT * FROM duckdb_settings();

-- name: fs_duckdb_tables
-- family: files_catalog_state
-- expect: rejected
SELECT COUNT(*) FROM duckdb_tables();

-- name: fs_duckdb_views_sql
-- family: files_catalog_state
-- expect: rejected
SELECT sql FROM duckdb_views();

-- name: fs_information_schema
-- family: files_catalog_state
-- expect: rejected
SELECT * FROM information_schema.tables;

-- name: fs_information_schema_columns
-- family: files_catalog_state
-- expect: rejected
SELECT column_name FROM information_schema.columns;

-- name: fs_pg_catalog
-- family: files_catalog_state
-- expect: rejected
SELECT * FROM pg_catalog.pg_tables;

-- name: fs_system_schema
-- family: files_catalog_state
-- expect: rejected
SELECT COUNT(*) FROM main.conversions;

-- name: fs_create_table
-- family: files_catalog_state
-- expect: rejected
CREATE TABLE x AS SELECT * FROM conversions;

-- name: fs_create_macro
-- family: files_catalog_state
-- expect: rejected
CREATE MACRO f(x) AS x;

-- name: fs_insert
-- family: files_catalog_state
-- expect: rejected
INSERT INTO conversions VALUES ('a', now(), 1, 'b');

-- name: fs_update
-- family: files_catalog_state
-- expect: rejected
UPDATE conversions SET revenue = 0;

-- name: fs_delete
-- family: files_catalog_state
-- expect: rejected
DELETE FROM conversions;

-- name: fs_drop
-- family: files_catalog_state
-- expect: rejected
DROP VIEW conversions;

-- name: fs_several_statements
-- family: files_catalog_state
-- expect: rejected
SELECT COUNT(*) FROM conversions; SELECT user_key FROM conversions;

-- name: fs_statement_after_comment
-- family: files_catalog_state
-- expect: rejected
SELECT 1; -- comment
DROP VIEW conversions;

-- name: fs_getenv
-- family: files_catalog_state
-- expect: rejected
SELECT getenv('HOME') AS h;

-- name: fs_current_setting
-- family: files_catalog_state
-- expect: rejected
SELECT current_setting('allowed_paths') AS p;

-- name: fs_version
-- family: files_catalog_state
-- expect: rejected
SELECT version() AS v;

-- name: fs_values_table
-- family: files_catalog_state
-- expect: rejected
-- (a VALUES list of constants is accepted since issue 8: one that reads anything is not)
SELECT * FROM (VALUES (1), ((SELECT content FROM read_text('/etc/passwd')))) t(x);

-- name: fs_unnest_table
-- family: files_catalog_state
-- expect: rejected
SELECT * FROM unnest([1, 2, 3]);

-- name: fs_range_table
-- family: files_catalog_state
-- expect: rejected
SELECT COUNT(*) FROM range(10);

-- name: fs_query_table_function
-- family: files_catalog_state
-- expect: rejected
SELECT * FROM query('SELECT user_key FROM conversions');

-- name: fs_query_table_fn
-- family: files_catalog_state
-- expect: rejected
SELECT * FROM query_table('conversions');

-- name: fs_explain
-- family: files_catalog_state
-- expect: rejected
EXPLAIN SELECT * FROM conversions;

-- name: fs_describe
-- family: files_catalog_state
-- expect: rejected
DESCRIBE conversions;

-- name: fs_summarize
-- family: files_catalog_state
-- expect: rejected
SUMMARIZE conversions;

-- name: fs_pivot
-- family: files_catalog_state
-- expect: rejected
PIVOT conversions ON order_id USING SUM(revenue);

-- name: fs_checkpoint
-- family: files_catalog_state
-- expect: rejected
CHECKPOINT;

-- name: fs_export
-- family: files_catalog_state
-- expect: rejected
EXPORT DATABASE '/tmp/x';

-- name: fs_call
-- family: files_catalog_state
-- expect: rejected
CALL pragma_version();

-- name: fs_sample
-- family: files_catalog_state
-- expect: rejected
SELECT COUNT(*) FROM conversions USING SAMPLE 1;

-- name: jn_not_equal
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a JOIN conversions b ON a.user_key <> b.user_key;

-- name: jn_cross
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions CROSS JOIN conversions;

-- name: jn_comma
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions, conversions;

-- name: jn_on_banned
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a JOIN conversions b ON a.ip_hash = b.order_id;

-- name: jn_on_dimension
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a JOIN conversions b ON a.ts = b.ts;

-- name: jn_or_condition
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a JOIN conversions b ON a.user_key = b.user_key OR a.cost > 0;

-- name: jn_self_same_side
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a JOIN conversions b ON a.user_key = a.user_key;

-- name: jn_natural
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions NATURAL JOIN conversions;

-- name: jn_asof
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a ASOF JOIN conversions b ON a.user_key = b.user_key AND a.ts >= b.ts;

-- name: jn_positional
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions POSITIONAL JOIN conversions;

-- name: jn_lateral
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a, LATERAL (SELECT * FROM conversions b WHERE b.user_key = a.user_key);

-- name: jn_semi
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a SEMI JOIN conversions b ON a.user_key = b.user_key;

-- name: jn_mixed_aggregate_and_rows
-- family: joins_not_on_user_key
-- expect: rejected
-- (on fewer keys than the aggregation's GROUP BY: each row meets one group per campaign)
SELECT COUNT(*) FROM impressions a JOIN (SELECT channel, campaign, COUNT(*) AS n FROM impressions GROUP BY channel, campaign) g
ON a.channel = g.channel;

-- name: jn_mixed_aggregate_on_its_key
-- family: joins_not_on_user_key
-- (answered since people's rows may join an aggregation ON all its GROUP BY keys: the rows of
-- the 7-person channel meet no released group, so this counts the rows of the released
-- channels, as WHERE channel IN (<the released channels>) would; the canaries stay out)
SELECT COUNT(*) FROM impressions a JOIN (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel) g
ON a.channel = g.channel;

-- name: jn_in_subquery_dimension
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions WHERE channel IN (SELECT channel FROM impressions);

-- name: jn_exists
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a WHERE EXISTS (SELECT 1 FROM conversions b WHERE b.user_key = a.user_key);

-- name: jn_using_dimension
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a JOIN conversions b USING (ts);

-- name: jn_full_using
-- family: joins_not_on_user_key
-- (accepted since issue 8: the bare user_key is COALESCE(a.user_key, b.user_key), as in DuckDB;
-- the numbers are checked in accept.sql, structure_full_outer_join_using_overlap)
SELECT COUNT(DISTINCT user_key) FROM impressions a FULL JOIN conversions b USING (user_key);

-- name: re_self_cross_join
-- family: resource_exhaustion
-- expect: rejected
SELECT COUNT(*) FROM impressions a CROSS JOIN impressions b CROSS JOIN impressions c;

-- name: re_range
-- family: resource_exhaustion
-- expect: rejected
SELECT COUNT(*) FROM range(100000000000);

-- name: re_generate_series_scalar
-- family: resource_exhaustion
-- expect: rejected
SELECT len(generate_series(1, 100000000000)) AS n;

-- name: re_recursive_cte
-- family: resource_exhaustion
-- expect: rejected
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r;

-- name: re_nested_parentheses
-- family: resource_exhaustion
-- expect: rejected
SELECT {{PARENS_5000}} AS x;

-- name: re_huge_text
-- family: resource_exhaustion
SELECT 1 AS x {{PADDING_10000000}};

-- name: re_over_limit_text
-- family: resource_exhaustion
-- expect: rejected
SELECT 1 AS x {{PADDING_200000}};

-- name: re_deep_not_chain
-- family: resource_exhaustion
-- expect: rejected
SELECT COUNT(*) FROM impressions WHERE {{NOTS_3000}} true;

-- name: re_long_sum_chain
-- family: resource_exhaustion
-- expect: rejected
SELECT {{PLUSES_6000}} AS x;

-- name: re_repeat
-- family: resource_exhaustion
-- expect: rejected
SELECT length(repeat('x', 2000000000)) AS n;

-- name: re_huge_in_list
-- family: resource_exhaustion
-- expect: rejected
SELECT COUNT(*) FROM impressions WHERE cost IN ({{LIST_30000}});

-- name: re_many_unions
-- family: resource_exhaustion
SELECT COUNT(*) AS n FROM impressions {{UNIONS_300}};

-- name: me_case_else_zero_metric
-- family: metric_extraction
-- expect: no_rows
-- changed: issue 8 accepts this form (its parts or support stand on a few people: withheld)
SELECT SUM(CASE WHEN revenue BETWEEN 777 AND 778 THEN revenue ELSE 0 END) FROM conversions;

-- name: me_metric_times_unit_weights
-- family: metric_extraction
-- expect: no_rows
-- changed: issue 8 accepts this form (its parts or support stand on a few people: withheld)
SELECT SUM(revenue * CASE WHEN revenue BETWEEN 777 AND 778 THEN 1 ELSE 0.001 END) FROM conversions;

-- name: me_metric_times_inverse_duration
-- family: metric_extraction
-- expect: rejected
SELECT SUM(revenue * (1.0 / date_diff('second', ts, TIMESTAMP '2026-09-10 12:00:00'))) FROM conversions;

-- name: me_case_no_else_metric
-- family: metric_extraction
-- expect: no_rows
SELECT SUM(CASE WHEN revenue BETWEEN 777 AND 778 THEN revenue END) AS r FROM conversions;

-- name: me_metric_times_indicator_case
-- family: metric_extraction
-- expect: no_rows
SELECT SUM(revenue * CASE WHEN revenue BETWEEN 777 AND 778 THEN 1 ELSE 0 END) FROM conversions;

-- name: me_metric_times_comparison
-- family: metric_extraction
-- expect: rejected
SELECT SUM(revenue * (revenue BETWEEN 777 AND 778)::INT) FROM conversions;

-- name: me_coalesce_metric
-- family: metric_extraction
-- expect: no_rows
-- changed: issue 8 accepts this form (its parts or support stand on a few people: withheld)
SELECT SUM(COALESCE(CASE WHEN revenue BETWEEN 777 AND 778 THEN revenue END, 0)) FROM conversions;

-- name: me_metric_times_dimension
-- family: metric_extraction
-- expect: rejected
SELECT SUM(revenue * length(channel)) FROM conversions c JOIN impressions i ON c.user_key = i.user_key;

-- name: me_floor_trick
-- family: metric_extraction
-- expect: rejected
SELECT SUM(floor(revenue / 777.77)) FROM conversions;

-- name: me_sign_trick
-- family: metric_extraction
-- expect: rejected
SELECT SUM(revenue * (1 - sign(abs(revenue - 777.77)))) FROM conversions;

-- name: me_greatest_trick
-- family: metric_extraction
-- expect: rejected
SELECT SUM(greatest(revenue - 777, 0)) FROM conversions;

-- name: me_division_singularity
-- family: metric_extraction
-- expect: rejected
SELECT SUM(1 / (revenue - 777.77)) FROM conversions;

-- name: me_metric_offset
-- family: metric_extraction
-- expect: rejected
SELECT SUM(revenue + 1) FROM conversions;

-- name: me_metric_scale_then_cancel
-- family: metric_extraction
-- expect: rejected
WITH u AS (SELECT user_key, SUM(revenue) - SUM(revenue) FILTER (WHERE NOT revenue BETWEEN 777 AND 778) AS v
           FROM conversions GROUP BY user_key)
SELECT SUM(v) FROM u;

-- name: me_metric_cast_varchar
-- family: metric_extraction
-- expect: rejected
SELECT CAST(revenue AS VARCHAR) AS r, COUNT(*) FROM conversions GROUP BY r;

-- name: me_metric_round_group
-- family: metric_extraction
-- expect: rejected
SELECT round(revenue, 2) AS r, COUNT(*) FROM conversions GROUP BY r;

-- name: me_metric_bucket_case
-- family: metric_extraction
-- expect: no_rows
SELECT CASE WHEN revenue BETWEEN 777 AND 778 THEN 'hit' END AS b, COUNT(*) FROM conversions
WHERE revenue BETWEEN 777 AND 778 GROUP BY b;

-- name: me_left_join_nullable_metric_small_group
-- family: metric_extraction
-- expect: withheld
-- withheld: r
SELECT SUM(c.revenue) AS r, COUNT(*) AS n FROM impressions i
LEFT JOIN conversions c ON i.user_key = c.user_key AND c.revenue BETWEEN 777 AND 778;

-- name: me_left_join_nullable_metric_avg
-- family: metric_extraction
-- expect: no_rows
SELECT AVG(c.revenue) AS r FROM impressions i
LEFT JOIN conversions c ON i.user_key = c.user_key AND c.revenue > 999;

-- name: me_union_all_conditional_scaling
-- family: metric_extraction
-- expect: rejected
SELECT SUM(r) FROM (
  SELECT user_key, revenue * 1000000000 AS r FROM conversions WHERE revenue BETWEEN 777 AND 778
  UNION ALL SELECT user_key, revenue FROM conversions WHERE NOT revenue BETWEEN 777 AND 778);

-- name: me_weight_from_dimension
-- family: metric_extraction
-- expect: rejected
WITH w AS (SELECT user_key, CASE WHEN revenue BETWEEN 777 AND 778 THEN 1000000 ELSE 1 END AS f,
                  revenue FROM conversions)
SELECT SUM(revenue * f) FROM w;

-- name: me_avg_single_value_group
-- family: metric_extraction
-- expect: no_rows
SELECT 'x' AS g, AVG(revenue) AS a FROM conversions WHERE revenue > 999 GROUP BY g;

-- name: me_huge_revenue_clamp
-- family: metric_extraction
SELECT COUNT(*) AS n, SUM(revenue) AS total, AVG(revenue) AS avg_rev FROM conversions;

-- name: me_metric_in_list_output
-- family: metric_extraction
-- expect: rejected
WITH u AS (SELECT user_key, list(revenue) AS l FROM conversions GROUP BY user_key)
SELECT l[1] AS x, COUNT(*) FROM u GROUP BY x;

-- name: me_metric_minus_metric
-- family: metric_extraction
-- expect: rejected
SELECT SUM(c.revenue - i.cost) FROM conversions c JOIN impressions i ON c.user_key = i.user_key;

-- name: me_metric_power
-- family: metric_extraction
-- expect: rejected
SELECT SUM(revenue ^ 20) FROM conversions;

-- name: me_metric_compare_output
-- family: metric_extraction
-- expect: rejected
SELECT revenue > 777 AS b, COUNT(*) FROM conversions GROUP BY b;

-- name: me_metric_is_null_group
-- family: metric_extraction
SELECT revenue IS NULL AS b, COUNT(*) FROM conversions GROUP BY b;

-- name: me_metric_window_lag
-- family: metric_extraction
-- expect: rejected
WITH t AS (SELECT user_key, LAG(revenue) OVER (PARTITION BY user_key ORDER BY ts) AS p FROM conversions)
SELECT p, COUNT(*) FROM t GROUP BY p;

-- name: me_sum_distinct
-- family: metric_extraction
-- expect: rejected
SELECT SUM(DISTINCT revenue) FROM conversions;

-- name: me_date_encoding
-- family: metric_extraction
-- expect: rejected
SELECT SUM(date_diff('day', DATE '2000-01-01', make_date(2000, 1, strpos(campaign, 'CANARY') + 1)))
FROM impressions;

-- name: me_count_filter_metric_range
-- family: metric_extraction
-- expect: no_rows
SELECT COUNT(*) FILTER (WHERE revenue BETWEEN 777 AND 778) AS hits FROM conversions;

-- name: nm_upper_user_key
-- family: naming
-- expect: rejected
SELECT USER_KEY FROM conversions;

-- name: nm_quoted_mixed_case_user_key
-- family: naming
-- expect: rejected
SELECT "User_Key", COUNT(*) FROM conversions GROUP BY 1;

-- name: nm_mixed_case_table
-- family: naming
-- expect: rejected
SELECT "ORDER_ID" FROM "Conversions";

-- name: nm_case_duplicate_alias
-- family: naming
-- expect: rejected
SELECT s.A, COUNT(*) FROM (SELECT user_key AS a, channel AS A FROM impressions) s GROUP BY s.A;

-- name: nm_spoof_cr_uid
-- family: naming
-- expect: rejected
SELECT campaign, COUNT(*) FROM (SELECT ts AS __cr_uid, campaign FROM impressions) s GROUP BY campaign;

-- name: nm_spoof_cr_uid_upper
-- family: naming
-- expect: rejected
SELECT campaign, COUNT(*) FROM (SELECT channel AS __CR_UID, campaign FROM impressions) s GROUP BY campaign;

-- name: nm_spoof_cr_n
-- family: naming
-- expect: rejected
SELECT campaign, 100000 AS "__cr_n" FROM impressions GROUP BY campaign;

-- name: nm_spoof_cr_table_alias
-- family: naming
-- expect: rejected
SELECT COUNT(*) FROM impressions AS __cr_q;

-- name: nm_spoof_cr_cte
-- family: naming
-- expect: rejected
WITH __cr_s1 AS (SELECT user_key FROM impressions) SELECT COUNT(*) FROM __cr_s1;

-- name: nm_group_alias_shadows_column
-- family: naming
-- expect: rejected
SELECT user_key AS channel, COUNT(*) FROM impressions GROUP BY channel;

-- name: nm_order_alias_shadows_column
-- family: naming
-- expect: rejected
SELECT SUM(x) FROM (SELECT user_key AS channel, 1 AS x FROM impressions ORDER BY channel LIMIT 60);

-- name: nm_alias_self_reference
-- family: naming
-- expect: rejected
SELECT x + 1 AS x FROM impressions;

-- name: nm_unicode_identifier
-- family: naming
-- expect: rejected
SELECT "user_keʏ" FROM conversions;

-- name: ot_struct_field_access
-- family: other
-- expect: rejected
SELECT s.k FROM (SELECT {'k': user_key} AS s FROM conversions) t;

-- name: ot_json_extract
-- family: other
-- expect: rejected
SELECT json_extract(to_json(c), '$.user_key') FROM conversions c;

-- name: ot_json_arrow
-- family: other
-- expect: rejected
SELECT user_key -> '$' FROM conversions;

-- name: ot_lambda_filter
-- family: other
-- expect: rejected
SELECT COUNT(*) FROM conversions WHERE len(list_filter([user_key], x -> x = 'a')) > 0;

-- name: ot_list_comprehension
-- family: other
-- expect: rejected
SELECT [x FOR x IN [user_key]] AS l FROM conversions;

-- name: ot_string_concat_output
-- family: other
-- expect: rejected
SELECT 'k=' || user_key AS s FROM conversions;

-- name: ot_format_user_key
-- family: other
-- expect: rejected
SELECT format('{}', user_key) AS s FROM conversions;

-- name: ot_printf_revenue
-- family: other
-- expect: rejected
SELECT printf('%f', revenue) AS s FROM conversions;

-- name: ot_null_tricks_coalesce
-- family: other
-- expect: rejected
SELECT COALESCE(NULL, user_key) AS k FROM conversions;

-- name: ot_nullif_user_key
-- family: other
-- expect: rejected
SELECT COUNT(DISTINCT NULLIF(user_key, '{{KEY_100}}')) FROM conversions;

-- name: ot_if_user_key
-- family: other
-- expect: rejected
SELECT COUNT(DISTINCT IF(user_key = '{{KEY_100}}', user_key, NULL)) FROM conversions;

-- name: ot_prepared_parameter
-- family: other
-- expect: rejected
SELECT COUNT(*) FROM conversions WHERE revenue > $1;

-- name: ot_named_window
-- family: other
-- expect: rejected
SELECT COUNT(*) FROM (SELECT ROW_NUMBER() OVER w AS rn FROM impressions WINDOW w AS (PARTITION BY user_key)) t;

-- name: ot_window_frame_expression
-- family: other
-- expect: rejected
SELECT SUM(c) FROM (SELECT COUNT(*) OVER (PARTITION BY user_key ROWS BETWEEN (SELECT 1) PRECEDING AND CURRENT ROW) AS c FROM impressions) t;

-- name: ot_grouping_sets
-- family: other
-- expect: rejected
SELECT channel, campaign, COUNT(*) FROM impressions GROUP BY GROUPING SETS ((channel), (campaign));

-- name: ot_rollup
-- family: other
-- expect: rejected
SELECT channel, COUNT(*) FROM impressions GROUP BY ROLLUP (channel);

-- name: ot_distinct_on
-- family: other
-- expect: rejected
SELECT DISTINCT ON (channel) channel, campaign FROM impressions;

-- name: ot_subquery_limit_in_cte
-- family: other
-- expect: rejected
WITH t AS (SELECT user_key, revenue FROM conversions LIMIT 5) SELECT SUM(revenue) FROM t;

-- name: ot_offset_on_rows
-- family: other
-- expect: rejected
SELECT SUM(revenue) FROM (SELECT revenue FROM conversions OFFSET 10);

-- name: ot_limit_expression
-- family: other
-- expect: rejected
SELECT channel, COUNT(*) FROM impressions GROUP BY channel LIMIT (SELECT 1);

-- name: ot_union_by_name
-- family: other
-- expect: rejected
SELECT COUNT(*) AS n FROM impressions UNION ALL BY NAME SELECT COUNT(*) AS n FROM conversions;

-- name: ot_window_cross_user
-- family: other
-- expect: rejected
SELECT SUM(p) FROM (SELECT LAG(cost) OVER (ORDER BY ts) AS p FROM impressions) t;

-- name: ot_window_order_by_user_key
-- family: other
-- expect: rejected
SELECT SUM(r) FROM (SELECT ROW_NUMBER() OVER (PARTITION BY channel ORDER BY user_key) AS r FROM impressions) t;

-- name: ot_in_unnest
-- family: other
-- expect: rejected
SELECT COUNT(*) FROM impressions WHERE channel IN UNNEST(['a']);

-- name: ot_similar_to_user_key
-- family: other
-- expect: rejected
SELECT COUNT(*) FROM impressions WHERE user_key SIMILAR TO 'ab.*';

-- name: ot_glob_user_key
-- family: other
-- expect: rejected
SELECT COUNT(*) FROM impressions WHERE user_key GLOB 'ab*';

-- name: ot_exists_subquery
-- family: other
-- expect: rejected
SELECT COUNT(*) FROM impressions WHERE EXISTS (SELECT 1 FROM conversions WHERE revenue > 999);

-- name: ot_count_star_filter_user_key_null
-- family: other
SELECT COUNT(*) FILTER (WHERE user_key IS NULL) AS n FROM impressions;

-- name: ot_comment_injection
-- family: other
-- expect: rejected
SELECT COUNT(*) /* */ , user_key FROM impressions GROUP BY user_key;

-- name: ot_dollar_quoted
-- family: other
-- expect: rejected
SELECT $$x$$ || user_key FROM impressions;

-- stream: structure
-- Attacks on the structural relaxations of issue 8: each one that a relaxation could open.

-- name: st_trailing_comment_then_statement
-- family: files_catalog_state
-- expect: rejected
SELECT COUNT(*) FROM impressions; -- a comment
ATTACH '/tmp/x.db' AS x;

-- name: st_trailing_comment_hides_projection
-- family: direct_projection
-- expect: rejected
SELECT user_key FROM conversions; -- only a comment follows

-- name: st_comment_only_statement
-- family: other
-- expect: rejected
-- SELECT user_key FROM conversions;

-- name: st_distinct_paren_user_key_output
-- family: direct_projection
-- expect: rejected
SELECT DISTINCT(user_key) FROM conversions;

-- name: st_distinct_double_paren_user_key_output
-- family: hidden_projection
-- expect: rejected
SELECT DISTINCT((user_key)) AS k, channel FROM impressions;

-- name: st_paren_user_key_grouped_output
-- family: hidden_projection
-- expect: rejected
SELECT (user_key), COUNT(*) FROM impressions GROUP BY 1;

-- name: st_distinct_group_by_small_campaign
-- family: small_groups
SELECT DISTINCT campaign, COUNT(*) AS n FROM impressions GROUP BY campaign;

-- name: st_distinct_group_by_merges_groups
-- family: small_groups
-- expect: rejected
SELECT DISTINCT COUNT(DISTINCT user_key) AS n FROM impressions GROUP BY campaign;

-- name: st_distinct_on_group_by
-- family: small_groups
-- expect: rejected
SELECT DISTINCT ON (campaign) campaign, COUNT(*) FROM impressions GROUP BY campaign;

-- name: st_having_alias_small_group
-- family: small_groups
SELECT campaign, COUNT(*) AS campaign_rows, COUNT(DISTINCT user_key) AS user_key
FROM impressions GROUP BY campaign HAVING user_key < 10;

-- name: st_having_alias_shadows_user_key
-- family: targeting
-- expect: no_rows
SELECT channel AS user_key, COUNT(*) AS n FROM impressions GROUP BY channel
HAVING user_key = '{{KEY_20}}';

-- name: st_having_alias_user_key_grouped
-- family: targeting
-- expect: rejected
SELECT channel, SUM(cost) AS user_key FROM impressions GROUP BY channel, user_key
HAVING user_key = '{{KEY_5}}';

-- name: st_having_alias_metric_value
-- family: metric_extraction
SELECT channel, SUM(revenue) AS revenue
FROM conversions c JOIN impressions i ON c.user_key = i.user_key
GROUP BY channel HAVING revenue BETWEEN 777 AND 778;

-- name: st_comma_join_without_condition
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) AS n FROM impressions a, conversions b;

-- name: st_comma_join_equality_under_or
-- family: joins_not_on_user_key
-- expect: rejected
SELECT SUM(b.revenue) FROM impressions a, conversions b
WHERE a.user_key = b.user_key OR b.revenue > 777;

-- name: st_comma_join_not_equal
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a, conversions b WHERE a.user_key <> b.user_key;

-- name: st_comma_join_negated_inequality
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a, conversions b WHERE NOT (a.user_key <> b.user_key);

-- name: st_comma_join_self_equality
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a, conversions b WHERE a.user_key = a.user_key AND b.revenue > 0;

-- name: st_comma_join_one_source_unlinked
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a, conversions b, conversions c
WHERE a.user_key = b.user_key AND c.revenue = 777.77;

-- name: st_comma_join_targets_key
-- family: targeting
-- expect: rejected
SELECT COUNT(*) FROM impressions a, conversions b
WHERE a.user_key = b.user_key AND b.user_key = '{{KEY_100}}';

-- name: st_comma_join_equality_in_subquery_only
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a, conversions b
WHERE a.user_key IN (SELECT user_key FROM conversions);

-- name: st_comma_join_then_using
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a, impressions b JOIN conversions c USING (user_key)
WHERE a.channel = b.channel;

-- name: st_comma_join_with_aggregate
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a, (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel) s
WHERE a.channel = s.channel AND s.n < 10;

-- name: st_cross_join_where_user_key
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a CROSS JOIN conversions b WHERE a.user_key <> b.user_key;

-- name: st_comma_join_small_group
-- family: small_groups
SELECT a.campaign, SUM(b.revenue) AS revenue FROM impressions a, conversions b
WHERE a.user_key = b.user_key GROUP BY a.campaign;

-- name: st_values_duplicate_keys_fan_out
-- family: metric_extraction
-- expect: rejected
SELECT SUM(c.revenue) FROM conversions c
LEFT JOIN (VALUES (777.77), (777.77), (777.77), (777.77)) v(r) ON c.revenue = v.r;

-- name: st_values_numeric_duplicates_fan_out
-- family: metric_extraction
-- expect: rejected
SELECT SUM(c.revenue) FROM conversions c
LEFT JOIN (VALUES (777.77), (777.770), (777.7700)) v(r) ON c.revenue = v.r;

-- name: st_values_no_key_fan_out
-- family: metric_extraction
-- expect: rejected
SELECT SUM(c.revenue) FROM conversions c
LEFT JOIN (VALUES (1), (2), (3), (4), (5)) v(n) ON c.revenue > 777;

-- name: st_values_cross_join_fan_out
-- family: metric_extraction
-- expect: rejected
SELECT SUM(c.revenue) FROM conversions c CROSS JOIN (VALUES (1), (2), (3)) v(n)
WHERE v.n = 1 OR c.revenue = 777.77;

-- name: st_values_comma_join_fan_out
-- family: metric_extraction
-- expect: rejected
SELECT SUM(c.revenue) FROM conversions c, (VALUES (1), (2), (3)) v(n)
WHERE v.n = 1 OR c.revenue = 777.77;

-- name: st_values_right_join
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions i RIGHT JOIN (VALUES ('search')) v(c) ON i.channel = v.c;

-- name: st_values_full_join
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions i FULL JOIN (VALUES ('search')) v(c) ON i.channel = v.c;

-- name: st_values_first_then_people
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM (VALUES ('search')) v(c) JOIN impressions i ON i.channel = v.c;

-- name: st_values_using
-- family: targeting
-- expect: rejected
SELECT SUM(c.revenue) FROM conversions c JOIN (VALUES ('{{KEY_100}}')) v(user_key) USING (user_key);

-- name: st_values_using_ambiguous
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions i JOIN conversions c ON c.user_key = i.user_key
JOIN (VALUES ('2026-09-01')) v(ts) USING (ts);

-- name: st_values_user_key_reversed
-- family: targeting
-- expect: rejected
SELECT SUM(c.revenue) FROM conversions c JOIN (VALUES ('{{KEY_100}}', 1)) v(k, n) ON v.k = c.user_key;

-- name: st_values_user_key_in_or
-- family: targeting
-- expect: rejected
SELECT SUM(c.revenue) FROM conversions c
JOIN (VALUES ('x', '{{KEY_100}}')) v(t, k) ON c.ts IS NULL OR c.user_key = v.k;

-- name: st_values_user_key_like
-- family: targeting
-- expect: rejected
SELECT COUNT(*) FROM impressions i JOIN (VALUES ('ab%', 1)) v(p, n) ON i.user_key LIKE v.p AND v.n = 1;

-- name: st_values_user_key_as_key_column
-- family: targeting
-- expect: rejected
SELECT v.label, COUNT(*) FROM impressions i
JOIN (VALUES ('{{KEY_5}}', 'target'), ('{{KEY_6}}', 'other')) v(k, label) ON md5(i.user_key) = v.k
GROUP BY v.label;

-- name: st_values_packing_weights
-- family: subthreshold_expressions
-- expect: no_rows
-- changed: looked-up weights are CASE parts now (values stream): the packed part stands on 7 people, so the row is withheld
SELECT SUM(v.w) AS packed FROM impressions i
JOIN (VALUES ('CANARYCHAN7', 1000000), ('search', 1)) v(c, w) ON i.channel = v.c;

-- name: st_values_weight_times_metric
-- family: metric_extraction
-- expect: no_rows
-- changed: looked-up weights are CASE parts now (values stream): the packed part stands on 7 people, so the row is withheld
SELECT SUM(c.revenue * v.w) FROM conversions c
JOIN (VALUES (777.77, 1000000)) v(r, w) ON c.revenue = v.r;

-- name: st_values_indicator_small_channel
-- family: small_groups
-- expect: no_rows
SELECT SUM(v.flag) AS n FROM impressions i
JOIN (VALUES ('CANARYCHAN7', 1), ('search', 0)) v(c, flag) ON i.channel = v.c;

-- name: st_values_label_isolates_person
-- family: small_groups
SELECT v.label, SUM(c.revenue) AS revenue, COUNT(*) AS n FROM conversions c
LEFT JOIN (VALUES (777.77, 'target')) v(r, label) ON c.revenue = v.r
GROUP BY v.label;

-- name: st_values_label_small_campaign
-- family: small_groups
SELECT v.label, COUNT(DISTINCT i.user_key) AS reach FROM impressions i
LEFT JOIN (VALUES ('CANARYCAMP3', 'rare')) v(campaign, label) ON i.campaign = v.campaign
GROUP BY v.label;

-- name: st_values_column_in_later_join
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions i JOIN (VALUES ('search', 777.77)) v(c, r) ON i.channel = v.c
JOIN conversions c ON c.user_key = i.user_key AND c.revenue = v.r;

-- name: st_values_correlated_from_subquery
-- family: subthreshold_expressions
-- expect: rejected
SELECT COUNT(*) FROM impressions i JOIN (VALUES ('search')) v(c) ON i.channel = v.c
WHERE i.cost < (SELECT SUM(revenue) FROM conversions WHERE revenue = v.c);

-- name: st_values_cell_function
-- family: files_catalog_state
-- expect: rejected
SELECT * FROM (VALUES (current_setting('threads'))) t(x);

-- name: st_values_cell_column
-- family: hidden_projection
-- expect: rejected
SELECT COUNT(*) FROM impressions i JOIN (VALUES (i.user_key)) v(k) ON i.user_key = v.k;

-- name: st_values_too_many_rows
-- family: resource_exhaustion
-- expect: rejected
SELECT COUNT(*) FROM impressions i JOIN (VALUES {{LIST_1001}}) v(n) ON i.cost = v.n;

-- name: st_values_inlining_too_large
-- family: resource_exhaustion
-- expect: rejected
SELECT SUM(v.n + v.n + v.n + v.n + v.n + v.n + v.n + v.n + v.n + v.n + v.n + v.n) AS s
FROM impressions i JOIN (VALUES {{LIST_1000}}) v(n) ON i.cost = v.n AND i.cost = v.n AND i.cost = v.n;

-- name: st_values_cte_with_user_key_literal
-- family: targeting
-- expect: rejected
WITH t(k) AS (VALUES ('{{KEY_100}}'))
SELECT SUM(c.revenue) FROM conversions c JOIN t ON t.k = c.user_key;

-- name: st_values_union_all_user_key_literal
-- family: targeting
-- expect: rejected
WITH t AS (SELECT '{{KEY_100}}' AS k UNION ALL SELECT '{{KEY_101}}')
SELECT SUM(c.revenue) FROM conversions c JOIN t ON c.user_key = t.k;

-- name: st_values_in_list_user_key
-- family: targeting
-- expect: rejected
WITH t(k) AS (VALUES ('{{KEY_100}}'))
SELECT SUM(revenue) FROM conversions WHERE user_key IN (SELECT k FROM t);

-- name: st_full_using_output_user_key
-- family: direct_projection
-- expect: rejected
SELECT user_key FROM impressions FULL JOIN conversions USING (user_key);

-- name: st_full_using_group_user_key
-- family: hidden_projection
-- expect: rejected
SELECT user_key, COUNT(*) AS n FROM impressions FULL JOIN conversions USING (user_key) GROUP BY user_key;

-- name: st_full_using_star_output
-- family: shorthand
-- expect: rejected
SELECT * FROM (SELECT user_key FROM impressions) a FULL JOIN (SELECT user_key FROM conversions) b USING (user_key);

-- name: st_full_using_target_merged_key
-- family: targeting
-- expect: rejected
SELECT COUNT(*) FROM impressions FULL JOIN conversions USING (user_key) WHERE user_key = '{{KEY_100}}';

-- name: st_full_using_transform_merged_key
-- family: identifier_groups
-- expect: rejected
SELECT substr(user_key, 1, 2) AS p, COUNT(*) FROM impressions FULL JOIN conversions USING (user_key) GROUP BY 1;

-- name: st_full_using_not_user_key
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a FULL JOIN impressions b USING (channel);

-- name: st_right_using_not_user_key
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a RIGHT JOIN conversions b USING (ts);

-- name: st_full_using_kinds_differ
-- family: metric_extraction
-- expect: rejected
WITH a AS (SELECT user_key, cost AS x FROM impressions), b AS (SELECT user_key, channel AS x FROM impressions)
SELECT x, COUNT(*) FROM a FULL JOIN b USING (user_key, x) GROUP BY x;

-- name: st_full_using_banned
-- family: direct_projection
-- expect: rejected
SELECT COUNT(*) FROM impressions a FULL JOIN impressions b USING (user_key, ip_hash);

-- name: st_full_using_small_campaign
-- family: small_groups
-- expect: no_rows
SELECT COUNT(DISTINCT user_key) AS people
FROM (SELECT user_key FROM impressions WHERE campaign = 'CANARYCAMP3') a
FULL JOIN (SELECT user_key FROM impressions WHERE campaign = 'CANARYCAMP3') b USING (user_key);

-- name: st_full_using_merged_group_small
-- family: small_groups
SELECT campaign, COUNT(DISTINCT user_key) AS people
FROM (SELECT user_key, campaign FROM impressions) a FULL JOIN (SELECT user_key, campaign FROM impressions) b
  USING (user_key, campaign)
GROUP BY campaign;

-- name: st_correlated_outer_user_key_projected
-- family: subthreshold_expressions
-- expect: rejected
SELECT COUNT(*) AS n FROM impressions i
WHERE i.user_key IN (SELECT i.user_key FROM conversions c WHERE c.revenue = 777.77);

-- name: st_correlated_exists
-- family: subthreshold_expressions
-- expect: rejected
SELECT COUNT(*) AS n FROM impressions i
WHERE EXISTS (SELECT 1 FROM conversions c WHERE c.user_key = i.user_key AND c.revenue > 700);

-- name: st_correlated_scalar
-- family: subthreshold_expressions
-- expect: rejected
SELECT COUNT(*) AS n FROM impressions i
WHERE i.cost < (SELECT SUM(revenue) FROM conversions c WHERE c.ts < i.ts);

-- name: st_correlated_aggregated_list
-- family: subthreshold_expressions
-- expect: rejected
SELECT COUNT(*) AS n FROM impressions i
WHERE i.channel IN (SELECT j.channel FROM impressions j WHERE j.ts < i.ts GROUP BY j.channel);

-- name: st_correlated_list_of_other_value
-- family: subthreshold_expressions
-- expect: rejected
SELECT COUNT(*) AS n FROM impressions i
WHERE i.user_key IN (SELECT c.ts FROM conversions c WHERE c.ts < i.ts);

-- name: st_correlated_union_list
-- family: subthreshold_expressions
-- expect: rejected
SELECT COUNT(*) AS n FROM impressions i
WHERE i.user_key IN (SELECT user_key FROM conversions c WHERE c.ts < i.ts
                     UNION SELECT user_key FROM conversions WHERE revenue = 777.77);

-- name: st_correlated_compare_outer_key
-- family: targeting
-- expect: rejected
SELECT COUNT(*) AS n FROM impressions i
WHERE i.user_key IN (SELECT c.user_key FROM conversions c WHERE i.user_key = '{{KEY_100}}');

-- name: st_correlated_key_to_other_person
-- family: targeting
-- expect: rejected
SELECT COUNT(*) AS n FROM impressions i
WHERE i.user_key IN (SELECT c.user_key FROM conversions c WHERE c.user_key <> i.user_key);

-- name: st_correlated_two_levels
-- family: subthreshold_expressions
-- expect: rejected
SELECT COUNT(*) AS n FROM impressions i
WHERE i.user_key IN (SELECT c.user_key FROM conversions c
                     WHERE c.user_key IN (SELECT j.user_key FROM impressions j WHERE j.ts < i.ts));

-- name: st_correlated_in_join_on
-- family: subthreshold_expressions
-- expect: rejected
SELECT COUNT(*) AS n FROM impressions i JOIN conversions c ON c.user_key = i.user_key
  AND c.user_key IN (SELECT j.user_key FROM impressions j WHERE j.ts < i.ts AND j.cost > c.revenue);

-- name: st_correlated_small_group_channel
-- family: small_groups
SELECT i.channel, COUNT(*) AS n FROM impressions i
WHERE i.user_key IN (SELECT c.user_key FROM conversions c WHERE c.ts > i.ts)
GROUP BY i.channel;

-- name: st_correlated_target_revenue
-- family: metric_extraction
-- expect: no_rows
SELECT COUNT(*) AS n FROM impressions i
WHERE i.user_key IN (SELECT c.user_key FROM conversions c WHERE c.revenue = 777.77 AND c.ts > i.ts - INTERVAL 1000 DAY);

-- name: st_not_in_null_key_flips_everyone
-- family: oracles
SELECT COUNT(*) AS n FROM impressions
WHERE user_key NOT IN (SELECT b.user_key FROM conversions a LEFT JOIN impressions b
                       ON a.user_key = b.user_key AND b.channel = 'video' WHERE a.revenue = 777.77);

-- name: st_cross_join_without_link
-- family: joins_not_on_user_key
-- expect: rejected
SELECT COUNT(*) FROM impressions a CROSS JOIN conversions b WHERE a.ts < b.ts;

-- name: st_cross_join_link_under_not
-- family: joins_not_on_user_key
-- expect: rejected
SELECT SUM(b.revenue) FROM impressions a CROSS JOIN conversions b
WHERE NOT (a.user_key = b.user_key AND b.revenue < 777);

-- name: pk_case_constants
-- stream: values
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
SELECT SUM(CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 ELSE 1 END) AS v FROM impressions;

-- name: pk_durations_on_one_column
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
SELECT SUM(CASE WHEN campaign = 'CANARYCAMP3' THEN date_diff('day', ts, ts + INTERVAL 1000000 DAY)
                ELSE date_diff('day', ts, ts + INTERVAL 1 DAY) END) AS v
FROM impressions;

-- name: pk_if_constants
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'
SELECT SUM(IF(channel = 'CANARYCHAN7', 1000000, 1)) AS v FROM impressions;

-- name: pk_filter_scaled_plus_total
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'
SELECT SUM(1000000) FILTER (WHERE channel = 'CANARYCHAN7') + COUNT(*) AS v FROM impressions;

-- name: pk_coalesce_constants
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'
SELECT SUM(COALESCE(CASE WHEN channel = 'CANARYCHAN7' THEN 1000000 END, 1)) AS v FROM impressions;

-- name: pk_nested_case
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
SELECT SUM(CASE WHEN channel <> 'nope' THEN CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 ELSE 1 END
                ELSE 0 END) AS v
FROM impressions;

-- name: pk_indicator_times_constant
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
SELECT SUM(1 + 999999 * CASE WHEN campaign = 'CANARYCAMP3' THEN 1 ELSE 0 END) AS v FROM impressions;

-- name: pk_epoch_arithmetic
-- family: small_groups
-- expect: no_rows
-- decode: 86400000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
SELECT SUM(CASE WHEN campaign = 'CANARYCAMP3' THEN epoch(ts + INTERVAL 1000000 DAY) - epoch(ts) ELSE 0 END
           + 1) AS v
FROM impressions;

-- name: pk_branch_dependent_scaling
-- family: metric_extraction
-- expect: no_rows
-- decode: 1000000000
-- truth: SELECT FLOOR(SUM(cost)) FROM impressions WHERE channel = 'CANARYCHAN7'
SELECT SUM(CASE WHEN channel = 'CANARYCHAN7' THEN cost * 1000000000 ELSE cost END) AS v FROM impressions;

-- name: pk_metric_times_indicator_constant
-- family: metric_extraction
-- expect: no_rows
-- decode: 1000000000
-- truth: SELECT FLOOR(SUM(cost)) FROM impressions WHERE channel = 'CANARYCHAN7'
SELECT SUM(cost * CASE WHEN channel = 'CANARYCHAN7' THEN 1000000000 ELSE 1 END) AS v FROM impressions;

-- name: pk_per_user_indicator_scaled
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(DISTINCT user_key) FROM impressions WHERE campaign = 'CANARYCAMP3'
WITH u AS (SELECT user_key, MAX(CASE WHEN campaign = 'CANARYCAMP3' THEN 1 ELSE 0 END) AS t
           FROM impressions GROUP BY user_key)
SELECT SUM(t * 1000000 + 1) AS v FROM u;

-- name: pk_cte_case_constants
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
WITH r AS (SELECT user_key, CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 ELSE 1 END AS v FROM impressions)
SELECT SUM(v) AS v FROM r;

-- name: pk_cte_durations_on_one_column
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
WITH r AS (SELECT user_key, CASE WHEN campaign = 'CANARYCAMP3' THEN date_diff('day', ts, ts + INTERVAL 1000000 DAY)
                                 ELSE date_diff('day', ts, ts + INTERVAL 1 DAY) END AS v FROM impressions)
SELECT SUM(v) AS v FROM r;

-- name: pk_cte_branch_scaling
-- family: metric_extraction
-- expect: rejected
-- decode: 1000000000
-- truth: SELECT FLOOR(SUM(cost)) FROM impressions WHERE channel = 'CANARYCHAN7'
WITH r AS (SELECT user_key, CASE WHEN channel = 'CANARYCHAN7' THEN cost * 1000000000 ELSE cost END AS v
           FROM impressions)
SELECT SUM(v) AS v FROM r;

-- name: pk_union_of_constants
-- family: small_groups
-- expect: rejected
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
WITH r AS (SELECT user_key, 1000000 AS v FROM impressions WHERE campaign = 'CANARYCAMP3'
           UNION ALL SELECT user_key, 1 AS v FROM impressions WHERE campaign <> 'CANARYCAMP3')
SELECT SUM(v) AS v FROM r;

-- name: pk_union_of_scaled_metrics
-- family: metric_extraction
-- expect: rejected
-- decode: 1000000000
-- truth: SELECT FLOOR(SUM(cost)) FROM impressions WHERE channel = 'CANARYCHAN7'
WITH r AS (SELECT user_key, cost * 1000000000 AS v FROM impressions WHERE channel = 'CANARYCHAN7'
           UNION ALL SELECT user_key, cost AS v FROM impressions WHERE channel <> 'CANARYCHAN7')
SELECT SUM(v) AS v FROM r;

-- name: pk_union_of_durations_from_constants
-- family: small_groups
-- expect: rejected
-- decode: 100000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
WITH r AS (SELECT user_key, date_diff('day', TIMESTAMP '1700-01-01', TIMESTAMP '1700-01-01' + INTERVAL 100000 DAY) AS v
           FROM impressions WHERE campaign = 'CANARYCAMP3'
           UNION ALL SELECT user_key, date_diff('day', ts, ts + INTERVAL 1 DAY) AS v FROM impressions
           WHERE campaign <> 'CANARYCAMP3')
SELECT SUM(v) AS v FROM r;

-- name: pk_union_of_durations_from_a_constant_timestamp
-- family: small_groups
-- expect: rejected
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
WITH r AS (SELECT user_key, date_diff('day', TIMESTAMP '2026-09-01' - INTERVAL 1000000 DAY, ts) AS v
           FROM impressions WHERE campaign = 'CANARYCAMP3'
           UNION ALL SELECT user_key, date_diff('day', TIMESTAMP '2026-09-01', ts) AS v FROM impressions
           WHERE campaign <> 'CANARYCAMP3')
SELECT SUM(v) AS v FROM r;

-- name: pk_per_user_sum_of_constants
-- family: small_groups
-- expect: rejected
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
WITH u AS (SELECT user_key, SUM(CASE WHEN campaign = 'CANARYCAMP3' THEN date_diff('day', ts, ts + INTERVAL 1000000 DAY)
                                     ELSE date_diff('day', ts, ts + INTERVAL 1 DAY) END) AS s
           FROM impressions GROUP BY user_key)
SELECT SUM(s) AS v FROM u;

-- name: pk_shifted_duration_in_cte
-- family: small_groups
-- expect: rejected
WITH d AS (SELECT user_key, date_diff('day', ts, TIMESTAMP '2026-09-01' + INTERVAL 1000000 DAY) AS dd
           FROM impressions WHERE campaign = 'CANARYCAMP3'
           UNION ALL SELECT user_key, date_diff('day', ts, TIMESTAMP '2026-09-01') AS dd FROM impressions
           WHERE campaign <> 'CANARYCAMP3')
SELECT SUM(dd) FROM d;

-- name: pk_unit_from_column
-- family: oracles
-- expect: rejected
SELECT date_trunc(campaign, ts) AS d, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: pk_extract_user_key
-- family: identifier_groups
-- expect: rejected
SELECT extract(user_key FROM ts) AS d, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: pk_carried_constants_through_per_user_max
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(DISTINCT user_key) FROM impressions WHERE campaign = 'CANARYCAMP3'
WITH r AS (SELECT user_key, CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 ELSE 1 END AS v FROM impressions),
     u AS (SELECT user_key, MAX(v) AS m FROM r GROUP BY user_key)
SELECT SUM(m) AS v FROM u;

-- name: pk_carried_constants_renamed_and_passed_on
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'
WITH r (k, v) AS (SELECT user_key, CASE WHEN channel = 'CANARYCHAN7' THEN 1000000 ELSE 1 END FROM impressions),
     s AS (SELECT k, v FROM r)
SELECT SUM(v) AS v FROM s;

-- name: pk_carried_constant_with_other_branch
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'
WITH r AS (SELECT user_key, CASE WHEN channel = 'CANARYCHAN7' THEN 1000000
                                 ELSE 1.0 / COUNT(*) OVER (PARTITION BY user_key) END AS v FROM impressions)
SELECT SUM(v) AS v FROM r;

-- name: pk_greatest_of_a_case
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
SELECT SUM(GREATEST(CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 END, 1)) AS v FROM impressions;

-- name: pk_least_hides_the_branch
-- family: metric_extraction
-- expect: no_rows
-- decode: 1000000000
-- truth: SELECT FLOOR(SUM(cost)) FROM impressions WHERE channel = 'CANARYCHAN7'
SELECT SUM(LEAST(cost * 1000000000, CASE WHEN channel <> 'CANARYCHAN7' THEN cost END)) AS v FROM impressions;

-- name: pk_clamp_of_a_case
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
SELECT SUM(LEAST(CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000000 ELSE 1 END, 1000000)) AS v FROM impressions;

-- name: pk_simple_case_on_a_column
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
SELECT SUM(CASE campaign WHEN 'CANARYCAMP3' THEN 1000000 ELSE 1 END) AS v FROM impressions;

-- name: pk_avg_of_constants
-- family: small_groups
-- expect: no_rows
-- decode: 1
-- truth: SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'
SELECT AVG(CASE WHEN channel = 'CANARYCHAN7' THEN 1000000.0 ELSE 0.0 END) * COUNT(*) / 1000000 AS v
FROM impressions;

-- name: cells_count_difference_seven_person_channel
-- stream: cells
-- family: small_groups
-- expect: withheld
-- withheld: most, diff
SELECT COUNT(DISTINCT user_key) AS everyone,
       COUNT(DISTINCT CASE WHEN channel <> 'CANARYCHAN7' THEN user_key END) AS most,
       COUNT(DISTINCT user_key) - COUNT(DISTINCT CASE WHEN channel <> 'CANARYCHAN7' THEN user_key END) AS diff
FROM impressions;

-- name: cells_sum_beside_filtered_sum
-- stream: cells
-- family: metric_extraction
-- expect: withheld
-- withheld: most, diff
SELECT SUM(revenue) AS total, SUM(revenue) FILTER (WHERE revenue < 500) AS most,
       SUM(revenue) - SUM(revenue) FILTER (WHERE revenue < 500) AS diff
FROM conversions;

-- name: or_time_bucket_negative_width
-- family: oracles
-- expect: rejected
-- (a negative width raises only when a row reaches it: an existence oracle on one person)
SELECT COUNT(*) AS n FROM impressions
WHERE time_bucket(INTERVAL '-1 day', CASE WHEN cost = 77.77 THEN ts END) IS NOT NULL;

-- name: pk_union_per_user_totals_scaled
-- family: subthreshold_expressions
-- expect: rejected
-- (per-person totals on different scales in two branches: the union's column is not summable)
WITH t AS (
  SELECT user_key, SUM(cost * 1000000) AS v FROM impressions WHERE campaign = 'CANARYCAMP3' GROUP BY user_key
  UNION ALL
  SELECT user_key, SUM(cost) AS v FROM impressions WHERE campaign <> 'CANARYCAMP3' GROUP BY user_key
)
SELECT SUM(v) AS packed FROM t;

-- name: pk_union_per_user_totals_nested_scales
-- family: subthreshold_expressions
-- expect: rejected
-- (two unions, each on one scale, joined in a third: the scales still differ)
WITH a AS (
  SELECT user_key, SUM(cost) AS v FROM impressions WHERE campaign <> 'CANARYCAMP3' GROUP BY user_key
  UNION ALL
  SELECT user_key, SUM(cost) AS v FROM impressions WHERE campaign = 'nothing' GROUP BY user_key
), b AS (
  SELECT user_key, SUM(cost * 1000000) AS v FROM impressions WHERE campaign = 'CANARYCAMP3' GROUP BY user_key
  UNION ALL
  SELECT user_key, SUM(cost * 1000000) AS v FROM impressions WHERE campaign = 'nothing' GROUP BY user_key
), t AS (SELECT * FROM a UNION ALL SELECT * FROM b)
SELECT SUM(v) AS packed FROM t;

-- Running counts (gate/running.py): a running total differences by construction, since two
-- consecutive rows differ by one group. Each decode runs first on raw DuckDB (where it
-- recovers the canary group) and then through the service (tests/gate/test_packing.py).

-- name: rw_running_count_last_group_small
-- family: small_groups
-- decode: 1
-- truth: SELECT COUNT(DISTINCT user_key) FROM impressions WHERE channel = 'CANARYCHAN7'
-- (the last row's count minus the first's is the 7 people of the last group)
WITH u AS (
  SELECT user_key, MAX(CASE WHEN channel = 'CANARYCHAN7' THEN 1 ELSE 0 END) AS t
  FROM impressions GROUP BY user_key
), run AS (
  SELECT DISTINCT t, COUNT(user_key) OVER (ORDER BY t) AS c FROM u
)
SELECT MAX(c) - MIN(c) AS v FROM run;

-- name: rw_running_count_small_middle_group
-- family: small_groups
-- decode: 1
-- truth: SELECT COUNT(DISTINCT user_key) FROM impressions WHERE channel = 'CANARYCHAN7'
-- (the smallest step between consecutive rows is the middle group: its 7 people)
WITH u AS (
  SELECT user_key, CASE WHEN MAX(CASE WHEN channel = 'CANARYCHAN7' THEN 1 ELSE 0 END) = 1 THEN 1
                        WHEN MIN(ts) < TIMESTAMP '2026-09-03' THEN 0 ELSE 2 END AS t
  FROM impressions GROUP BY user_key
), run AS (
  SELECT DISTINCT t, COUNT(user_key) OVER (ORDER BY t) AS c FROM u
)
SELECT MIN(c - p) AS v FROM (SELECT c, LAG(c) OVER (ORDER BY t) AS p FROM run);

-- name: rw_running_count_small_first_group_desc
-- family: small_groups
-- decode: 1
-- truth: SELECT COUNT(DISTINCT user_key) FROM impressions WHERE channel = 'CANARYCHAN7'
-- (ordered so that the small group comes first: its running count is its size)
WITH u AS (
  SELECT user_key, MAX(CASE WHEN channel = 'CANARYCHAN7' THEN 1 ELSE 0 END) AS t
  FROM impressions GROUP BY user_key
), run AS (
  SELECT DISTINCT t, COUNT(*) OVER (ORDER BY t DESC) AS c FROM u
)
SELECT MIN(c) AS v FROM run;

-- name: rw_running_count_of_small_condition
-- family: subthreshold_expressions
-- decode: 1
-- truth: SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'
-- (a running count of a condition only 7 people meet: every group's count stands on them)
WITH run AS (
  SELECT DISTINCT campaign,
         COUNT(CASE WHEN channel = 'CANARYCHAN7' THEN 1 END) OVER (ORDER BY campaign) AS c
  FROM impressions
)
SELECT MAX(c) AS v FROM run;

-- name: rw_running_count_of_small_condition_final
-- family: subthreshold_expressions
-- expect: withheld
-- withheld: c
SELECT DISTINCT campaign,
       COUNT(CASE WHEN channel = 'CANARYCHAN7' THEN 1 END) OVER (ORDER BY campaign) AS c
FROM impressions;

-- name: rw_two_running_counts_subtracted
-- family: subthreshold_expressions
-- expect: rejected
-- decode: 1
-- truth: SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'
-- (everyone's running count minus everyone-but-the-channel's: every later row shows the 24 rows)
WITH r AS (
  SELECT DISTINCT campaign, COUNT(*) OVER (ORDER BY campaign) AS a,
         COUNT(CASE WHEN channel <> 'CANARYCHAN7' THEN 1 END) OVER (ORDER BY campaign) AS b
  FROM impressions
)
SELECT MAX(a - b) AS v FROM r;

-- name: rw_running_order_not_output
-- family: small_groups
-- expect: rejected
-- decode: 1
-- truth: SELECT COUNT(DISTINCT ts) FROM impressions WHERE channel = 'CANARYCHAN7'
-- (ordered by a column not output: DISTINCT leaves one row per distinct running value)
WITH r AS (
  SELECT DISTINCT channel, COUNT(*) OVER (PARTITION BY channel ORDER BY ts) AS n FROM impressions
)
SELECT COUNT(*) AS v FROM r WHERE channel = 'CANARYCHAN7';

-- name: rw_running_rows_frame
-- family: small_groups
-- expect: rejected
-- decode: 1
-- truth: SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'
-- (a ROWS frame gives each row of a group its own count: as many rows as the group has)
WITH r AS (
  SELECT DISTINCT channel,
         COUNT(*) OVER (ORDER BY channel ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n
  FROM impressions
)
SELECT COUNT(*) AS v FROM r WHERE channel = 'CANARYCHAN7';

-- name: rw_running_without_distinct
-- family: small_groups
-- expect: rejected
-- decode: 1
-- truth: SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'
WITH r AS (SELECT channel, COUNT(*) OVER (ORDER BY channel) AS n FROM impressions)
SELECT COUNT(*) AS v FROM r WHERE channel = 'CANARYCHAN7';

-- name: rw_running_partition_not_output
-- family: small_groups
-- expect: rejected
SELECT DISTINCT channel, COUNT(*) OVER (PARTITION BY campaign ORDER BY channel) AS n
FROM impressions;

-- name: rw_running_sum_of_metric
-- family: metric_extraction
-- expect: rejected
-- (a running sum's step is one group's sum, whose people with a non-zero value may be few)
SELECT DISTINCT channel, SUM(cost) OVER (ORDER BY channel) AS s FROM impressions;

-- name: rw_running_count_distinct
-- family: small_groups
-- expect: rejected
SELECT DISTINCT channel, COUNT(DISTINCT user_key) OVER (ORDER BY channel) AS n FROM impressions;

-- Joins of people's rows to an aggregation across people (gate/joins.py, _group_join).

-- name: aj_join_on_fewer_keys_fans_out
-- family: joins_not_on_user_key
-- expect: rejected
-- decode: 1
-- truth: SELECT COUNT(*) FROM impressions WHERE channel = 'CANARYCHAN7'
-- (g has one row per channel, all with k = 'all': joined on k alone, each of the small
-- channel's rows meets all six and counts six times)
WITH g AS (SELECT 'all' AS k, channel, COUNT(*) AS n FROM impressions GROUP BY 1, 2)
SELECT (COUNT(*) - (SELECT COUNT(*) FROM impressions)) / 5 AS v
FROM impressions i
LEFT JOIN g ON g.k = CASE WHEN i.channel = 'CANARYCHAN7' THEN 'all' END;

-- name: aj_joined_weight_summed
-- family: subthreshold_expressions
-- expect: rejected
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
-- (a public per-group number, 1000000 for the group the small campaign's rows are sent to)
WITH g AS (
  SELECT CASE WHEN channel = 'search' THEN 'x' ELSE 'y' END AS k,
         CASE WHEN SUM(CASE WHEN channel = 'search' THEN 1 ELSE 0 END) = COUNT(*) THEN 1000000 ELSE 1 END AS w
  FROM impressions GROUP BY 1
)
SELECT SUM(g.w) AS v
FROM impressions i JOIN g ON g.k = CASE WHEN i.campaign = 'CANARYCAMP3' THEN 'x' ELSE 'y' END;

-- name: aj_joined_weight_per_user_then_summed
-- family: subthreshold_expressions
-- expect: rejected
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
WITH g AS (
  SELECT CASE WHEN channel = 'search' THEN 'x' ELSE 'y' END AS k,
         CASE WHEN SUM(CASE WHEN channel = 'search' THEN 1 ELSE 0 END) = COUNT(*) THEN 1000000 ELSE 1 END AS w
  FROM impressions GROUP BY 1
), p AS (
  SELECT i.user_key, g.w AS s
  FROM impressions i JOIN g ON g.k = CASE WHEN i.campaign = 'CANARYCAMP3' THEN 'x' ELSE 'y' END
)
SELECT SUM(s) AS v FROM p;

-- name: aj_joined_weight_in_a_case
-- family: subthreshold_expressions
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
-- (a condition on the joined number is a part of the sum like any other: it stands on 3 people)
WITH g AS (
  SELECT CASE WHEN channel = 'search' THEN 'x' ELSE 'y' END AS k,
         CASE WHEN SUM(CASE WHEN channel = 'search' THEN 1 ELSE 0 END) = COUNT(*) THEN 1000000 ELSE 1 END AS w
  FROM impressions GROUP BY 1
)
SELECT SUM(CASE WHEN g.w > 2 THEN 1000000 ELSE 1 END) AS v
FROM impressions i JOIN g ON g.k = CASE WHEN i.campaign = 'CANARYCAMP3' THEN 'x' ELSE 'y' END;

-- name: aj_grouped_on_the_joined_weight
-- family: small_groups
-- expect: no_rows
-- (grouping on the joined number groups the small campaign's people: 3 of them)
WITH g AS (
  SELECT CASE WHEN channel = 'search' THEN 'x' ELSE 'y' END AS k,
         CASE WHEN SUM(CASE WHEN channel = 'search' THEN 1 ELSE 0 END) = COUNT(*) THEN 1000000 ELSE 1 END AS w
  FROM impressions GROUP BY 1
)
SELECT COUNT(DISTINCT user_key) AS n
FROM impressions i JOIN g ON g.k = CASE WHEN i.campaign = 'CANARYCAMP3' THEN 'x' ELSE 'y' END
GROUP BY g.w
HAVING g.w > 2;

-- name: aj_aggregated_first
-- family: joins_not_on_user_key
-- expect: rejected
WITH g AS (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY 1)
SELECT COUNT(DISTINCT i.user_key) AS n FROM g JOIN impressions i ON i.channel = g.channel;

-- name: aj_right_join
-- family: joins_not_on_user_key
-- expect: rejected
WITH g AS (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY 1)
SELECT g.channel, COUNT(DISTINCT i.user_key) AS n
FROM impressions i RIGHT JOIN g ON i.channel = g.channel GROUP BY 1;

-- name: aj_key_not_output
-- family: joins_not_on_user_key
-- expect: rejected
-- (g's rows are one per channel, but it does not say which: a join on its count may meet several)
WITH g AS (SELECT COUNT(*) AS n FROM impressions GROUP BY channel)
SELECT COUNT(*) AS rows_joined FROM impressions i JOIN g ON g.n > 0 AND i.cost = g.n;

-- name: aj_join_on_or
-- family: joins_not_on_user_key
-- expect: rejected
WITH g AS (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY 1)
SELECT COUNT(*) AS rows_joined FROM impressions i JOIN g ON i.channel = g.channel OR g.n > 0;
-- name: pk_timestamp_or_null_shifted
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
SELECT SUM(COALESCE(date_diff('day', ts, IF(campaign = 'CANARYCAMP3', ts + INTERVAL 1000000 DAY, NULL)), 1)) AS v
FROM impressions;

-- name: pk_timestamp_or_null_in_cte
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
WITH r AS (SELECT user_key, ts, CASE WHEN campaign = 'CANARYCAMP3' THEN ts + INTERVAL 1000000 DAY END AS t2
           FROM impressions)
SELECT SUM(COALESCE(date_diff('day', ts, t2), 1)) AS v FROM r;

-- name: pk_timestamp_branches_shifted_apart
-- family: small_groups
-- expect: rejected
-- decode: 1000000
-- truth: SELECT COUNT(*) FROM impressions WHERE campaign = 'CANARYCAMP3'
SELECT SUM(date_diff('day', ts, CASE WHEN campaign = 'CANARYCAMP3' THEN ts + INTERVAL 1000000 DAY
                                     ELSE ts + INTERVAL 1 DAY END)) AS v
FROM impressions;

-- name: qt_top_of_a_metric_window
-- family: member_aggregate
-- expect: withheld
-- withheld: v
-- decode: 1
-- truth: SELECT floor(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778
-- a filter on the metric puts person 100 at the top rank: the quantile reads their revenue
SELECT quantile_cont(revenue, 1.0) AS v FROM conversions WHERE revenue < 800;

-- name: qt_one_secret_among_bound_values
-- family: member_aggregate
-- expect: withheld
-- withheld: v
-- decode: 1
-- truth: SELECT floor(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778
-- everyone at 0 but person 100: the highest quantile is their revenue
SELECT quantile_disc(CASE WHEN revenue BETWEEN 777 AND 778 THEN revenue ELSE 0 END, 1.0) AS v
FROM conversions;

-- name: qt_median_of_a_middle_person
-- family: member_aggregate
-- expect: withheld
-- withheld: v
-- decode: 1
-- truth: SELECT floor(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778
-- as many people below as above person 100 (250.93 is the median of the revenues under 500,
-- found by an earlier query): the median is person 100's revenue, between 217 at 0 and 217 at 1000
SELECT median(CASE WHEN revenue BETWEEN 777 AND 778 THEN revenue
                   WHEN revenue < 250.93 THEN 0 ELSE 1000 END) AS v
FROM conversions
WHERE (revenue < 500 AND revenue <> 250.93) OR revenue BETWEEN 777 AND 778;

-- name: qt_blend_of_two_ranks
-- family: member_aggregate
-- expect: withheld
-- withheld: v
-- between 0 (held by hundreds) and person 100's revenue: a blend nobody holds, from which
-- their revenue follows
SELECT quantile_cont(CASE WHEN revenue BETWEEN 777 AND 778 THEN revenue ELSE 0 END, 0.999) AS v
FROM conversions;

-- name: qt_rounded_value_of_one_person
-- family: member_aggregate
-- expect: withheld
-- withheld: v
-- decode: 1
-- truth: SELECT round(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778
-- rounding makes ties, but person 100's rounded revenue is still theirs alone
SELECT quantile_disc(round(revenue), 1.0) AS v FROM conversions WHERE revenue < 800;

-- name: mm_top_of_a_metric_window
-- family: member_aggregate
-- expect: withheld
-- withheld: v
-- decode: 1
-- truth: SELECT floor(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778
-- MAX is QUANTILE_DISC(x, 1.0): a filter on the metric puts person 100 at the top
SELECT MAX(revenue) AS v FROM conversions WHERE revenue < 800;

-- name: mm_one_secret_among_zeros
-- family: member_aggregate
-- expect: withheld
-- withheld: v
-- decode: 1
-- truth: SELECT floor(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778
-- everyone at 0 but person 100: the maximum is their revenue
SELECT MAX(CASE WHEN revenue BETWEEN 777 AND 778 THEN revenue ELSE 0 END) AS v FROM conversions;

-- name: mm_bottom_of_a_filter
-- family: member_aggregate
-- expect: withheld
-- withheld: v
-- decode: 1
-- truth: SELECT floor(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778
-- a FILTER isolating one person: the minimum over it is theirs
SELECT MIN(revenue) FILTER (WHERE revenue > 777 AND revenue < 800) AS v FROM conversions;

-- name: mm_rounded_value_of_one_person
-- family: member_aggregate
-- expect: withheld
-- withheld: v
-- decode: 1
-- truth: SELECT round(revenue) FROM conversions WHERE revenue BETWEEN 777 AND 778
-- rounding makes ties, but person 100's rounded revenue is still theirs alone
SELECT MIN(round(revenue)) AS v FROM conversions WHERE revenue > 777 AND revenue < 800;

-- name: mm_first_seen_of_a_rare_campaign
-- family: member_aggregate
-- expect: withheld
-- withheld: v
-- decode: 1
-- truth: SELECT MIN(epoch(ts)) FROM impressions WHERE campaign = 'CANARYCAMP3'
-- the first time a 3-person campaign was seen is one of those people's event time
SELECT MIN(epoch(ts)) AS v FROM impressions WHERE campaign = 'CANARYCAMP3';

-- name: mm_last_day_of_one_person
-- family: member_aggregate
-- expect: withheld
-- withheld: v
-- decode: 1
-- truth: SELECT MAX(epoch(date_trunc('day', ts))) FROM conversions WHERE revenue BETWEEN 777 AND 778
-- a day is shared by many, but not under a filter that keeps one buyer
SELECT MAX(epoch(date_trunc('day', ts))) AS v FROM conversions WHERE revenue BETWEEN 777 AND 778;

-- name: qt_fraction_from_a_column
-- family: member_aggregate
-- expect: rejected
SELECT quantile_cont(revenue, revenue / 1000) AS v FROM conversions;

-- name: qt_median_of_user_key
-- family: member_aggregate
-- expect: rejected
SELECT median(user_key) AS v FROM conversions;

-- name: sk_output_session_key
-- family: hidden_projection
-- expect: rejected
SELECT concat(user_key, '-', channel) AS k, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: sk_session_key_equals_literal
-- family: targeting
-- expect: rejected
SELECT COUNT(DISTINCT CASE WHEN concat(user_key, '-') = '{{KEY_100}}-' THEN user_key END) AS n
FROM conversions;

-- name: sk_session_key_like_prefix
-- family: targeting
-- expect: rejected
SELECT COUNT(DISTINCT concat(user_key, channel)) AS n FROM impressions
WHERE concat(user_key, channel) LIKE '0%';

-- name: sk_substring_of_session_key
-- family: identifier_groups
-- expect: rejected
SELECT COUNT(DISTINCT substr(concat(user_key, channel), 1, 2)) AS n FROM impressions;

-- name: sk_left_of_session_key_grouped
-- family: identifier_groups
-- expect: rejected
SELECT left(concat(user_key, '-', channel), 2) AS p, COUNT(*) AS n FROM impressions GROUP BY 1;

-- name: sk_length_of_session_key
-- family: identifier_groups
-- expect: rejected
SELECT COUNT(DISTINCT length(concat(user_key, campaign))) AS n FROM impressions;

-- name: sk_group_by_session_key_in_final
-- family: identifier_groups
-- expect: rejected
SELECT COUNT(*) AS n FROM impressions GROUP BY concat(user_key, channel);

-- name: sk_session_key_in_cte_output
-- family: hidden_projection
-- expect: rejected
WITH s AS (SELECT concat(user_key, '-', channel) AS k FROM impressions)
SELECT COUNT(DISTINCT k) AS n FROM s;

-- name: sk_key_after_a_value
-- family: identifier_groups
-- expect: rejected
-- a value first could end in hex characters that shift two people's keys onto one string
SELECT COUNT(DISTINCT concat(channel, user_key)) AS n FROM impressions;

-- name: sk_key_of_a_condition
-- family: targeting
-- expect: rejected
-- NULL but for one person's rows: CONCAT would skip it and count the other values
SELECT COUNT(DISTINCT concat(CASE WHEN cost > 4.99 THEN user_key END, channel)) AS n FROM impressions;

-- name: sk_metric_in_session_key
-- family: metric_extraction
-- expect: rejected
SELECT COUNT(DISTINCT concat(user_key, cost)) AS n FROM impressions;

-- name: sk_missing_side_counts_values
-- family: small_groups
-- expect: no_rows
-- the outer join's missing side has a NULL user_key: CONCAT(NULL, campaign) is the campaign, so
-- raw DuckDB counts the 11 campaigns (the 3-person one among them); the gate counts no person
SELECT COUNT(DISTINCT concat(c.user_key, i.campaign)) AS v
FROM impressions i LEFT JOIN conversions c ON c.user_key = i.user_key AND c.revenue > 100000;

-- name: df_unsummable_column_summed_later
-- family: small_groups
-- expect: rejected
-- decode: 1000000
-- truth: SELECT floor(SUM(cost)) FROM impressions WHERE campaign = 'CANARYCAMP3'
-- a CTE column that no sum may take is refused where it is read (an unused one may stay)
WITH r AS (SELECT user_key, cost * CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 ELSE 0.000001 END AS v
           FROM impressions)
SELECT SUM(v) AS v FROM r;

-- name: df_unsummable_column_through_union
-- family: metric_extraction
-- expect: rejected
WITH r AS (SELECT user_key, cost * CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 ELSE 1 END AS v
           FROM impressions
           UNION ALL SELECT user_key, cost FROM impressions)
SELECT v, COUNT(*) AS n FROM r GROUP BY v;

-- name: df_unsummable_column_as_filter
-- family: small_groups
-- expect: rejected
WITH r AS (SELECT user_key, cost * CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 ELSE 1 END AS v
           FROM impressions)
SELECT COUNT(*) AS n FROM r WHERE v > 100;

-- name: df_unsummable_column_renamed_in_a_subquery
-- family: hidden_projection
-- expect: rejected
WITH r AS (SELECT user_key, cost * CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 ELSE 1 END AS v
           FROM impressions)
SELECT SUM(x) AS s FROM (SELECT user_key, v AS x FROM r);

-- name: dd_defined_column_packs_a_campaign
-- family: small_groups
-- expect: no_rows
-- decode: 1000000
-- truth: SELECT floor(SUM(cost)) FROM impressions WHERE campaign = 'CANARYCAMP3'
-- campaign and cost are passed on beside v: the later sum counts v's parts from its definition,
-- and the 3-person campaign's part withholds it
WITH r AS (SELECT user_key, campaign, cost,
                  cost * CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 ELSE 1 END AS v
           FROM impressions)
SELECT SUM(v) AS v FROM r;

-- name: dd_defined_column_input_renamed
-- family: small_groups
-- expect: rejected
-- decode: 1000000
-- truth: SELECT floor(SUM(cost)) FROM impressions WHERE campaign = 'CANARYCAMP3'
-- the campaign leaves under another name and channel under its name: v's definition cannot be
-- read off the relation's columns
WITH r AS (SELECT user_key, channel AS campaign, campaign AS c, cost,
                  cost * CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 ELSE 1 END AS v
           FROM impressions)
SELECT SUM(v) AS v FROM r;

-- name: dd_defined_column_per_user_sum
-- family: small_groups
-- expect: rejected
-- decode: 1000000
-- truth: SELECT floor(SUM(cost)) FROM impressions WHERE campaign = 'CANARYCAMP3'
WITH r AS (SELECT user_key, campaign, cost,
                  cost * CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 ELSE 1 END AS v
           FROM impressions),
     u AS (SELECT user_key, SUM(v) AS s FROM r GROUP BY user_key)
SELECT SUM(s) AS v FROM u;

-- name: dd_defined_column_as_filter
-- family: small_groups
-- expect: rejected
WITH r AS (SELECT user_key, campaign, cost,
                  cost * CASE WHEN campaign = 'CANARYCAMP3' THEN 1000000 ELSE 1 END AS v
           FROM impressions)
SELECT SUM(cost) FILTER (WHERE v > 1000) AS v FROM r;

-- name: tg_neq_key_literal
-- family: targeting
-- expect: rejected
-- user_key != <a key-shaped literal> removes one person from the count: only a literal that no
-- pseudonym can equal (ADH's user_id != '0') passes
SELECT COUNT(DISTINCT user_key) AS n FROM conversions WHERE user_key != '{{KEY_100}}';

-- name: tg_neq_key_literal_difference
-- family: targeting
-- expect: rejected
SELECT COUNT(DISTINCT user_key) - COUNT(DISTINCT CASE WHEN user_key <> '{{KEY_100}}' THEN user_key END) AS v
FROM conversions;

-- name: tg_neq_number_literal
-- family: targeting
-- expect: rejected
-- a number makes DuckDB cast the key, whose error would echo it
SELECT COUNT(*) AS n FROM conversions WHERE user_key != 0;

-- name: tg_neq_computed_literal
-- family: targeting
-- expect: rejected
-- a key built at run time is no literal
SELECT COUNT(*) AS n FROM conversions WHERE user_key <> lower('{{KEY_100}}');

-- name: ma_percentile_within_group_max
-- family: member_aggregate
-- expect: withheld
-- withheld: q
-- PERCENTILE_DISC(1.0) WITHIN GROUP (ORDER BY x) is quantile_disc(x, 1.0): the maximum, one
-- person's (101's clamped) revenue, withheld like any quantile that few people hold
SELECT PERCENTILE_DISC(1.0) WITHIN GROUP (ORDER BY revenue) AS q FROM conversions;

-- name: ma_percentile_within_group_desc
-- family: member_aggregate
-- expect: rejected
-- a descending order (the minimum for 1.0 read backwards) is not rewritten: unsupported
SELECT PERCENTILE_CONT(0.0) WITHIN GROUP (ORDER BY revenue DESC) AS q FROM conversions;

-- name: fj_coalesce_key_output
-- family: direct_projection
-- expect: rejected
-- COALESCE(i.user_key, c.user_key) over a FULL JOIN on the person is the person column
-- (published amc_iq_incremental_reach_timing_of_exposure): as such it may not reach the output
SELECT COALESCE(i.user_key, c.user_key) AS k FROM impressions i FULL JOIN conversions c ON i.user_key = c.user_key;

-- name: fj_coalesce_key_grouped_output
-- family: hidden_projection
-- expect: rejected
SELECT COALESCE(i.user_key, c.user_key) AS k, COUNT(*) AS n
FROM impressions i FULL JOIN conversions c ON i.user_key = c.user_key GROUP BY 1;

-- name: fj_coalesce_key_through_cte
-- family: direct_projection
-- expect: rejected
WITH p AS (SELECT COALESCE(i.user_key, c.user_key) AS k, i.ts FROM impressions i
           FULL JOIN conversions c ON i.user_key = c.user_key GROUP BY 1, 2)
SELECT k FROM p;

-- name: fj_coalesce_key_target
-- family: targeting
-- expect: rejected
WITH p AS (SELECT COALESCE(i.user_key, c.user_key) AS k FROM impressions i
           FULL JOIN conversions c ON i.user_key = c.user_key GROUP BY 1)
SELECT COUNT(*) AS n FROM p WHERE k = '{{KEY_100}}';

-- name: fj_coalesce_key_transform
-- family: identifier_groups
-- expect: rejected
SELECT substr(COALESCE(i.user_key, c.user_key), 1, 2) AS p, COUNT(*) AS n
FROM impressions i FULL JOIN conversions c ON i.user_key = c.user_key GROUP BY 1;

-- name: fj_coalesce_key_small_campaign
-- family: small_groups
-- expect: no_rows
WITH p AS (SELECT COALESCE(i.user_key, c.user_key) AS k, MIN(i.ts) AS first_ts FROM impressions i
           FULL JOIN conversions c ON i.user_key = c.user_key WHERE i.campaign = 'CANARYCAMP3' GROUP BY 1)
SELECT COUNT(DISTINCT k) AS reach FROM p;

-- name: fj_coalesce_other_column
-- family: identifier_groups
-- expect: rejected
-- COALESCE of a person's key and another value is no person: still a transform
SELECT COUNT(DISTINCT k) AS n FROM (SELECT COALESCE(i.user_key, i.channel) AS k FROM impressions i
  FULL JOIN conversions c ON i.user_key = c.user_key) p;

-- name: const_distinct_lookup_key_repeated
-- family: joins_not_on_user_key
-- expect: rejected
-- SELECT DISTINCT over a VALUES list stays a constant lookup, but only on a key that tells its
-- rows apart: ('search', 1) and ('search', 1000000) would fan a row out into two weights
SELECT v.w, COUNT(*) AS n FROM impressions i
JOIN (SELECT DISTINCT k, w FROM (VALUES ('search', 1), ('search', 1000000)) t(k, w)) v ON i.channel = v.k
GROUP BY 1;

-- name: const_distinct_on_lookup
-- family: joins_not_on_user_key
-- expect: rejected
SELECT v.w, COUNT(*) AS n FROM impressions i
JOIN (SELECT DISTINCT ON (k) k, w FROM (VALUES ('search', 1), ('social', 2)) t(k, w)) v ON i.channel = v.k
GROUP BY 1;

-- name: tally_union_cost_group_key
-- family: metric_extraction
-- expect: rejected
-- a per-user SUM of two UNION ALLed per-user SUMs is a count of rows only when both are counts
-- of a 0/1 metric; cost is not one, so its per-person total stays no group key
WITH s AS (SELECT user_key, SUM(cost) AS c FROM impressions WHERE channel = 'search' GROUP BY 1
           UNION ALL SELECT user_key, SUM(cost) AS c FROM impressions WHERE channel <> 'search' GROUP BY 1),
t AS (SELECT user_key, SUM(c) AS c FROM s GROUP BY 1)
SELECT CONCAT('total_', c) AS bucket, COUNT(DISTINCT user_key) AS n FROM t GROUP BY 1;
