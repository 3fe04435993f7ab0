-- Legitimate analyst queries: each must be accepted and return the same numbers as the same SQL
-- run straight on DuckDB over the same (clamped) tables, except for rows standing on fewer than
-- min_users_per_row (50) people.
--
-- Header lines before each query:
--   -- name: <id>          starts an entry
--   -- suppressed: N       rows the release must withhold (default 0)
--   -- dropped: N          raw rows that vanish because an intermediate aggregate was thresholded
--   -- held_back: N        small groups HAVING would have dropped: the final SELECT keeps every
--                          group below the threshold so they are all suppressed (and counted)
--   -- ordered             compare rows in order (the query has a deterministic ORDER BY)
--   -- limit               the query ends in LIMIT: compare only the released rows, in order
-- The canary data (tests/canary.py): 1,200 people, 5 channels plus one channel seen by 7 people,
-- 10 campaigns plus one seen by 3 people, conversions for about a third of the people.

-- name: reach_by_channel
-- suppressed: 1
SELECT channel, COUNT(DISTINCT user_key) AS reach
FROM impressions
GROUP BY channel;

-- name: impressions_reach_frequency_by_channel
-- suppressed: 1
SELECT channel,
       COUNT(*) AS impressions,
       COUNT(DISTINCT user_key) AS reach,
       COUNT(*) * 1.0 / COUNT(DISTINCT user_key) AS avg_frequency
FROM impressions
GROUP BY channel;

-- name: reach_by_campaign
-- suppressed: 1
SELECT campaign, COUNT(DISTINCT user_key) AS reach
FROM impressions
GROUP BY campaign;

-- name: totals_without_group
SELECT COUNT(*) AS impressions, COUNT(DISTINCT user_key) AS people, SUM(cost) AS spend
FROM impressions;

-- name: spend_by_channel
-- suppressed: 1
SELECT channel, SUM(cost) AS spend, AVG(cost) AS avg_cost
FROM impressions
GROUP BY channel;

-- name: conversion_totals
SELECT COUNT(*) AS conversions, SUM(revenue) AS revenue, AVG(revenue) AS aov
FROM conversions;

-- name: conversions_by_week
SELECT date_trunc('week', ts) AS week, COUNT(*) AS conversions, SUM(revenue) AS revenue
FROM conversions
WHERE ts >= TIMESTAMP '2026-09-07' AND ts < TIMESTAMP '2026-10-05'
GROUP BY 1
ORDER BY 1;

-- name: first_touch_attribution
-- suppressed: 1
WITH first_touch AS (
    SELECT i.user_key, arg_min(i.channel, i.ts) AS channel
    FROM impressions i
    JOIN conversions c ON i.user_key = c.user_key AND i.ts <= c.ts
    GROUP BY i.user_key
)
SELECT channel, COUNT(*) AS conversions
FROM first_touch
GROUP BY channel;

-- name: last_touch_attribution_row_number
-- suppressed: 2
WITH touches AS (
    SELECT i.channel, c.revenue,
           ROW_NUMBER() OVER (PARTITION BY i.user_key ORDER BY i.ts DESC) AS rn
    FROM impressions i
    JOIN conversions c ON i.user_key = c.user_key AND i.ts <= c.ts
)
SELECT channel, COUNT(*) AS conversions, SUM(revenue) AS revenue
FROM touches
WHERE rn = 1
GROUP BY channel;

-- name: last_touch_attribution_qualify
-- suppressed: 2
WITH last_touch AS (
    SELECT i.user_key, i.channel, c.revenue
    FROM impressions i
    JOIN conversions c ON i.user_key = c.user_key AND i.ts <= c.ts
    QUALIFY ROW_NUMBER() OVER (PARTITION BY i.user_key ORDER BY i.ts DESC) = 1
)
SELECT channel, COUNT(DISTINCT user_key) AS converters, SUM(revenue) AS revenue
FROM last_touch
GROUP BY channel;

-- name: linear_attribution
-- suppressed: 1
WITH weighted AS (
    SELECT i.channel, c.revenue,
           1.0 / COUNT(*) OVER (PARTITION BY i.user_key) AS weight
    FROM impressions i
    JOIN conversions c ON i.user_key = c.user_key AND i.ts <= c.ts
)
SELECT channel, SUM(weight) AS credited_conversions, SUM(revenue * weight) AS credited_revenue
FROM weighted
GROUP BY channel;

