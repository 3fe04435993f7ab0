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

-- stream: structure
-- Structural idioms of published clean-room SQL (issue 8, "Too strict"): each was refused before.

-- name: structure_trailing_comment
-- suppressed: 1
-- (AMC instructional queries end with a comment line after the final semicolon)
SELECT channel, COUNT(DISTINCT user_key) AS reach
FROM impressions
GROUP BY channel; -- reach by channel
-- end of query

-- name: structure_distinct_parenthesised_user_key
-- (Snowflake DCR templates: SELECT DISTINCT(user_key) in the per-user CTE)
WITH buyers AS (SELECT DISTINCT(user_key) FROM conversions)
SELECT COUNT(*) AS buyers FROM buyers;

-- name: structure_distinct_parenthesised_joined
-- suppressed: 1
WITH exposed AS (SELECT DISTINCT(user_key), channel FROM impressions)
SELECT e.channel, COUNT(DISTINCT c.user_key) AS converters
FROM exposed e JOIN conversions c ON e.user_key = c.user_key
GROUP BY e.channel;

-- name: structure_distinct_with_group_by
-- suppressed: 1
SELECT DISTINCT channel, COUNT(*) AS impressions, COUNT(DISTINCT user_key) AS reach
FROM impressions
GROUP BY channel;

-- name: structure_distinct_with_group_by_expression
-- suppressed: 2
SELECT DISTINCT date_trunc('week', ts) AS week, COUNT(DISTINCT user_key) AS reach
FROM conversions
GROUP BY 1;

-- name: structure_distinct_single_aggregate_row
SELECT DISTINCT COUNT(DISTINCT user_key) AS people, SUM(revenue) AS revenue
FROM conversions;

-- name: structure_having_alias_shadows_metric
-- suppressed: 1
-- held_back: 1
-- (HAVING on an alias that shadows a column: DuckDB binds the alias when the column is not a
-- group key)
SELECT channel, SUM(cost) AS cost
FROM impressions
GROUP BY channel
HAVING cost > 1000;

-- name: structure_having_alias_shadows_metric_and_aggregate
-- suppressed: 1
-- held_back: 1
SELECT channel, SUM(cost) AS cost, COUNT(*) AS n
FROM impressions
GROUP BY channel
HAVING cost > 1000 AND SUM(cost) FILTER (WHERE cost > 1) > 10;

-- name: structure_having_group_key_wins_over_alias
-- suppressed: 1
-- (the column is a group key: DuckDB binds the column, not the alias)
SELECT upper(channel) AS channel, COUNT(*) AS n
FROM impressions
GROUP BY channel
HAVING channel <> 'email';

-- name: structure_having_alias_of_group_expression
-- suppressed: 1
SELECT upper(channel) AS channel, COUNT(*) AS n
FROM impressions
GROUP BY upper(channel)
HAVING channel <> 'EMAIL';

-- name: structure_comma_join_where_user_key
-- suppressed: 1
-- (ADH / AWS Clean Rooms samples join with FROM a, b WHERE a.user_id = b.user_id)
SELECT i.channel, COUNT(DISTINCT c.user_key) AS converters, SUM(c.revenue) AS revenue
FROM impressions i, conversions c
WHERE i.user_key = c.user_key AND i.ts < c.ts
GROUP BY i.channel;

-- name: structure_comma_join_three_ways
-- suppressed: 1
SELECT a.channel, COUNT(*) AS pairs
FROM impressions a, conversions c, impressions b
WHERE c.user_key = b.user_key
  AND (a.user_key = c.user_key)
  AND a.ts < b.ts
GROUP BY a.channel;

-- name: structure_comma_join_in_per_user_cte
WITH touched AS (
  SELECT c.user_key, COUNT(*) AS touches, MIN(c.revenue) AS revenue
  FROM impressions i, conversions c
  WHERE c.user_key = i.user_key AND i.ts <= c.ts
  GROUP BY c.user_key
)
SELECT COUNT(*) AS converters, SUM(touches) AS touches, SUM(revenue) AS revenue FROM touched;

-- name: structure_comma_join_after_left_join
SELECT COUNT(DISTINCT i.user_key) AS people, COUNT(c.user_key) AS with_conversion
FROM impressions i LEFT JOIN conversions c ON c.user_key = i.user_key, impressions j
WHERE j.user_key = i.user_key AND j.channel = 'search';

-- name: structure_values_cte_channel_groups
-- (AMC instructional queries map campaigns or channels to groups with a VALUES list in a CTE)
WITH channel_groups(channel, channel_group) AS (
  VALUES ('search', 'paid'), ('social', 'paid'), ('display', 'paid'), ('video', 'paid'),
         ('email', 'owned')
)
SELECT g.channel_group, COUNT(DISTINCT i.user_key) AS reach, COUNT(*) AS impressions
FROM impressions i
JOIN channel_groups g ON i.channel = g.channel
GROUP BY g.channel_group;

-- name: structure_values_left_join_unmatched_null
-- (a LEFT JOIN keeps the rows no entry matches, with NULL labels)
SELECT g.label, COUNT(DISTINCT i.user_key) AS reach
FROM impressions i
LEFT JOIN (VALUES ('search', 'Search'), ('social', 'Social')) AS g(channel, label)
  ON g.channel = i.channel
GROUP BY g.label;

-- name: structure_values_inline_join_with_metric
-- suppressed: 1
-- (Snowflake DCR templates join a parameter list inline; a second key column narrows it)
SELECT i.channel, t.tier, SUM(i.cost) AS spend, COUNT(*) AS impressions
FROM impressions i
JOIN (VALUES ('search', '1', 'A'), ('search', '2', 'B'), ('social', '1', 'A'),
             ('social', '2', 'B'), ('CANARYCHAN7', '1', 'A'))
  AS t(channel, flight, tier)
  ON i.channel = t.channel AND right(i.campaign, 1) = t.flight
GROUP BY i.channel, t.tier;