-- name: first_and_last_touch_windows
-- suppressed: 1
WITH paths AS (
    SELECT i.user_key,
           FIRST_VALUE(i.channel) OVER (PARTITION BY i.user_key ORDER BY i.ts) AS first_channel,
           LAST_VALUE(i.channel) OVER (PARTITION BY i.user_key ORDER BY i.ts
               ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last_channel
    FROM impressions i
    WHERE i.user_key IN (SELECT user_key FROM conversions)
)
SELECT first_channel, COUNT(DISTINCT user_key) AS converters
FROM paths
GROUP BY first_channel;

-- name: time_to_conversion
WITH first_seen AS (
    SELECT user_key, MIN(ts) AS first_ts
    FROM impressions
    GROUP BY user_key
)
SELECT AVG(date_diff('hour', f.first_ts, c.ts)) AS avg_hours_to_convert,
       COUNT(*) AS conversions
FROM first_seen f
JOIN conversions c ON f.user_key = c.user_key
WHERE c.ts >= f.first_ts;

-- name: time_to_conversion_by_first_channel
-- suppressed: 1
WITH first_seen AS (
    SELECT user_key, MIN(ts) AS first_ts, arg_min(channel, ts) AS first_channel
    FROM impressions
    GROUP BY user_key
)
SELECT f.first_channel, AVG(date_diff('day', f.first_ts, c.ts)) AS avg_days, COUNT(*) AS n
FROM first_seen f
JOIN conversions c ON f.user_key = c.user_key
GROUP BY f.first_channel;

-- name: path_length_distribution
-- suppressed: 4
WITH paths AS (
    SELECT user_key, COUNT(*) AS touches
    FROM impressions
    GROUP BY user_key
)
SELECT touches, COUNT(*) AS people
FROM paths
GROUP BY touches;

-- name: path_entry_points
-- suppressed: 1
WITH paths AS (
    SELECT user_key, string_agg(channel, ' > ' ORDER BY ts) AS path, COUNT(*) AS touches
    FROM impressions
    GROUP BY user_key
)
SELECT split_part(path, ' > ', 1) AS entry_channel, COUNT(*) AS people, AVG(touches) AS avg_touches
FROM paths
GROUP BY 1;

-- name: converting_path_starts
-- suppressed: 1
WITH paths AS (
    SELECT i.user_key, list(i.channel ORDER BY i.ts) AS steps
    FROM impressions i
    JOIN conversions c ON i.user_key = c.user_key
    GROUP BY i.user_key
)
SELECT steps[1] AS first_step, COUNT(*) AS converters
FROM paths
GROUP BY 1;

-- name: frequency_distribution_buckets
WITH freq AS (
    SELECT user_key, COUNT(*) AS n FROM impressions GROUP BY user_key
)
SELECT CASE WHEN n >= 6 THEN '6+' WHEN n >= 3 THEN '3-5' ELSE '1-2' END AS bucket,
       COUNT(*) AS people,
       AVG(n) AS avg_impressions
FROM freq
GROUP BY 1;

-- name: reach_and_average_frequency
WITH freq AS (
    SELECT user_key, COUNT(*) AS n FROM impressions GROUP BY user_key
)
SELECT COUNT(*) AS reach, AVG(n) AS avg_frequency, SUM(n) AS impressions
FROM freq;

-- name: overlap_in_subquery
SELECT COUNT(DISTINCT user_key) AS exposed_converters
FROM conversions
WHERE user_key IN (SELECT user_key FROM impressions);

-- name: overlap_by_join
SELECT COUNT(DISTINCT c.user_key) AS exposed_converters, COUNT(DISTINCT i.user_key) AS people
FROM impressions i
JOIN conversions c ON i.user_key = c.user_key;

-- name: overlap_by_intersect
SELECT COUNT(*) AS both_sides
FROM (SELECT user_key FROM impressions INTERSECT SELECT user_key FROM conversions) AS o;

-- name: unexposed_converters_except
SELECT COUNT(*) AS people
FROM (SELECT user_key FROM impressions EXCEPT SELECT user_key FROM conversions) AS e;

-- name: conversion_rate_by_channel
-- suppressed: 1
WITH exposed AS (
    SELECT user_key, channel FROM impressions GROUP BY user_key, channel
)
SELECT e.channel,
       COUNT(*) AS exposed,
       COUNT(c.user_key) AS converters,
       COUNT(c.user_key) * 1.0 / COUNT(*) AS conversion_rate
FROM exposed e
LEFT JOIN conversions c ON e.user_key = c.user_key
GROUP BY e.channel;

-- name: conversion_rate_case_indicator
-- suppressed: 1
WITH exposed AS (
    SELECT user_key, channel FROM impressions GROUP BY user_key, channel
)
SELECT e.channel,
       AVG(CASE WHEN c.user_key IS NOT NULL THEN 1 ELSE 0 END) AS conversion_rate,
       SUM(CASE WHEN c.user_key IS NULL THEN 1 ELSE 0 END) AS non_converters
FROM exposed e
LEFT JOIN conversions c ON e.user_key = c.user_key
GROUP BY e.channel;

-- name: non_converters_is_null
SELECT COUNT(DISTINCT i.user_key) AS non_converters
FROM impressions i
LEFT JOIN conversions c ON i.user_key = c.user_key
WHERE c.user_key IS NULL;

-- name: revenue_per_exposed_person
-- suppressed: 1
WITH exposed AS (
    SELECT user_key, channel FROM impressions GROUP BY user_key, channel
)
SELECT e.channel, SUM(c.revenue) / COUNT(DISTINCT e.user_key) AS revenue_per_person
FROM exposed e
LEFT JOIN conversions c ON e.user_key = c.user_key
GROUP BY e.channel;

-- name: weekly_spend_cte_then_average
-- dropped: 1
WITH weekly AS (
    SELECT channel, date_trunc('week', ts) AS week, SUM(cost) AS spend
    FROM impressions
    GROUP BY channel, date_trunc('week', ts)
)
SELECT channel, AVG(spend) AS avg_weekly_spend, COUNT(*) AS weeks
FROM weekly
GROUP BY channel;

-- name: share_of_reach_scalar_subquery
-- suppressed: 1
SELECT channel,
       COUNT(DISTINCT user_key) * 1.0 / (SELECT COUNT(DISTINCT user_key) FROM impressions) AS share
FROM impressions
GROUP BY channel;

-- name: union_all_of_aggregates
SELECT 'impressions' AS source, COUNT(DISTINCT user_key) AS people FROM impressions
UNION ALL
SELECT 'conversions' AS source, COUNT(DISTINCT user_key) AS people FROM conversions;

-- name: top_campaigns_order_limit
-- limit
SELECT campaign, COUNT(*) AS impressions
FROM impressions
GROUP BY campaign
ORDER BY impressions DESC, campaign
LIMIT 3;

-- name: channels_ordered
-- suppressed: 1
-- ordered
SELECT channel, COUNT(DISTINCT user_key) AS reach
FROM impressions
GROUP BY channel
ORDER BY channel;

-- name: filter_clause
-- suppressed: 1
SELECT channel,
       COUNT(*) FILTER (WHERE cost > 2.5) AS pricey,
       COUNT(*) AS impressions,
       SUM(cost) FILTER (WHERE cost > 2.5) AS pricey_spend
FROM impressions
GROUP BY channel;

-- name: count_if
-- suppressed: 1
SELECT channel, count_if(cost > 2) AS above_two
FROM impressions
GROUP BY channel;

-- name: distinct_channels
-- suppressed: 1
SELECT DISTINCT channel FROM impressions;

-- name: cost_buckets_case
SELECT CASE WHEN cost < 1 THEN 'low' WHEN cost < 3 THEN 'mid' ELSE 'high' END AS bucket,
       COUNT(*) AS impressions
FROM impressions
GROUP BY 1;

-- name: conversions_within_seven_days_of_exposure
-- suppressed: 1
SELECT i.channel, COUNT(DISTINCT c.user_key) AS converters
FROM impressions i
JOIN conversions c
  ON i.user_key = c.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 7 DAY
GROUP BY i.channel;

-- name: hour_of_day
SELECT date_part('hour', ts) AS hour, COUNT(*) AS impressions
FROM impressions
GROUP BY 1;

-- name: day_of_week
SELECT dayofweek(ts) AS dow, COUNT(DISTINCT user_key) AS people
FROM impressions
GROUP BY dow;

-- name: group_by_all
-- suppressed: 1
SELECT channel, COUNT(*) AS impressions
FROM impressions
GROUP BY ALL;

-- name: having_on_people
-- suppressed: 1
-- held_back: 1
SELECT campaign, COUNT(DISTINCT user_key) AS reach
FROM impressions
GROUP BY campaign
HAVING COUNT(DISTINCT user_key) > 380;

-- name: having_on_alias
-- suppressed: 1
SELECT channel, COUNT(*) AS impressions
FROM impressions
GROUP BY channel
HAVING impressions > 5;

-- name: gap_between_impressions
-- suppressed: 1
WITH gaps AS (
    SELECT user_key, channel,
           date_diff('hour', LAG(ts) OVER (PARTITION BY user_key ORDER BY ts), ts) AS hours_since_previous
    FROM impressions
)
SELECT channel, AVG(hours_since_previous) AS avg_gap_hours, COUNT(hours_since_previous) AS gaps
FROM gaps
GROUP BY channel;

-- name: revenue_by_frequency
WITH freq AS (
    SELECT user_key, COUNT(*) AS n FROM impressions GROUP BY user_key
)
SELECT CASE WHEN f.n >= 4 THEN '4+' ELSE '1-3' END AS exposure, COUNT(*) AS converters,
       SUM(c.revenue) AS revenue
FROM freq f
JOIN conversions c ON f.user_key = c.user_key
GROUP BY 1;

-- name: converters_who_saw_search
SELECT COUNT(*) AS conversions, AVG(revenue) AS aov
FROM conversions
WHERE user_key IN (SELECT user_key FROM impressions WHERE channel = 'search');

-- name: not_in_subquery
SELECT COUNT(*) AS conversions
FROM conversions
WHERE user_key NOT IN (SELECT user_key FROM impressions WHERE channel = 'email');

-- name: case_insensitive_identifiers
-- suppressed: 1
SELECT CHANNEL, COUNT(DISTINCT "User_Key") AS Reach
FROM Impressions
GROUP BY Channel;

-- name: quoted_mixed_case_alias
-- suppressed: 1
SELECT channel AS "Channel", COUNT(*) AS "Impressions"
FROM impressions AS "I"
GROUP BY 1;

-- name: roas_per_user_join
WITH spend AS (
    SELECT user_key, SUM(cost) AS cost FROM impressions GROUP BY user_key
), sales AS (
    SELECT user_key, SUM(revenue) AS revenue FROM conversions GROUP BY user_key
)
SELECT SUM(sales.revenue) / SUM(spend.cost) AS roas, COUNT(*) AS converters
FROM spend
JOIN sales ON spend.user_key = sales.user_key;

-- name: concatenated_dimensions
-- suppressed: 14
SELECT channel || '/' || campaign AS placement, COUNT(*) AS impressions
FROM impressions
GROUP BY 1;

-- name: coalesce_and_lower_dimension
-- suppressed: 1
SELECT lower(COALESCE(channel, 'unknown')) AS channel_name, COUNT(*) AS impressions
FROM impressions
GROUP BY 1;

-- name: from_first_syntax
-- suppressed: 1
FROM impressions SELECT channel, COUNT(*) AS impressions GROUP BY channel;

-- name: star_inside_cte_then_aggregate
-- suppressed: 1
WITH rows AS (SELECT * FROM impressions)
SELECT channel, COUNT(DISTINCT user_key) AS reach FROM rows GROUP BY channel;

-- name: using_join
SELECT COUNT(DISTINCT user_key) AS exposed_converters, SUM(c.revenue) AS revenue
FROM conversions c
JOIN (SELECT DISTINCT user_key FROM impressions) i USING (user_key);

-- name: union_all_of_people_rows_then_aggregate
SELECT source, COUNT(DISTINCT user_key) AS people
FROM (
    SELECT user_key, 'impression' AS source FROM impressions
    UNION ALL
    SELECT user_key, 'conversion' AS source FROM conversions
) AS events
GROUP BY source;

-- name: ratio_of_aggregates_cast
-- suppressed: 1
SELECT channel, CAST(COUNT(*) AS DOUBLE) / COUNT(DISTINCT user_key) AS frequency,
       round(SUM(cost), 2) AS spend
FROM impressions
GROUP BY channel;

-- name: converters_among_exposed_filter_in_subquery
-- suppressed: 1
SELECT channel,
       COUNT(DISTINCT user_key) AS reach,
       COUNT(DISTINCT user_key) FILTER (WHERE user_key IN (SELECT user_key FROM conversions)) AS converters
FROM impressions
GROUP BY channel;

-- name: hourly_share_window_over_thresholded_rows
WITH hourly AS (
    SELECT date_part('hour', ts) AS hour, COUNT(*) AS n FROM impressions GROUP BY 1
)
SELECT hour, n, n * 1.0 / SUM(n) OVER () AS share, RANK() OVER (ORDER BY n DESC, hour) AS rnk
FROM hourly;

-- name: touch_position_in_path
-- suppressed: 2
WITH positioned AS (
    SELECT user_key, channel, ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY ts) AS pos
    FROM impressions
)
SELECT pos, channel, COUNT(*) AS touches
FROM positioned
WHERE pos <= 2
GROUP BY pos, channel;

-- name: lateral_alias_in_projection
-- suppressed: 1
SELECT channel, COUNT(*) AS n, n * 2 AS doubled
FROM impressions
GROUP BY channel;

-- name: order_limit_offset
-- limit
SELECT channel, COUNT(*) AS impressions
FROM impressions
GROUP BY channel
ORDER BY impressions DESC, channel
LIMIT 2 OFFSET 1;

-- name: last_exposure_before_conversion_per_user
-- suppressed: 2
WITH last_seen AS (
    SELECT i.user_key, arg_max(i.channel, i.ts) AS last_channel, max(i.ts) AS last_ts
    FROM impressions i
    JOIN conversions c ON i.user_key = c.user_key AND i.ts <= c.ts
    GROUP BY i.user_key
)
SELECT l.last_channel, COUNT(*) AS conversions, AVG(date_diff('hour', l.last_ts, c.ts)) AS avg_hours
FROM last_seen l
JOIN conversions c USING (user_key)
GROUP BY 1;

-- name: amc_cost_scaled_before_summing
-- stream: values
-- source: AMC instructional query "total cost by campaign" (SUM(total_cost / 100000) to dollars)
-- suppressed: 1
SELECT channel, SUM(cost / 100000) AS cost_k, SUM(cost * 0.4) AS cost_share,
       SUM(cost * 0.4) FILTER (WHERE campaign LIKE '%c1') AS flight_one_share