-- name: structure_values_indicator_summed
-- partial: 1
-- (the paid-impression sum stands on all but the few people seen only by e-mail: within k of
-- COUNT(*)'s people, it is withheld by the difference check inside one row)
-- (a 0/1 flag looked up per channel is an indicator, like CASE WHEN ... THEN 1 ELSE 0 END)
SELECT SUM(f.is_paid) AS paid_impressions, COUNT(*) AS impressions
FROM impressions i
JOIN (VALUES ('search', 1), ('social', 1), ('display', 1), ('video', 1), ('email', 0)) f(channel, is_paid)
  ON i.channel = f.channel;

-- name: structure_values_union_all_constants
-- (constant rows spelled as SELECT ... UNION ALL SELECT ...)
WITH targets AS (
  SELECT 'search' AS channel, 'intent' AS goal
  UNION ALL SELECT 'display', 'awareness'
  UNION ALL SELECT 'video', 'awareness'
)
SELECT t.goal, COUNT(DISTINCT i.user_key) AS reach
FROM impressions i JOIN targets t ON t.channel = i.channel
GROUP BY t.goal;

-- name: structure_values_star_in_per_user_cte
WITH labelled AS (
  SELECT i.*, g.*
  FROM impressions i
  JOIN (VALUES ('search', 'paid'), ('email', 'owned')) g(g_channel, g_group)
    ON i.channel = g.g_channel
),
per_user AS (
  SELECT user_key, g_group, COUNT(*) AS touches FROM labelled GROUP BY user_key, g_group
)
SELECT g_group, COUNT(*) AS people, SUM(touches) AS touches FROM per_user GROUP BY g_group;

-- name: structure_values_joined_to_aggregates
-- (a constant list joined to thresholded rows: no people's rows involved)
WITH by_channel AS (
  SELECT channel, COUNT(DISTINCT user_key) AS reach FROM impressions GROUP BY channel
)
SELECT b.channel, b.reach, t.target, b.reach * 1.0 / t.target AS share_of_target
FROM by_channel b
JOIN (VALUES ('search', 500), ('social', 400), ('display', 600), ('video', 450), ('email', 300))
  AS t(channel, target) ON b.channel = t.channel;

-- name: structure_values_alone
SELECT * FROM (VALUES ('search', 0.4), ('social', 0.6)) AS w(channel, weight);

-- name: structure_full_outer_join_using_overlap
-- (Snowflake DCR overlap templates: FULL OUTER JOIN ... USING the join key, then count each side;
-- the bare user_key is COALESCE of both sides)
SELECT COUNT(DISTINCT user_key) AS people,
       COUNT(DISTINCT i.user_key) AS exposed,
       COUNT(DISTINCT c.user_key) AS converters
FROM (SELECT DISTINCT user_key FROM impressions WHERE channel = 'search') i
FULL OUTER JOIN (SELECT DISTINCT user_key FROM conversions) c USING (user_key);

-- name: structure_full_join_using_per_user
WITH touches AS (SELECT user_key, COUNT(*) AS n FROM impressions WHERE channel = 'email' GROUP BY user_key),
     spend AS (SELECT user_key, SUM(revenue) AS r FROM conversions GROUP BY user_key)
SELECT COUNT(*) AS people, COUNT(n) AS exposed, SUM(n) AS touches, SUM(r) AS revenue
FROM touches FULL JOIN spend USING (user_key);

-- name: structure_full_join_using_merged_dimension
-- partial: 1
-- (the email group has no one behind COUNT(a.user_key): that cell is withheld, the row kept)
-- (the bare USING column is the COALESCE of the sides, also when grouped on)
SELECT channel, COUNT(DISTINCT user_key) AS people, COUNT(a.user_key) AS from_a
FROM (SELECT user_key, channel FROM impressions WHERE channel IN ('search', 'social')) a
FULL JOIN (SELECT user_key, channel FROM impressions WHERE channel IN ('social', 'email')) b
  USING (user_key, channel)
GROUP BY channel;

-- name: structure_right_join_using_per_user_star
WITH joined AS (
  SELECT * FROM (SELECT user_key, channel FROM impressions) i
  RIGHT JOIN (SELECT user_key, revenue FROM conversions) c USING (user_key)
),
per_user AS (SELECT user_key, COUNT(channel) AS touches, MIN(revenue) AS revenue
             FROM joined GROUP BY user_key)
SELECT COUNT(*) AS converters, SUM(touches) AS touches, SUM(revenue) AS revenue FROM per_user;

-- name: structure_correlated_not_in_converted_before
-- (AMC new-to-brand style: exposures of people who had not converted before the exposure)
SELECT COUNT(DISTINCT i.user_key) AS exposed_before_converting, COUNT(*) AS impressions
FROM impressions i
WHERE i.user_key NOT IN (SELECT user_key FROM conversions c WHERE c.ts < i.ts);

-- name: structure_correlated_in_by_channel
-- suppressed: 1
SELECT i.channel, COUNT(DISTINCT i.user_key) AS converted_within_week
FROM impressions i
WHERE i.user_key IN (
  SELECT c.user_key FROM conversions c
  WHERE c.ts >= i.ts AND c.ts < i.ts + INTERVAL 7 DAY
)
GROUP BY i.channel;

-- name: structure_correlated_in_per_user_list
-- (the list may be per person: people with two conversions after the exposure)
SELECT COUNT(*) AS impressions
FROM impressions i
WHERE i.user_key IN (
  SELECT user_key FROM conversions c WHERE c.ts > i.ts GROUP BY user_key HAVING COUNT(*) >= 1
);

-- name: structure_correlated_in_filter_aggregate
SELECT COUNT(*) FILTER (WHERE i.user_key IN (SELECT c.user_key FROM conversions c WHERE c.ts > i.ts))
         AS followed_by_conversion,
       COUNT(*) AS impressions
FROM impressions i;

-- name: structure_values_join_using
-- (a lookup joined USING the dimension: the bare name is the people's column)
SELECT g.channel_group, channel, COUNT(*) AS impressions
FROM impressions
LEFT JOIN (VALUES ('search', 'paid'), ('social', 'paid'), ('email', 'owned')) g(channel, channel_group)
  USING (channel)
WHERE channel <> 'CANARYCHAN7'
GROUP BY g.channel_group, channel;

-- name: structure_cross_join_where_user_key
-- suppressed: 1
-- (CROSS JOIN with the user_key equality in WHERE is the comma join spelled out)
SELECT i.channel, COUNT(DISTINCT c.user_key) AS converters
FROM impressions i CROSS JOIN conversions c
WHERE c.user_key = i.user_key AND c.ts > i.ts
GROUP BY i.channel;

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
-- partial: 5
-- (each clamp bound is a part: the few people past the 720-hour cap withhold the average; a
-- clamp counted as one part let a narrow window isolate one person's value, see
-- tests/gate/test_review_attacks.py)
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
-- partial: 4
-- (a cap is a part of its own: where few people pass the cap or the floor, that cell is withheld)
SELECT i.channel, SUM(NULLIF(i.cost, 0)) AS cost, SUM(abs(i.cost)) AS abs_cost,
       SUM(LEAST(c.revenue, 500)) AS capped_revenue, AVG(GREATEST(i.cost, 1)) AS floored_cost
FROM impressions i JOIN conversions c ON i.user_key = c.user_key
GROUP BY i.channel;

-- name: running_reach_by_first_week
-- suppressed: 1
-- ordered
-- (a reach curve: people by the week they were first seen, counted cumulatively; the last
-- week's 8 new people are withheld, and the weeks before stand on their own new people)
WITH firstseen AS (
  SELECT user_key, MIN(date_trunc('week', ts)) AS first_week FROM impressions GROUP BY 1
)
SELECT DISTINCT first_week, COUNT(user_key) OVER (ORDER BY first_week) AS cumulative_reach
FROM firstseen
ORDER BY 1;

-- name: running_impressions_by_week_and_channel
-- suppressed: 5
-- ordered
SELECT DISTINCT channel, date_trunc('week', ts) AS week,
       COUNT(*) OVER (PARTITION BY channel ORDER BY date_trunc('week', ts)) AS cumulative_impressions
FROM impressions
ORDER BY 1, 2;

-- name: inner_running_reach_beside_plain_reach
-- dropped: 1
-- partial: 5
-- ordered
-- (a running count in a CTE joined to the same keys' plain reach: the small canary channel
-- sorts first, so every later running count also counts it and is withheld (a join would
-- difference it out); the plain reach and the keys stand)
WITH r AS (SELECT DISTINCT channel, COUNT(user_key) OVER (ORDER BY channel) AS running
           FROM impressions),
p AS (SELECT channel, COUNT(DISTINCT user_key) AS reach FROM impressions GROUP BY 1)
SELECT p.channel, r.running, p.reach FROM r JOIN p ON r.channel = p.channel
ORDER BY 1;

-- name: inner_running_reach_before_the_small_group
-- dropped: 1
-- ordered
-- (the same, ordered so that the small channel comes last: no earlier group is withheld, so
-- every running count is released as raw DuckDB has it)
WITH r AS (SELECT DISTINCT channel, COUNT(user_key) OVER (ORDER BY channel DESC) AS running
           FROM impressions)
SELECT channel, running FROM r ORDER BY 1 DESC;

-- name: people_joined_to_an_aggregation_that_drops_nothing
-- (an inner join to an aggregation on its GROUP BY key: it drops no group with a key, so its
-- rows meet the same people's rows as on raw DuckDB and nothing is withheld)
SELECT i.channel, a.people AS channel_people, COUNT(*) AS impressions
FROM impressions i
JOIN (SELECT channel, COUNT(DISTINCT user_key) AS people FROM impressions
      WHERE channel <> 'CANARYCHAN7' GROUP BY 1) a ON i.channel = a.channel
GROUP BY 1, 2;

-- name: converters_beside_channel_reach
-- suppressed: 1
-- (people's rows LEFT JOIN an aggregation on its GROUP BY key: one reach per channel. The
-- reach CTE drops the small canary channel; joined on every group key, each row meets the one
-- reach row raw DuckDB joins or none, so only a row that found none takes the drop's taint
-- (taint.TaintMap.rowwise): the canary channel's group, withheld anyway)
WITH reach AS (
  SELECT channel, COUNT(DISTINCT user_key) AS reach FROM impressions GROUP BY 1
)
SELECT i.channel, r.reach, COUNT(DISTINCT i.user_key) AS converters
FROM impressions i
JOIN conversions c ON c.user_key = i.user_key
LEFT JOIN reach r ON r.channel = i.channel
GROUP BY 1, 2;

-- name: channel_share_of_one_row_total
-- suppressed: 1
-- (a one-row aggregation joined on a constant label, as AMC's known/unknown customer template)
WITH total AS (
  SELECT 'all' AS scope, COUNT(DISTINCT user_key) AS people FROM impressions
)
SELECT i.channel, t.people, COUNT(DISTINCT i.user_key) * 1.0 / t.people AS share
FROM impressions i
JOIN total t ON t.scope = 'all'
GROUP BY 1, 2;
-- name: time_to_first_purchase_by_channel
-- suppressed: 1
-- a per-person MIN of IF(condition, ts, NULL) is still that person's timestamp: its
-- duration from another timestamp may be averaged (GA4 conversion-timing SQL)
WITH u AS (
  SELECT i.user_key, i.channel, MIN(i.ts) AS first_seen,
         MIN(IF(c.revenue > 0, c.ts, NULL)) AS first_purchase
  FROM impressions i LEFT JOIN conversions c ON c.user_key = i.user_key
  GROUP BY i.user_key, i.channel
)
SELECT channel, COUNT(DISTINCT user_key) AS buyers,
       AVG(date_diff('minute', first_seen, first_purchase)) AS avg_minutes
FROM u
WHERE first_purchase IS NOT NULL
GROUP BY channel;

-- name: quantiles_of_rounded_cost_by_channel
-- suppressed: 1
-- a median or quantile is released when at least k people hold the value it returns: rounded
-- costs tie, so every main channel's quantiles stand (AMC's PERCENTILE / MEDIAN templates)
SELECT channel, COUNT(DISTINCT user_key) AS reach,
       median(round(cost)) AS median_cost,
       quantile_disc(floor(cost), 0.9) AS p90_cost,
       quantile_cont(round(cost), 0.25) AS p25_cost
FROM impressions
GROUP BY channel;

-- name: median_of_exact_cost_is_withheld
-- suppressed: 1
-- partial: 5
-- an exact cost's median is one or two impressions' values: each such cell is withheld (null),
-- the reach beside it stands
SELECT channel, COUNT(DISTINCT user_key) AS reach, median(cost) AS median_cost
FROM impressions
GROUP BY channel;

-- name: median_in_a_cte_then_compared
-- a median across people computed in a CTE is released into the next SELECT when it stands
WITH m AS (
  SELECT channel, median(round(cost)) AS median_cost, COUNT(DISTINCT user_key) AS reach
  FROM impressions WHERE channel <> 'CANARYCHAN7' GROUP BY channel
)
SELECT median_cost, SUM(reach) AS reach FROM m GROUP BY median_cost;

-- name: sessions_by_channel
-- suppressed: 1
-- a person's session key CONCAT(user_key, '-', day) inside COUNT(DISTINCT ...) counts sessions
-- (GA4's CONCAT(user_pseudo_id, session_id)); the threshold still counts people
SELECT channel, COUNT(DISTINCT concat(user_key, '-', CAST(ts AS DATE))) AS sessions,
       COUNT(DISTINCT user_key) AS people
FROM impressions
GROUP BY channel;

-- name: converting_sessions_share
-- suppressed: 1
-- partial: 0
SELECT i.channel,
       COUNT(DISTINCT IF(c.user_key IS NOT NULL, concat_ws('-', i.user_key, CAST(i.ts AS DATE)), NULL))
         / COUNT(DISTINCT concat_ws('-', i.user_key, CAST(i.ts AS DATE))) AS converting_share,
       COUNT(DISTINCT i.user_key || '-' || CAST(i.ts AS DATE)) AS sessions
FROM impressions i LEFT JOIN conversions c ON c.user_key = i.user_key
GROUP BY i.channel;

-- name: unused_weighted_revenue_column
-- suppressed: 1
-- a CTE column that no later sum could take (revenue times weights of several scales) may
-- stay in the CTE unused (the dbt attribution playbook's attribution_touches model)
WITH t AS (
  SELECT i.user_key, i.channel, c.revenue,
         COUNT(*) OVER (PARTITION BY i.user_key) AS touches,
         c.revenue * CASE WHEN i.cost > 4 THEN 0.4 ELSE 0.2 END AS weighted_revenue
  FROM impressions i JOIN conversions c ON c.user_key = i.user_key
)
SELECT channel, COUNT(DISTINCT user_key) AS buyers, SUM(revenue * (1.0 / touches)) AS linear_revenue
FROM t
GROUP BY channel;

-- name: position_weighted_revenue_from_a_cte
-- suppressed: 1
-- revenue times a 40/20/40-style weight, computed in a CTE beside the columns it reads (the dbt
-- playbook's forty_twenty_forty_revenue): a later SUM counts its parts from its definition
-- (each of the three weights stands on at least 50 buyers of each main channel)
WITH t AS (
  SELECT i.user_key, i.channel, c.revenue,
         COUNT(*) OVER (PARTITION BY i.user_key) AS touches,
         ROW_NUMBER() OVER (PARTITION BY i.user_key ORDER BY i.ts) AS pos
  FROM impressions i JOIN conversions c ON c.user_key = i.user_key
),
w AS (
  SELECT *, revenue * CASE WHEN touches <= 3 THEN 1.0 / touches
                           WHEN pos = 1 OR pos = touches THEN 0.4
                           ELSE 0.2 / (touches - 2) END AS weighted_revenue
  FROM t
)
SELECT channel, COUNT(DISTINCT user_key) AS buyers, SUM(weighted_revenue) AS revenue
FROM w
GROUP BY channel;

-- name: position_weighted_revenue_with_a_small_part
-- suppressed: 1
-- partial: 5
-- the same with the playbook's own weights: buyers with one touch are fewer than 50 in every
-- channel, so that part withholds each channel's revenue (the buyer counts stand)
WITH t AS (
  SELECT i.user_key, i.channel, c.revenue,
         COUNT(*) OVER (PARTITION BY i.user_key) AS touches,
         ROW_NUMBER() OVER (PARTITION BY i.user_key ORDER BY i.ts) AS pos
  FROM impressions i JOIN conversions c ON c.user_key = i.user_key
),
w AS (
  SELECT *, revenue * CASE WHEN touches = 1 THEN 1.0 WHEN touches = 2 THEN 0.5
                           WHEN pos = 1 OR pos = touches THEN 0.4
                           ELSE 0.2 / (touches - 2) END AS weighted_revenue
  FROM t
)
SELECT channel, COUNT(DISTINCT user_key) AS buyers, SUM(weighted_revenue) AS revenue
FROM w
GROUP BY channel;

-- name: filtered_quantile_ordered_by_it
-- suppressed: 1
-- a quantile with FILTER counts its holders among the rows it reads; ORDER BY a quantile that
-- stands keeps the row
SELECT channel, COUNT(DISTINCT user_key) AS reach,
       quantile_disc(round(cost), 0.5) FILTER (WHERE campaign LIKE '%-c1') AS median_flight_1
FROM impressions
GROUP BY channel
ORDER BY median_flight_1, channel;

-- name: union_channel_rows_beside_a_total
-- suppressed: 1
-- partial: 1
-- a report of each channel beside the total: the 7-person channel is withheld, and the total
-- minus every other channel would be its number, so the smallest released channel's cells are
-- withheld too (gate/overlap.py); the total and the other channels are exact
SELECT channel, COUNT(*) AS impressions, SUM(cost) AS spend FROM impressions GROUP BY channel
UNION ALL
SELECT 'total', COUNT(*), SUM(cost) FROM impressions;

-- name: union_grouped_branches_of_one_table
-- AMC's union template (cross-selling, exploratory): one table split by a condition into two
-- grouped branches; no data row falls in two cells, so nothing is withheld across rows
SELECT 'display' AS kind, channel, SUM(cost) AS spend, COUNT(DISTINCT user_key) AS reach
FROM impressions WHERE channel = 'display' GROUP BY channel
UNION ALL
SELECT 'other', channel, SUM(cost), COUNT(DISTINCT user_key)
FROM impressions WHERE channel IN ('search', 'email') GROUP BY channel;

-- name: union_of_cte_counts_passed_on
-- two CTE aggregations passed on by the branches of a final UNION ALL (their people, far
-- apart, are compared as branch rows are)
WITH seen AS (SELECT COUNT(DISTINCT user_key) AS people FROM impressions),
bought AS (SELECT COUNT(DISTINCT user_key) AS people FROM conversions)
SELECT 'seen' AS stage, people FROM seen
UNION ALL
SELECT 'bought', people FROM bought;

-- name: union_labelled_rows_then_grouped
-- a GROUP BY over a UNION ALL input of one table's rows under two labels (looked through to
-- the table's rows: each row falls in one group)
SELECT kind, COUNT(*) AS impressions, COUNT(DISTINCT user_key) AS reach
FROM (
    SELECT 'paid' AS kind, user_key FROM impressions WHERE channel IN ('search', 'display')
    UNION ALL
    SELECT 'owned', user_key FROM impressions WHERE channel IN ('email', 'social')
) AS u
GROUP BY kind;

-- name: struct_touch_by_channel
-- suppressed: 1
-- AMC's NAMED_ROW('channel', channel) as a DuckDB struct: a group key like the channel itself
SELECT {'channel': channel} AS touch, COUNT(DISTINCT user_key) AS reach
FROM impressions
GROUP BY 1;

-- name: struct_path_of_ordered_channels
-- suppressed: 1
-- AMC's path to conversion: each person's sorted list of (order, channel) structs, one path a
-- person; here only the first touch (order 1), so the paths are the channels
WITH ranked AS (
  SELECT user_key,
         {'order': ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY ts, channel), 'channel': channel} AS step
  FROM impressions
),
assembled AS (
  SELECT user_key, list_sort(list(DISTINCT step) FILTER (WHERE step['order'] = 1)) AS path
  FROM ranked
  GROUP BY user_key
)
SELECT path, COUNT(DISTINCT user_key) AS people
FROM assembled
GROUP BY path;

-- name: cardinality_of_a_constant_campaign_list
-- suppressed: 1
-- AMC's ARRAY_CONTAINS(param, x) OR CARDINALITY(param) = 0 with the parameter substituted
SELECT channel, COUNT(DISTINCT user_key) AS reach
FROM impressions
WHERE list_contains(['search', 'social', 'CANARYCHAN7'], channel) OR cardinality(['search']) = 0
GROUP BY channel;

-- name: weight_defined_in_a_cte_passed_on_by_another
-- suppressed: 1
-- The dbt playbook's weighted revenue, defined beside the columns it reads, then passed on as it
-- is (with them) by a second CTE: the final SUM counts the parts of its definition there too
WITH weighted AS (
  SELECT user_key, channel, cost,
         cost * CASE WHEN channel = 'search' THEN 0.4 ELSE 0.2 END AS weighted_cost
  FROM impressions
),
passed AS (
  SELECT w.user_key, w.channel, w.cost, w.weighted_cost FROM weighted w
)
SELECT channel, SUM(weighted_cost) AS weighted_cost
FROM passed
GROUP BY channel;

-- name: union_of_value_lists
-- dropped: 1
-- AMC's sandbox guide lists values with SELECT col ... GROUP BY 1 UNION SELECT ...: read as a
-- DISTINCT over their UNION ALL, each branch thresholded (the 7-person channel stands in none)
SELECT channel FROM impressions GROUP BY 1
UNION
SELECT channel FROM impressions WHERE cost > 50 GROUP BY 1
UNION
SELECT DISTINCT channel FROM impressions WHERE channel <> 'email'
ORDER BY channel;

-- name: union_of_per_person_lists_counted
-- the people in either dataset: a UNION of per-person lists, counted
SELECT COUNT(*) AS people
FROM (SELECT user_key FROM impressions GROUP BY 1
      UNION
      SELECT user_key FROM conversions GROUP BY 1) AS u;