FROM impressions
GROUP BY channel;

-- name: metric_scaled_per_person_then_summed
-- source: AMC "revenue in hundreds" over a per-user CTE; constant scaling in a row-level CTE
WITH u AS (SELECT user_key, revenue * 0.01 AS rev_hundreds FROM conversions)
SELECT SUM(rev_hundreds) AS rev_hundreds, AVG(rev_hundreds) AS avg_hundreds FROM u;

-- name: coalesce_metric_over_left_join
-- source: Snowflake DCR overlap templates (IFNULL/COALESCE of the other party's metric)
-- suppressed: 1
SELECT i.channel, SUM(COALESCE(c.revenue, 0)) AS revenue, COUNT(DISTINCT i.user_key) AS reach
FROM impressions i LEFT JOIN conversions c ON i.user_key = c.user_key
GROUP BY i.channel;

-- name: ifnull_sum_of_two_metrics
-- source: AMC sponsored-ads UNION template (IFNULL(spend, 0) + IFNULL(sales, 0))
-- suppressed: 1
SELECT i.channel, SUM(IFNULL(c.revenue, 0) + IFNULL(i.cost, 0)) AS total_value
FROM impressions i LEFT JOIN conversions c ON i.user_key = c.user_key
GROUP BY i.channel;

-- name: if_and_case_else_zero_metrics
-- source: AMC instructional queries (SUM(IF(...)) pivots, CASE WHEN ... THEN m ELSE 0 END)
SELECT SUM(IF(channel = 'search', cost, 0)) AS search_cost,
       SUM(CASE WHEN channel = 'video' THEN cost ELSE 0 END) AS video_cost,
       SUM(CASE WHEN channel = 'display' THEN cost * 0.4 ELSE 0 END) AS display_share
FROM impressions;

-- name: spread_of_cost_by_channel
-- source: Snowflake DCR measurement templates (STDDEV/VARIANCE of a metric across people)
-- suppressed: 1
SELECT channel, STDDEV_POP(cost) AS sd_pop, VAR_POP(cost) AS var_pop,
       STDDEV_SAMP(cost) AS sd_samp, VAR_SAMP(cost) AS var_samp
FROM impressions
GROUP BY channel;

-- name: spread_of_revenue_per_person
-- source: Snowflake DCR measurement templates (spread of per-person totals)
WITH u AS (SELECT user_key, SUM(revenue) AS total FROM conversions GROUP BY user_key)
SELECT STDDEV_POP(total) AS sd, VAR_SAMP(total) AS var, AVG(total) AS mean FROM u;

-- name: unused_cte_weight_columns
-- source: dbt attribution playbook (with_points CTE: weight columns a report may not read)
-- suppressed: 1
WITH t AS (
    SELECT user_key, channel, cost * 0.4 AS w, 0.4 AS k,
           CASE WHEN channel = 'search' THEN 0.4 ELSE 0.2 END AS v
    FROM impressions
)
SELECT channel, COUNT(DISTINCT user_key) AS people FROM t GROUP BY channel;

-- name: position_based_forty_twenty_forty
-- source: dbt attribution playbook (forty_twenty_forty_points, summed and times revenue)
-- suppressed: 1
WITH touches AS (
    SELECT user_key, channel,
           ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY ts, user_key) AS pos,
           COUNT(*) OVER (PARTITION BY user_key) AS n
    FROM impressions
)
SELECT t.channel,
       SUM(CASE WHEN t.pos = 1 THEN 0.4 WHEN t.pos = t.n THEN 0.4 ELSE 0.2 / (t.n - 2) END) AS points,
       SUM(c.revenue * CASE WHEN t.pos = 1 THEN 0.4 WHEN t.pos = t.n THEN 0.4
                            ELSE 0.2 / (t.n - 2) END) AS revenue_points
FROM touches t JOIN conversions c ON t.user_key = c.user_key
GROUP BY t.channel;

-- name: window_order_by_user_key_tie_break
-- source: GA4 path SQL (ROW_NUMBER() OVER (PARTITION BY user_pseudo_id ORDER BY event_timestamp, user_pseudo_id))
-- suppressed: 1
WITH positioned AS (
    SELECT user_key, channel, ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY ts, user_key) AS pos
    FROM impressions
)
SELECT channel, COUNT(*) AS first_touches FROM positioned WHERE pos = 1 GROUP BY channel;

-- name: hours_to_convert_clamped
-- source: AMC "time to conversion" (date_diff between exposure and conversion, clamped with LEAST/GREATEST)
-- suppressed: 1
SELECT i.channel, AVG(LEAST(GREATEST(date_diff('hour', i.ts, c.ts), 0), 720)) AS avg_hours
FROM impressions i JOIN conversions c ON i.user_key = c.user_key
GROUP BY i.channel;

-- name: dbt_forty_twenty_forty_in_a_cte
-- source: dbt attribution playbook attribution_touches.sql (with_points CTE, then sum(forty_twenty_forty_points))
-- suppressed: 1
WITH touches AS (
    SELECT user_key, channel,
           ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY ts) AS session_index,
           COUNT(*) OVER (PARTITION BY user_key) AS total_sessions
    FROM impressions
),
with_points AS (
    SELECT user_key, channel,
           CASE WHEN session_index = 1 THEN 0.4
                WHEN session_index = total_sessions THEN 0.4
                ELSE 0.2 / (total_sessions - 2) END AS forty_twenty_forty_points,
           1.0 / total_sessions AS linear_points
    FROM touches
)
SELECT channel, SUM(forty_twenty_forty_points) AS position_based, SUM(linear_points) AS linear
FROM with_points
GROUP BY channel;

-- name: metric_through_nullif_abs_least_greatest
-- source: AMC instructional queries (NULLIF(spend, 0) guards, LEAST/GREATEST caps on sales)
-- suppressed: 1
SELECT i.channel, SUM(NULLIF(i.cost, 0)) AS cost, SUM(abs(i.cost)) AS abs_cost,
       SUM(LEAST(c.revenue, 500)) AS capped_revenue, AVG(GREATEST(i.cost, 1)) AS floored_cost
FROM impressions i JOIN conversions c ON i.user_key = c.user_key
GROUP BY i.channel;
